//! Importers proven on the real data in ../shared/data (read in place; skipped with a
//! message when absent). Expected figures are computed here, independently, from the
//! raw files.
mod common;

use routesim::dataset::{LoadOptions, load};
use routesim::policy::Baseline;
use routesim::policy::baselines::{self, baselines};
use routesim::pricing::ModelPrice;
use routesim::sim::{SimOptions, run};
use std::collections::BTreeMap;

fn zero_prices(n: usize) -> Vec<ModelPrice> {
    (0..n)
        .map(|_| ModelPrice::per_mtok(0.0, 0.0, "test"))
        .collect()
}

fn always_quality(ds: &routesim::dataset::Dataset, model: &str) -> (f64, usize) {
    let policies = baselines(&ds.models);
    let trace = run(
        ds,
        &zero_prices(ds.n_models()),
        &policies,
        &SimOptions::default(),
    )
    .unwrap_or_else(|_| panic!("run"));
    let p = trace
        .policy_index(&baselines::name(&Baseline::Single(model.to_string())))
        .unwrap();
    let q: Vec<f64> = trace
        .policy_rows(p)
        .iter()
        .filter(|r| !r.quality.is_nan())
        .map(|r| r.quality)
        .collect();
    (q.iter().sum::<f64>() / q.len() as f64, q.len())
}

#[test]
fn arena_bench_v1_imports_300_requests_17_models_15_with_quality() {
    let Some(dir) = common::shared_data("arena-bench-v1") else {
        return;
    };
    let ds = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(ds.n_requests(), 300);
    assert_eq!(ds.n_models(), 17);
    let with_quality = (0..ds.n_models())
        .filter(|&m| (0..ds.n_requests()).any(|r| !ds.cell(r, m as u16).quality.is_nan()))
        .count();
    assert_eq!(with_quality, 15);

    // Independent computation from the raw judgment file: parseable scores / 10.
    let text = std::fs::read_to_string(dir.join("model_judgment/gpt-4-0314.jsonl")).unwrap();
    let mut scores = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(s) = v["score"].as_f64()
            && s != -1.0
        {
            scores.push(s / 10.0);
        }
    }
    let expected = scores.iter().sum::<f64>() / scores.len() as f64;
    let (got, n) = always_quality(&ds, "gpt-4-0314");
    assert_eq!(
        n,
        scores.len(),
        "unparseable verdicts are missing labels, not zeros"
    );
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    // Tokens are estimated and latency modelled: both are said.
    assert!(
        ds.info.warnings.iter().any(|w| w.contains("estimated")),
        "{:?}",
        ds.info.warnings
    );
    assert!(
        ds.info.warnings.iter().any(|w| w.contains("modelled")),
        "{:?}",
        ds.info.warnings
    );
}

fn column_means(files: &[std::path::PathBuf]) -> BTreeMap<String, (f64, usize)> {
    let mut acc: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for f in files {
        let mut rdr = csv::Reader::from_path(f).unwrap();
        let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        for rec in rdr.records() {
            let rec = rec.unwrap();
            for (i, h) in header.iter().enumerate() {
                if h == "prompt" || h.ends_with("_response") {
                    continue;
                }
                let v = match rec.get(i).unwrap() {
                    "True" => 1.0,
                    "False" => 0.0,
                    other => panic!("unexpected value {other}"),
                };
                let e = acc.entry(h.clone()).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    acc.into_iter()
        .map(|(k, (s, n))| (k, (s / n as f64, n)))
        .collect()
}

#[test]
fn routellm_gsm8k_always_strong_and_weak_equal_column_means() {
    let Some(path) = common::shared_data("routellm/gsm8k_responses.csv") else {
        return;
    };
    let ds = load(&path, &LoadOptions::default()).unwrap();
    assert_eq!(ds.n_requests(), 1319);
    for (model, (mean, n)) in column_means(std::slice::from_ref(&path)) {
        let (got, got_n) = always_quality(&ds, &model);
        assert_eq!(got_n, n);
        assert!((got - mean).abs() < 1e-12, "{model}: {got} vs {mean}");
    }
}

#[test]
fn routellm_mmlu_always_strong_and_weak_equal_column_means() {
    let Some(dir) = common::shared_data("routellm/mmlu") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let ds = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(ds.n_requests(), 14_042);
    assert_eq!(ds.n_models(), 2);
    assert!(
        ds.requests.meta_index("file").is_some(),
        "each row keeps its subject file"
    );
    for (model, (mean, n)) in column_means(&files) {
        let (got, got_n) = always_quality(&ds, &model);
        assert_eq!(got_n, n);
        assert!((got - mean).abs() < 1e-12, "{model}: {got} vs {mean}");
    }
}

/// `YYYY-MM-DD hh:mm:ss.fffffff` → ms since midnight of that day (the Azure trace
/// covers one day), rounded to whole ms: parsed here by hand, independently.
fn azure_ms(s: &str) -> i64 {
    let (date, time) = s.split_once(' ').unwrap();
    assert_eq!(date, "2023-11-16", "the trace covers one day");
    let mut it = time.split(':');
    let h: f64 = it.next().unwrap().parse().unwrap();
    let m: f64 = it.next().unwrap().parse().unwrap();
    let sec: f64 = it.next().unwrap().parse().unwrap();
    ((h * 3600.0 + m * 60.0) * 1000.0 + (sec * 1000.0).round()) as i64
}

#[test]
fn azure_trace_drives_arrivals_and_rate_limits() {
    let Some(dir) = common::shared_data("azure-llm-trace-2023") else {
        return;
    };
    let file = dir.join("AzureLLMInferenceTrace_code.csv");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/example");
    let ds = load(&example, &LoadOptions::default()).unwrap();
    let n = ds.n_requests();

    // Independent arrival offsets: the first n timestamps of the file, sorted.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut ts: Vec<i64> = text
        .lines()
        .skip(1)
        .map(|l| azure_ms(l.split(',').next().unwrap()))
        .collect();
    ts.sort_unstable();
    assert!(
        ts.len() > n,
        "the code trace has more rows than the example"
    );
    let expect: Vec<f64> = ts[..n].iter().map(|&t| (t - ts[0]) as f64).collect();

    // A policy whose first choice allows 20 requests per minute, then falls back.
    let rpm = 20usize;
    let policy = routesim::policy::parse::parse(
        "rpm.toml",
        &format!(
            "[models]\na = {{ model = \"openai/gpt-4o\", rpm = {rpm} }}\n\
             [default]\nroute.fallback = [\"a\", \"openai/gpt-4o-mini\"]\n"
        ),
        "rpm",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let opts = SimOptions {
        arrival: routesim::sim::Arrival::parse(&format!("trace:{}", file.display())).unwrap(),
        ..SimOptions::default()
    };
    let trace =
        run(&ds, &zero_prices(ds.n_models()), &[policy], &opts).unwrap_or_else(|_| panic!("run"));
    let rows = trace.policy_rows(0);
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(trace.arrival(0, i), *e, "arrival of request {i}");
    }
    // Local 429s: in each minute window from the first arrival, arrivals beyond the
    // 20th are refused by the gateway (no cooldown, no retries configured).
    let mut per_minute: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &expect {
        *per_minute
            .entry((*t / 60_000.0).floor() as i64)
            .or_default() += 1;
    }
    let expect_429: usize = per_minute.values().map(|&k| k.saturating_sub(rpm)).sum();
    let got_429 = rows
        .iter()
        .filter(|r| r.flags & routesim::sim::trace::flags::LOCAL_429 != 0)
        .count();
    assert!(
        expect_429 > 0,
        "the trace is bursty enough to hit the limit"
    );
    assert_eq!(got_429, expect_429);
}

/// FastChat's layout as FastChat reads it (`tests/fixtures/fastchat`): models named by
/// their answer file, several judged turns per answer, a router's answer file.
#[test]
fn fastchat_models_are_file_stems_and_turns_are_averaged() {
    use routesim::analysis::{RunTable, SummaryOptions, summarize};
    let ds = load(&common::fixture("fastchat"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.models, vec!["model-a", "model-b", "router"]);
    // The router's model_id per answer is kept as the model that answered.
    assert_eq!(ds.served_models, vec!["model-b@host", "model-a@host"]);
    // Judgments (scores / 10):  model-a q101 (8, 6) q102 (9, −1) q103 (4, 7);
    //                           model-b q101 (7, 7) q102 (5, 9)  q103 (6, 3).
    // Each answer gets the mean of its parseable turns; the −1 is left out.
    let q = |m: u16, r: usize| ds.cell(r, m).quality;
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(q(0, 0), 0.70) && close(q(0, 1), 0.90) && close(q(0, 2), 0.55));
    assert!(close(q(1, 0), 0.70) && close(q(1, 1), 0.70) && close(q(1, 2), 0.45));
    // Integer question ids still pick up the reference answer.
    assert_eq!(ds.requests.reference.as_ref().unwrap().get(0), "4\n12");
    let trace = run(
        &ds,
        &zero_prices(ds.n_models()),
        &baselines(&ds.models),
        &SimOptions::default(),
    )
    .unwrap_or_else(|_| panic!("run"));
    let s = summarize(
        &RunTable::of_run(&trace, &ds),
        &SummaryOptions {
            bootstrap: 0,
            seed: 1,
        },
    );
    let get = |p: &str| s.iter().find(|x| x.policy == p).unwrap();
    // FastChat's show_result drops the −1 and pools the rest: model-b, with every turn
    // judged, is (7+7+5+9+6+3) / 6 = 6.1667 there and 0.61667 here — the same figure.
    assert!(close(get("always:model-b").quality_mean, 37.0 / 60.0));
    // model-a: FastChat pools 5 verdicts, 34 / 5 = 6.8 (turn 1: 7.0, turn 2: 6.5); here
    // every question counts once, q102 with its one parseable turn: (7 + 9 + 5.5) / 3
    // = 7.1667 → 0.71667. The run says so.
    assert!(close(get("always:model-a").quality_mean, 21.5 / 30.0));
    assert!(
        ds.info
            .warnings
            .iter()
            .any(|w| w.contains("1 of them also have an unparseable one")),
        "{:?}",
        ds.info.warnings
    );
    // The router's answers: its model mix is the models it routed to (2 of 3 to b).
    let router = get("always:router");
    assert_eq!(
        router.model_mix,
        vec![
            ("model-b@host".to_string(), 2.0 / 3.0),
            ("model-a@host".to_string(), 1.0 / 3.0)
        ]
    );
    // Router: (7+8)/2, (9+9)/2, (6+4)/2 → (7.5 + 9 + 5) / 3 = 7.1667 → 0.71667.
    assert!(close(router.quality_mean, 21.5 / 30.0));
}

/// The README's FastChat quick path (arena-bench-v1, 17 models of 2023): without a
/// price file the run stops naming the 3 models sold at several prices and the 7 no
/// catalog knows; with `--unpriced` it runs, and exactly the 7 models the catalog
/// prices have a cost (the others unknown, never $0).
#[test]
fn arena_bench_quick_path_names_the_ambiguous_and_unknown_models_then_runs_unpriced() {
    let Some(dir) = common::shared_data("arena-bench-v1") else {
        return;
    };
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_routesim"))
            .args(["run", "-d", dir.to_str().unwrap(), "--no-report"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["-q"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for m in [
        "Llama-2-70b-chat",
        "Mistral-7B-Instruct-v0.1",
        "Mixtral-8x7B-Instruct-v0.1",
    ] {
        assert!(
            err.contains(&format!("pricing: \"{m}\" matches ")),
            "{m}: {err}"
        );
    }
    assert!(
        err.contains("no price for models \"Starling-LM-7B-alpha\", \"claude-1\", \"claude-instant-1\", \"llama-13b\", \"openchat_3.5\", \"palm-2-chat-bison-001\", \"vicuna-33b-v1.3\""),
        "{err}"
    );
    let o = run(&["--unpriced", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut priced: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["cost_total_usd"].as_f64().is_some_and(|c| c > 0.0))
        .filter_map(|p| p["policy"].as_str()?.strip_prefix("always:"))
        .collect();
    priced.sort();
    assert_eq!(
        priced,
        [
            "claude-2.1",
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-1106",
            "gpt-4-0314",
            "gpt-4-1106-preview",
            "vicuna-13b-v1.5",
            "vicuna-7b-v1.5"
        ]
    );
    let unknown = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["policy"].as_str().unwrap().starts_with("always:") && p["cost_total_usd"].is_null()
        })
        .count();
    assert_eq!(unknown, 10, "the other ten: unknown, not $0");
}
