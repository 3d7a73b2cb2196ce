//! Invariants over random synthetic datasets and the shipped policies (proptest).
mod common;

use proptest::prelude::*;
use routesim::analysis::{RunTable, SummaryOptions, summarize};
use routesim::dataset::Dataset;
use routesim::policy::{Policy, baselines::baselines, load_all};
use routesim::pricing::ModelPrice;
use routesim::sim::trace::{NONE16, Trace};
use routesim::sim::{SimOptions, engine::Missing, run};
use routesim::synth::{SynthConfig, calibrate, generate};

fn dataset(n: usize, seed: u64, holes: u8) -> (Dataset, Vec<ModelPrice>) {
    let cal = calibrate(None);
    let mut ds = generate(&SynthConfig::new(n, 8, seed), &cal);
    // Punch holes in the matrix so missing-cell handling is exercised too.
    if holes > 0 {
        for (i, c) in ds.cells.iter_mut().enumerate() {
            if (i * 7 + seed as usize).is_multiple_of(100 / holes as usize) {
                *c = routesim::dataset::Sample::MISSING;
            }
        }
        ds.extra_offsets.clear();
        ds.extra.clear();
    }
    (ds, cal.prices)
}

fn policies(ds: &Dataset) -> Vec<Policy> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut p = load_all(&files).unwrap();
    p.extend(baselines(&ds.models));
    p
}

fn sim(ds: &Dataset, prices: &[ModelPrice], pols: &[Policy], seed: u64, missing: Missing) -> Trace {
    let opts = SimOptions {
        seed,
        missing,
        ..SimOptions::default()
    };
    run(ds, prices, pols, &opts).unwrap_or_else(|_| panic!("simulation failed"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, .. ProptestConfig::default() })]

    /// The selection-based quantile (used by the paired p95 bootstrap) equals a naive
    /// sort-and-interpolate computation.
    #[test]
    fn quantile_by_selection_equals_naive_sort(
        mut v in proptest::collection::vec(-1e6f64..1e6, 1..300),
        q in 0.0f64..=1.0,
    ) {
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let pos = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        let naive = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64);
        let got = routesim::util::stats::quantile_select(&mut v, q).unwrap();
        prop_assert!((got - naive).abs() <= 1e-9 * naive.abs().max(1.0), "{got} vs {naive}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn one_decision_per_request_and_attempts_add_up(n in 20usize..150, seed in 0u64..1000, holes in 0u8..3) {
        let (ds, prices) = dataset(n, seed, holes);
        let pols = policies(&ds);
        let t = sim(&ds, &prices, &pols, seed, if holes > 0 { Missing::Skip } else { Missing::Fail });
        prop_assert_eq!(t.rows.len(), n * pols.len());
        let mut per_row = vec![0u32; t.rows.len()];
        for a in &t.attempts {
            per_row[a.row as usize] += 1;
        }
        for (i, row) in t.rows.iter().enumerate() {
            prop_assert!(row.rule != NONE16, "every request got a routing decision");
            if row.covered() {
                prop_assert_eq!(per_row[i], row.attempts as u32);
                let cost: f64 = t.attempts.iter().filter(|a| a.row as usize == i).map(|a| a.cost_usd).sum();
                prop_assert!((cost - row.cost_usd).abs() < 1e-12);
                prop_assert!(row.latency_ms >= 0.0);
            }
        }
    }

    #[test]
    fn summary_totals_equal_the_trace_sums(n in 20usize..150, seed in 0u64..1000, holes in 0u8..3) {
        let (ds, prices) = dataset(n, seed, holes);
        let pols = policies(&ds);
        let t = sim(&ds, &prices, &pols, seed, Missing::Skip);
        let s = summarize(&RunTable::of_run(&t, &ds), &SummaryOptions { bootstrap: 50, seed });
        for (p, sum) in s.iter().enumerate() {
            let rows: Vec<_> = t.policy_rows(p).iter().filter(|r| r.covered()).collect();
            let cost: f64 = rows.iter().map(|r| r.cost_usd).sum();
            let valued = rows.iter().filter(|r| !r.quality.is_nan()).count();
            let ok = rows.iter().filter(|r| r.status.is_ok()).count();
            prop_assert_eq!(sum.covered as usize, rows.len());
            prop_assert!((sum.cost_total - cost).abs() <= 1e-9 * cost.max(1.0));
            prop_assert_eq!(sum.quality_n as usize, valued);
            // Quality, computed again from its definition (README): P(ok) × mean of
            // labelled answers + P(fail) × mean of failures.
            let mean_of = |want_ok: bool| {
                let v: Vec<f64> = rows.iter().filter(|r| r.status.is_ok() == want_ok && !r.quality.is_nan()).map(|r| r.quality).collect();
                (v.len(), v.iter().sum::<f64>() / v.len().max(1) as f64)
            };
            let ((nl, mok), (nfl, mfail)) = (mean_of(true), mean_of(false));
            let n_all = rows.len() as f64;
            let fails = rows.len() - ok;
            if rows.is_empty() || (ok > 0 && nl == 0) || (fails > 0 && nfl == 0) {
                prop_assert!(sum.quality_mean.is_nan());
            } else {
                let q = ok as f64 / n_all * if ok > 0 { mok } else { 0.0 } + fails as f64 / n_all * if fails > 0 { mfail } else { 0.0 };
                prop_assert!((sum.quality_mean - q).abs() < 1e-12, "{} vs {}", sum.quality_mean, q);
                if sum.quality_lo.is_finite() {
                    prop_assert!(sum.quality_lo <= q + 1e-12 && q <= sum.quality_hi + 1e-12);
                }
            }
            prop_assert!((sum.success_rate - ok as f64 / rows.len() as f64).abs() < 1e-12);
            // Percentiles equal a naive sort-based computation over the requests that
            // reached a provider or the cache (gateway refusals are counted apart).
            let mut lat: Vec<f64> = rows.iter().filter(|r| !routesim::analysis::summary::rejected(r)).map(|r| r.latency_ms).collect();
            lat.sort_by(f64::total_cmp);
            if lat.is_empty() {
                prop_assert!(sum.latency_p50.is_nan());
                continue;
            }
            for (q, got) in [(0.5, sum.latency_p50), (0.9, sum.latency_p90), (0.95, sum.latency_p95), (0.99, sum.latency_p99)] {
                let pos = q * (lat.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                let naive = lat[lo] + (lat[hi] - lat[lo]) * (pos - lo as f64);
                prop_assert!((got - naive).abs() <= 1e-9 * naive.max(1.0), "p{q}: {got} vs {naive}");
            }
            prop_assert!(sum.latency_p50 <= sum.latency_p90 && sum.latency_p90 <= sum.latency_p95 && sum.latency_p95 <= sum.latency_p99);
        }
    }

    #[test]
    fn same_seed_same_output_and_thread_count_does_not_matter(n in 20usize..150, seed in 0u64..1000) {
        let (ds, prices) = dataset(n, seed, 0);
        let pols = policies(&ds);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let chunked = |chunk: usize| SimOptions { seed, chunk, ..SimOptions::default() };
        let a = one.install(|| run(&ds, &prices, &pols, &chunked(7)).unwrap_or_else(|_| panic!()));
        let b = four.install(|| run(&ds, &prices, &pols, &chunked(7)).unwrap_or_else(|_| panic!()));
        let c = four.install(|| run(&ds, &prices, &pols, &chunked(4096)).unwrap_or_else(|_| panic!()));
        // Rows hold NaN for unknown values, so compare their exact printed form.
        let bits = |t: &Trace| format!("{:?}{:?}", t.rows, t.attempts);
        prop_assert_eq!(bits(&a), bits(&b));
        prop_assert_eq!(format!("{:?}", a.rows), format!("{:?}", c.rows));
        let summary = |t: &Trace| {
            routesim::report::tables::summary_csv(&summarize(&RunTable::of_run(t, &ds), &SummaryOptions { bootstrap: 100, seed }))
        };
        prop_assert_eq!(summary(&a), summary(&b));
        // A different seed changes random choices (random baseline, splits).
        let d = sim(&ds, &prices, &pols, seed + 1, Missing::Fail);
        let (da, dd) = (format!("{:?}", a.rows), format!("{:?}", d.rows));
        prop_assert!(da != dd, "another seed changes random choices");
    }

    /// Every request of every policy ends in exactly one of two states: simulated to a
    /// final status, or left uncovered (its model had no recorded answer) — never both,
    /// never neither. Includes a gateway that queues, cools down, breaks circuits,
    /// rate-limits, caches and budgets, over a matrix with holes.
    #[test]
    fn every_request_is_simulated_or_uncovered(n in 20usize..150, seed in 0u64..1000, holes in 0u8..3) {
        let (ds, prices) = dataset(n, seed, holes);
        let mut pols = policies(&ds);
        let m = &ds.models;
        let busy = format!(
            "name = \"busy-gateway\"\n[models]\nx = {{ model = \"{}\", max_concurrency = 2, rpm = 30 }}\ny = {{ model = \"{}\", max_concurrency = 1 }}\n\
             [gateway]\ncooldown = {{ allowed_fails = 0, window_s = 60, cooldown_s = 30 }}\n\
             circuit_breaker = {{ failure_threshold = 1, cooldown_ms = 20000 }}\nretries = {{ max = 2, backoff_ms = 100 }}\n\
             cache = {{ ttl_s = 600 }}\nbudget = {{ limit_usd = 0.05, period = \"1h\" }}\n\
             [default]\nroute.fallback = [\"x\", \"y\", \"{}\"]\n",
            m[0], m[1], m[2]
        );
        pols.push(routesim::policy::parse("busy.toml", &busy, "busy").unwrap());
        let t = sim(&ds, &prices, &pols, seed, Missing::Skip);
        for row in &t.rows {
            let simulated = row.status != routesim::dataset::Status::MISSING;
            prop_assert!(simulated == row.covered(), "{row:?}");
            if simulated {
                prop_assert!(row.rule != NONE16, "a simulated request matched a rule");
            }
        }
    }
}

/// Field values a responses file may hold: plain ones (the CSV reader's fast path) and
/// every kind it must hand to the generic reader (signs, spaces, decimals, words,
/// overflow, quotes, commas, newlines).
const COUNTS: &[&str] = &[
    "12",
    "0",
    "",
    "0012",
    " 12",
    "+12",
    "12.0",
    "1e2",
    "-0",
    "-3",
    "abc",
    "4294967296",
    "999999999",
    "1234567890",
];
const NUMBERS: &[&str] = &[
    "1.5",
    "0",
    "",
    "1e3",
    " 2.5",
    "inf",
    "NaN",
    "-1",
    "0.5.1",
    "+3",
    "12345678.125",
];
const QUALITIES: &[&str] = &["0.7", "1", "0", "", "true", "FALSE", "1.2", " 0.5", "x"];
const STATUSES: &[&str] = &[
    "ok", "", "OK", " ok", "200", "429", "error", "bogus", "timeout",
];
const TEXTS: &[&str] = &[
    "",
    "plain",
    "with, comma",
    "with \"quotes\"",
    "two\nlines",
    "tab\there",
    "ünïcödé",
];
const MODELS: &[&str] = &["a", "b", "model, with comma"];

fn pick<'a>(v: &'a [&'a str], k: u32) -> &'a str {
    v[k as usize % v.len()]
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The loaded dataset with everything that depends on the file's name or format
/// left out.
fn comparable(r: Result<Dataset, routesim::error::InputError>, file: &str) -> String {
    match r {
        Ok(ds) => format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            ds.requests,
            ds.models,
            ds.cells,
            ds.extra_offsets,
            ds.extra,
            ds.outputs,
            ds.served_models,
            ds.info.warnings
        )
        .replace(file, "FILE"),
        Err(e) => e.to_string().replace(file, "FILE"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, .. ProptestConfig::default() })]

    /// A responses file reads the same as CSV and Parquet (where plain values take the
    /// fast path) and as JSONL (the generic path): same cells, samples, outputs, warnings, and the
    /// same errors with the same rows and columns — with LF or CRLF line ends, with
    /// or without a requests file.
    #[test]
    fn fast_paths_read_like_the_generic_reader(
        rows in proptest::collection::vec(proptest::collection::vec(0u32..1000, 12), 1..40),
        crlf in any::<bool>(),
        declared in any::<bool>(),
        clean in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cols = [
            "request_id", "model", "sample", "status", "input_tokens", "output_tokens",
            "cached_tokens", "latency_ms", "ttft_ms", "quality", "cost_usd", "output",
            "served_model",
        ];
        let mut csv_rows: Vec<Vec<String>> = Vec::new();
        for r in &rows {
            // Half the files have plain values only (they load, and their cells are
            // compared); the others have a tricky value in about one row in six.
            let plain = clean || r[11] % 6 != 0;
            let f = |v: &[&str], k: u32| if plain { v[k as usize % 2].to_string() } else { pick(v, k).to_string() };
            csv_rows.push(vec![
                format!("r{}", r[0] % 12),
                pick(MODELS, r[1]).to_string(),
                if r[2] % 4 == 0 { if plain { (r[2] % 3).to_string() } else { pick(COUNTS, r[2] / 4).to_string() } } else { String::new() },
                f(STATUSES, r[3]),
                f(COUNTS, r[4]),
                f(COUNTS, r[5]),
                if r[6] % 5 == 0 { if plain { "0".to_string() } else { pick(COUNTS, r[6]).to_string() } } else { String::new() },
                f(NUMBERS, r[7]),
                f(NUMBERS, r[8]),
                f(QUALITIES, r[9]),
                if r[10] % 3 == 0 { f(NUMBERS, r[10]) } else { String::new() },
                pick(TEXTS, r[11]).to_string(),
                if r[10] % 7 == 0 { "served-x".to_string() } else { String::new() },
            ]);
        }
        let mut w = csv::WriterBuilder::new()
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .from_writer(Vec::new());
        w.write_record(cols).unwrap();
        for r in &csv_rows {
            w.write_record(r).unwrap();
        }
        let csv_bytes = w.into_inner().unwrap();
        let mut jsonl = String::new();
        for r in &csv_rows {
            let fields: Vec<String> = cols
                .iter()
                .zip(r)
                .map(|(c, v)| format!("{}:{}", json_str(c), json_str(v)))
                .collect();
            jsonl.push_str(&format!("{{{}}}\n", fields.join(",")));
        }
        let load = |name: &str, bytes: &[u8]| {
            let sub = dir.path().join(name.replace('.', "_"));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::write(sub.join(name), bytes).unwrap();
            let path = if declared {
                let reqs: String = (0..12).map(|i| format!("{{\"id\":\"r{i}\",\"input\":\"q{i}\"}}\n")).collect();
                std::fs::write(sub.join("requests.jsonl"), reqs).unwrap();
                std::fs::write(
                    sub.join("dataset.toml"),
                    format!("name = \"t\"\nrequests = \"requests.jsonl\"\nresponses = [\"{name}\"]\n"),
                )
                .unwrap();
                sub.clone()
            } else {
                sub.join(name)
            };
            let r = routesim::dataset::load::load(&path, &Default::default());
            comparable(r, &sub.join(name).display().to_string())
        };
        // Parquet: text columns, or (plain files) numeric columns typed as numbers.
        let pq = {
            use polars::prelude::{Column, DataFrame, ParquetWriter};
            let numeric = [2usize, 4, 5, 6, 7, 8, 9, 10];
            let columns: Vec<Column> = cols
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let vals: Vec<&str> = csv_rows.iter().map(|r| r[j].as_str()).collect();
                    if clean && numeric.contains(&j) {
                        let nums: Vec<Option<f64>> =
                            vals.iter().map(|v| v.parse::<f64>().ok()).collect();
                        Column::new((*c).into(), nums)
                    } else {
                        let text: Vec<Option<&str>> =
                            vals.iter().map(|v| (!v.is_empty()).then_some(*v)).collect();
                        Column::new((*c).into(), text)
                    }
                })
                .collect();
            let mut df = DataFrame::new_infer_height(columns).unwrap();
            let mut buf = Vec::new();
            ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
            buf
        };
        let a = load("responses.csv", &csv_bytes);
        let b = load("responses.jsonl", jsonl.as_bytes());
        let c = load("responses.parquet", &pq);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&c, &b);
    }
}
