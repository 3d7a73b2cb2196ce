//! Parameter sweeps end to end: `run --sweep` and `[[sweep]]` tables give one policy
//! per value, named `policy[path=value]`, whose figures equal an independent
//! computation from the dataset files; bad paths and values are input errors that
//! name what is wrong.
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn routesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .output()
        .unwrap()
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// The example dataset read without routesim: each request's prompt, and each
/// (request, model) first sample's cost at the example prices and its quality (0 for
/// a failure), straight from requests.jsonl, responses.csv and pricing.toml.
struct Example {
    inputs: Vec<(String, String)>,
    cells: HashMap<(String, String), (f64, f64)>,
}

fn example() -> Example {
    let dir = root().join("datasets/example");
    let inputs = std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["input"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let prices: toml::Table = std::fs::read_to_string(dir.join("pricing.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let price = |model: &str, key: &str| -> f64 {
        let m = &prices["models"][model];
        let v = m
            .get(key)
            .or_else(|| m.get("input_per_mtok"))
            .unwrap_or_else(|| panic!("{model} {key}"));
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .unwrap()
            / 1e6
    };
    let mut cells = HashMap::new();
    for row in read_csv(&dir.join("responses.csv")) {
        if row["sample"] != "0" {
            continue;
        }
        let model = row["model"].clone();
        let ok = row["status"] == "ok";
        let tok = |c: &str| row[c].parse::<f64>().unwrap_or(0.0);
        // A failed call costs what the dataset records for it: nothing here (no
        // cost_usd column). An answer: uncached prompt, cached prompt and completion
        // tokens at their prices (no reasoning price in this pricing file).
        let cost = if ok {
            (tok("input_tokens") - tok("cached_tokens")) * price(&model, "input_per_mtok")
                + tok("cached_tokens") * price(&model, "cached_input_per_mtok")
                + tok("output_tokens") * price(&model, "output_per_mtok")
        } else {
            0.0
        };
        let quality = if ok { tok("quality") } else { 0.0 };
        cells.insert((row["request_id"].clone(), model), (cost, quality));
    }
    Example { inputs, cells }
}

/// A dataset folder in `d`: `n` requests, each answered ok by every model with 1,000
/// prompt tokens and no completion, the model's quality, and its price ($ per million
/// tokens, input and output alike): (name, price, quality).
fn write_models(d: &Path, name: &str, n: usize, models: &[(&str, f64, f64)]) {
    let mut req = String::from("id,input\n");
    let mut resp = String::from("request_id,model,status,input_tokens,output_tokens,quality\n");
    for i in 0..n {
        req.push_str(&format!("q{i:03},prompt {i}\n"));
        for (m, _, q) in models {
            resp.push_str(&format!("q{i:03},{m},ok,1000,0,{q}\n"));
        }
    }
    let prices: String = models
        .iter()
        .map(|(m, p, _)| format!("[models.{m}]\ninput_per_mtok = {p}\noutput_per_mtok = {p}\n"))
        .collect();
    std::fs::write(d.join("requests.csv"), req).unwrap();
    std::fs::write(d.join("responses.csv"), resp).unwrap();
    std::fs::write(d.join("pricing.toml"), prices).unwrap();
    std::fs::write(
        d.join("dataset.toml"),
        format!("name = \"{name}\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n"),
    )
    .unwrap();
}

/// Acceptance (issue 15): a sweep of the shipped cost-by-complexity length threshold
/// gives one row per value, in sweep order, each with the figures the policy has at
/// that threshold — computed here from the files: a prompt shorter than `lt`
/// characters is simple (gemini-1.5-flash), else one that says "explain" or "analyze"
/// is complex (claude-3.5-sonnet), else gpt-4o-mini.
///
/// Raising the threshold moves prompts from the medium level (gpt-4o-mini) and the
/// complex one (claude-3.5-sonnet) to the simple one (gemini-1.5-flash, the cheapest:
/// 0.075/0.30 $ per million tokens against 0.15/0.60 and 3/15), so the cost curve
/// falls at every step until every prompt is simple (the longest prompt has 116
/// characters: from 120 on the rows are equal), and the routing is monotone too.
#[test]
fn cost_by_complexity_threshold_sweep_gives_one_row_per_value_with_its_figures() {
    let out = tempfile::tempdir().unwrap();
    let o = routesim(&[
        "run",
        "-d",
        root().join("datasets/example").to_str().unwrap(),
        "-p",
        root()
            .join("policies/cost-by-complexity.toml")
            .to_str()
            .unwrap(),
        "--sweep",
        "cost-by-complexity:classifier.level.simple.when.input_chars.lt=20:200:20",
        "--no-baselines",
        "-q",
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_csv(&out.path().join("summary.csv"));
    let values: Vec<u32> = (1..=10).map(|k| 20 * k).collect();
    assert_eq!(rows.len(), values.len(), "one row per value");
    let ex = example();
    let mut costs = Vec::new();
    let mut flash_share = Vec::new();
    let mut sonnet_share = Vec::new();
    for (row, lt) in rows.iter().zip(&values) {
        assert_eq!(
            row["policy"],
            format!("cost-by-complexity[classifier.level.simple.when.input_chars.lt={lt}]")
        );
        // Independent routing and figures.
        let (mut simple, mut complex, mut cost, mut quality) = (0u64, 0u64, 0.0f64, 0.0f64);
        for (id, input) in &ex.inputs {
            let lower = input.to_lowercase();
            let model = if (input.chars().count() as u32) < *lt {
                simple += 1;
                "google/gemini-1.5-flash"
            } else if lower.contains("explain") || lower.contains("analyze") {
                complex += 1;
                "anthropic/claude-3.5-sonnet"
            } else {
                "openai/gpt-4o-mini"
            };
            let (c, q) = ex.cells[&(id.clone(), model.to_string())];
            cost += c;
            quality += q;
        }
        let n = ex.inputs.len() as u64;
        assert_eq!(
            row["rule_hits"],
            format!(
                "simple:{simple};complex:{complex};default:{}",
                n - simple - complex
            )
        );
        // CSV figures are rounded to 6 decimals (cost) and 4 (quality).
        assert!(
            (num(row, "cost_total_usd") - cost).abs() < 1e-6,
            "lt={lt}: {} vs {cost}",
            row["cost_total_usd"]
        );
        assert!((num(row, "quality_mean") - quality / n as f64).abs() < 1e-4);
        costs.push(cost);
        flash_share.push(simple as f64 / n as f64);
        sonnet_share.push(complex as f64 / n as f64);
    }
    assert!(flash_share.windows(2).all(|w| w[1] >= w[0]));
    assert!(sonnet_share.windows(2).all(|w| w[1] <= w[0]));
    // A monotone cost curve: down at every step until every prompt is simple, then flat.
    let steps: Vec<std::cmp::Ordering> = costs
        .windows(2)
        .map(|w| {
            if (w[1] - w[0]).abs() < 1e-12 {
                std::cmp::Ordering::Equal
            } else {
                w[1].total_cmp(&w[0])
            }
        })
        .collect();
    use std::cmp::Ordering::{Equal, Less};
    assert_eq!(
        steps,
        [Less, Less, Less, Less, Less, Equal, Equal, Equal, Equal],
        "{costs:?}"
    );
    // The chart draws the sweep as one curve (its label once, in the SVG).
    let svg = std::fs::read_to_string(out.path().join("charts/cost_quality.svg")).unwrap();
    assert_eq!(
        svg.matches("cost-by-complexity (classifier.level.simple.when.input_chars.lt)")
            .count(),
        1
    );
}

/// A monotone case: sweeping the share a split sends to the dearer model of two
/// (weights 10 : w for w = 10, 30, 90) raises the cost at every step; with a sticky key
/// nothing is random, so the costs are exact: each request costs its model's price.
#[test]
fn split_weight_sweep_from_a_sweep_table_is_monotone_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_models(d, "ab", 400, &[("A", 1.0, 0.5), ("B", 10.0, 0.9)]);
    std::fs::write(
        d.join("split.toml"),
        "name = \"split\"\n[default]\nroute.split = { A = 10, B = 10 }\n\n[[sweep]]\nparam = \"route.split.B\"\nvalues = [10, 30, 90]\n",
    )
    .unwrap();
    let out = d.join("out");
    let o = routesim(&[
        "run",
        "-d",
        d.to_str().unwrap(),
        "-p",
        d.join("split.toml").to_str().unwrap(),
        "--no-baselines",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_csv(&out.join("summary.csv"));
    let names: Vec<&str> = rows.iter().map(|r| r["policy"].as_str()).collect();
    assert_eq!(
        names,
        [
            "split[route.split.B=10]",
            "split[route.split.B=30]",
            "split[route.split.B=90]"
        ]
    );
    let mut last = 0.0;
    for r in &rows {
        // A call costs 1000 tokens × $1 (A) or × $10 (B) per million: $0.001 or $0.01.
        // The model mix gives the share of B; the total follows from it exactly.
        let mix: HashMap<&str, f64> = r["model_mix"]
            .split(';')
            .map(|kv| {
                let (k, v) = kv.split_once(':').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        let b = mix.get("B").copied().unwrap_or(0.0);
        let expected = 400.0 * (b * 0.01 + (1.0 - b) * 0.001);
        assert!((num(r, "cost_total_usd") - expected).abs() < 1e-5, "{r:?}");
        assert!(num(r, "cost_total_usd") > last);
        last = num(r, "cost_total_usd");
    }
    // Weight 90 of 100 sends about 90% to B (400 draws: within ±10 points).
    let last_mix = &rows[2]["model_mix"];
    assert!(
        last_mix.starts_with("B:0.8") || last_mix.starts_with("B:0.9"),
        "{last_mix}"
    );
}

/// Acceptance (issue 15, scope 1): the constraints of `cheapest` and `best` sweep
/// like any number. Three models with one cost and one quality each (A $0.001 / 0.5,
/// B $0.005 / 0.7, C $0.01 / 0.9 per request, every answer ok), so the cross-fitted
/// estimates equal those values and each setting's pick is worked out by hand:
/// `cheapest` with `min_quality` 0.4 / 0.6 / 0.8 picks A / B / C; `best` (most
/// quality) with `max_cost_usd` 0.002 / 0.006 / 0.02 picks A / B / C.
#[test]
fn cheapest_and_best_constraints_sweep_to_the_hand_worked_pick() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 200;
    write_models(
        d,
        "abc",
        n,
        &[("A", 1.0, 0.5), ("B", 5.0, 0.7), ("C", 10.0, 0.9)],
    );
    std::fs::write(
        d.join("cheap.toml"),
        "name = \"cheap\"\n[default]\nroute.cheapest = { candidates = [\"A\", \"B\", \"C\"], min_quality = 0.1 }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("best.toml"),
        "name = \"best\"\n[default]\nroute.best = { candidates = [\"A\", \"B\", \"C\"], maximize = \"quality\", max_cost_usd = 1.0 }\n",
    )
    .unwrap();
    let out = d.join("out");
    let o = routesim(&[
        "run",
        "-d",
        d.to_str().unwrap(),
        "-p",
        d.join("cheap.toml").to_str().unwrap(),
        "-p",
        d.join("best.toml").to_str().unwrap(),
        "--sweep",
        "cheap:default.route.cheapest.min_quality=0.4,0.6,0.8",
        "--sweep",
        "best:max_cost_usd=0.002,0.006,0.02",
        "--no-baselines",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_csv(&out.join("summary.csv"));
    let got: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["policy"].clone(),
                r["model_mix"].clone(),
                num(r, "cost_total_usd"),
            )
        })
        .collect();
    let expected = [
        ("cheap[default.route.cheapest.min_quality=0.4]", "A", 0.001),
        ("cheap[default.route.cheapest.min_quality=0.6]", "B", 0.005),
        ("cheap[default.route.cheapest.min_quality=0.8]", "C", 0.01),
        ("best[max_cost_usd=0.002]", "A", 0.001),
        ("best[max_cost_usd=0.006]", "B", 0.005),
        ("best[max_cost_usd=0.02]", "C", 0.01),
    ];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((name, mix, cost), (en, em, ec)) in got.iter().zip(expected) {
        assert_eq!(name, en);
        assert!(mix.starts_with(&format!("{em}:1")), "{name}: {mix}");
        assert!((cost - ec * n as f64).abs() < 1e-9, "{name}: {cost}");
    }
}

/// Bad sweeps are input errors (exit 1) naming the segment and the valid ones.
#[test]
fn bad_sweeps_name_what_is_wrong() {
    let pol = root().join("policies/cost-by-complexity.toml");
    let ds = root().join("datasets/example");
    let cases: [(&str, &[&str]); 4] = [
        (
            "cost-by-complexity:classifier.level.simpel.when.input_chars.lt=1,2",
            &[
                "no \"simpel\" in \"classifier.level\"",
                "did you mean \"simple\"",
            ],
        ),
        (
            "cost-by-complexity:rule.simple.route=1,2",
            &["\"rule.simple.route\" is a string, not a number"],
        ),
        (
            "cbc:classifier.level.simple.when.input_chars.lt=1,2",
            &["no policy named \"cbc\"", "policies: cost-by-complexity"],
        ),
        (
            "cost-by-complexity:classifier.level.simple.when.input_chars.lt=5:1:1",
            &["does not lead from 5 to 1"],
        ),
    ];
    for (spec, wants) in cases {
        let o = routesim(&[
            "run",
            "-d",
            ds.to_str().unwrap(),
            "-p",
            pol.to_str().unwrap(),
            "--sweep",
            spec,
            "--no-report",
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(1), "{spec}");
        let err = String::from_utf8_lossy(&o.stderr);
        for w in wants {
            assert!(err.contains(w), "{spec}: {w} not in {err}");
        }
    }
    // A value the field refuses is reported at its position in the file: a split
    // weight of 0 (line 9 of ab-split.toml, the weight at column 71).
    let o = routesim(&[
        "run",
        "-d",
        ds.to_str().unwrap(),
        "-p",
        root().join("policies/ab-split.toml").to_str().unwrap(),
        "--sweep",
        "ab-split:route.split.openai/gpt-4o=0,50",
        "--no-report",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ab-split.toml:9:71: in sweep variant \"ab-split[route.split.openai/gpt-4o=0]\": split weight of \"openai/gpt-4o\": expected a positive number, found 0"),
        "{err}"
    );
}
