//! `--missing impute`: intervals that carry the donor pools' estimation error
//! (coverage in a seeded simulation, width against the imputed share) and the
//! imputed share in the report's tables, with figures worked out independently here.

use routesim::analysis::imputed::Imputation;
use routesim::analysis::summary::{SummaryOptions, summarize_policy, summarize_policy_with};
use routesim::analysis::{PolicySummary, RunTable};
use routesim::dataset::build::from_matrix;
use routesim::dataset::{Dataset, DatasetInfo, MetaColumn, Requests, Sample, Status, TextColumn};
use routesim::policy::parse::parse;
use routesim::pricing::ModelPrice;
use routesim::sim::engine::Missing;
use routesim::sim::impute::Imputer;
use routesim::sim::{SimOptions, run};
use routesim::util::rng::Rng;
use std::process::Command;

/// `n` requests, half "easy" (quality 1 with probability 0.9) and half "hard" (0.4),
/// each answer failing with probability 0.05; one model.
fn full_dataset(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let codes: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let cells: Vec<Sample> = codes
        .iter()
        .map(|&c| {
            if rng.chance(0.05) {
                Sample {
                    status: Status::ERROR,
                    latency_ms: 100.0,
                    ..Sample::MISSING
                }
            } else {
                let p = if c == 0 { 0.9 } else { 0.4 };
                let q = f64::from(u8::from(rng.chance(p)));
                let lat = 500.0 + 3000.0 * rng.f64() as f32;
                Sample::ok(100, 50 + rng.below(200) as u32, lat, q)
            }
        })
        .collect();
    let req = Requests {
        ids: (0..n).map(|i| format!("r{i}")).collect(),
        ts_ms: vec![Requests::NO_TS; n],
        input: TextColumn::from_iter_str((0..n).map(|_| "x")),
        input_chars: vec![1; n],
        input_tokens: vec![100; n],
        input_tokens_estimated: vec![false; n],
        turns: vec![1; n],
        reference: None,
        meta: vec![MetaColumn::new(
            "task",
            codes,
            vec!["easy".into(), "hard".into()],
        )],
    };
    from_matrix(DatasetInfo::default(), req, vec!["m".into()], cells)
}

/// A copy of `ds` with each cell dropped with probability `easy` or `hard` by
/// segment (missing at random given the segment).
fn drop_cells(ds: &Dataset, (easy, hard): (f64, f64), seed: u64) -> Dataset {
    let mut out = ds.clone();
    let mut rng = Rng::new(seed ^ 0xD0);
    for r in 0..ds.n_requests() {
        let p = if ds.requests.meta[0].codes[r] == 0 {
            easy
        } else {
            hard
        };
        if rng.chance(p) {
            *out.cell_mut(r, 0) = Sample::MISSING;
        }
    }
    out
}

/// The summary of "always m" over `ds`: plain (`key` unused) under `--missing skip`,
/// or imputed with the pools segmented by `key`, its interval with the pools' error
/// (`with_error`) or the bootstrap's alone.
fn summary(ds: &Dataset, missing: Missing, key: Option<&str>, with_error: bool) -> PolicySummary {
    let policy = parse("p.toml", "name = \"p\"\n[default]\nroute = \"m\"\n", "p").unwrap();
    let prices = vec![ModelPrice::per_mtok(1.0, 1.0, "flat")];
    let opts = SimOptions {
        missing,
        impute_by: key.map(String::from),
        record_attempts: false,
        ..SimOptions::default()
    };
    let trace = run(ds, &prices, &[policy], &opts).unwrap_or_else(|_| panic!("run"));
    let t = RunTable::of_run(&trace, ds);
    let so = SummaryOptions {
        bootstrap: 200,
        seed: 3,
    };
    if missing == Missing::Impute && with_error {
        let imp = Imputation::new(Imputer::new(ds, key).model().clone(), &t.ctx);
        summarize_policy_with(&t.ctx, t.view(0), &so, Some(&imp)).0
    } else {
        summarize_policy(&t.ctx, t.view(0), &so).0
    }
}

/// Over 100 seeded datasets: drop 15 % of the easy cells and 45 % of the hard ones,
/// impute, and count how often the 95 % interval covers the full data's quality (the
/// figure with nothing missing). Pools by segment with their estimation error cover
/// at least 90 % — of the full data's figure and of the population value the data
/// are drawn from; the bootstrap interval alone, or pools that ignore the segment
/// (biased towards the easy requests' quality), cover less.
#[test]
fn imputed_quality_intervals_cover_the_full_data_figure() {
    let reps = 100;
    let (mut with_error, mut bootstrap_only, mut unsegmented) = (0, 0, 0);
    // The population value too: P(answer) · P(quality 1) = 0.95 · (0.9 + 0.4) / 2.
    let population = 0.95 * 0.65;
    let (mut pop_with_error, mut pop_bootstrap_only) = (0, 0);
    for rep in 0..reps {
        let full = full_dataset(400, rep);
        let truth = summary(&full, Missing::Skip, None, false).quality_mean;
        let gappy = drop_cells(&full, (0.15, 0.45), rep);
        let covers = |s: &PolicySummary| s.quality_lo <= truth && truth <= s.quality_hi;
        let s = summary(&gappy, Missing::Impute, Some("meta.task"), true);
        assert_eq!(s.covered, 400, "every request imputed or recorded");
        with_error += usize::from(covers(&s));
        let plain = summary(&gappy, Missing::Impute, Some("meta.task"), false);
        bootstrap_only += usize::from(covers(&plain));
        let holds = |s: &PolicySummary| s.quality_lo <= population && population <= s.quality_hi;
        pop_with_error += usize::from(holds(&s));
        pop_bootstrap_only += usize::from(holds(&plain));
        unsegmented += usize::from(covers(&summary(&gappy, Missing::Impute, None, true)));
    }
    eprintln!(
        "coverage of the full-data figure: {with_error}/{reps} with the pools' error, {bootstrap_only} bootstrap only, {unsegmented} unsegmented; of the population value: {pop_with_error} with the error, {pop_bootstrap_only} bootstrap only"
    );
    assert!(with_error >= 90, "{with_error}/{reps}");
    assert!(pop_with_error >= 90, "{pop_with_error}/{reps}");
    assert!(pop_bootstrap_only < pop_with_error);
    assert!(
        bootstrap_only < with_error,
        "{bootstrap_only} vs {with_error}"
    );
    assert!(unsegmented < with_error, "{unsegmented} vs {with_error}");
}

/// The interval widens as more cells are imputed (the same data, 10 %, 30 % and 50 %
/// of every segment dropped), and is always wider than the bootstrap's alone.
#[test]
fn interval_width_grows_with_the_imputed_share() {
    let full = full_dataset(1000, 42);
    let mut last = 0.0;
    for share in [0.1, 0.3, 0.5] {
        let gappy = drop_cells(&full, (share, share), 1);
        let s = summary(&gappy, Missing::Impute, Some("meta.task"), true);
        let plain = summary(&gappy, Missing::Impute, Some("meta.task"), false);
        let imputed = s.imputed_share.expect("an imputed run");
        assert!((imputed - share).abs() < 0.05, "{imputed} vs {share}");
        let width = s.quality_hi - s.quality_lo;
        assert!(width > plain.quality_hi - plain.quality_lo);
        assert!(width > last, "{share}: {width} after {last}");
        last = width;
        // Same point estimate either way: only the interval changes.
        assert_eq!(s.quality_mean, plain.quality_mean);
    }
}

/// The CLI fixture: models cheap and mid; 24 requests of task "a" and 6 of "b".
/// cheap answers everything; mid answers 20 of "a" (quality 1.0 and 0.6 alternately)
/// and 3 of "b" (0.2), the other 7 cells missing. Every answer has 100 output tokens.
fn write_fixture(dir: &std::path::Path, complete: bool) {
    let mut req = String::from("id,input,input_tokens,meta.task\n");
    let mut resp =
        String::from("request_id,model,sample,status,output_tokens,latency_ms,quality\n");
    for i in 0..30 {
        let task = if i < 24 { "a" } else { "b" };
        req.push_str(&format!("q{i},hello {i},100,{task}\n"));
        resp.push_str(&format!("q{i},cheap,0,ok,100,{},0.5\n", 300 + i));
        let mid = match i {
            0..20 => Some(if i % 2 == 0 { 1.0 } else { 0.6 }),
            24..27 => Some(0.2),
            _ if complete => Some(0.5),
            _ => None,
        };
        if let Some(q) = mid {
            resp.push_str(&format!("q{i},mid,0,ok,100,{},{q}\n", 1000 + 50 * i));
        }
    }
    std::fs::write(dir.join("requests.csv"), req).unwrap();
    std::fs::write(dir.join("responses.csv"), resp).unwrap();
    std::fs::write(
        dir.join("dataset.toml"),
        "name = \"gaps\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pricing.toml"),
        "[models.cheap]\ninput_per_mtok = 1\noutput_per_mtok = 2\n[models.mid]\ninput_per_mtok = 2\noutput_per_mtok = 8\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("policy.toml"),
        "name = \"p\"\n[default]\nroute = \"mid\"\n",
    )
    .unwrap();
}

fn run_cli(dir: &std::path::Path, out: &str, missing: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "-d"])
        .arg(dir)
        .arg("-p")
        .arg(dir.join("policy.toml"))
        .arg("-o")
        .arg(dir.join(out))
        .args([
            "--bootstrap",
            "0",
            "--by",
            "meta.task",
            "--missing",
            missing,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut out = vec![head];
    out.extend(
        r.records()
            .map(|x| x.unwrap().iter().map(String::from).collect()),
    );
    out
}

fn field<'a>(rows: &'a [Vec<String>], row: &[&str], col: &str) -> &'a str {
    let c = rows[0].iter().position(|h| h == col).expect(col);
    let r = rows
        .iter()
        .find(|r| row.iter().enumerate().all(|(i, v)| r[i] == *v))
        .unwrap_or_else(|| panic!("no row {row:?}"));
    &r[c]
}

fn sample_var(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

#[test]
fn cli_reports_the_imputed_share_and_widened_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d, false);
    let stdout = run_cli(d, "imp", "impute");
    let rows = csv_rows(&d.join("imp/summary.csv"));
    assert_eq!(rows[0].last().unwrap(), "imputed_share");
    // mid's figures, worked out here. Segment a's pool: 20 answers, mean 0.8; b has 3
    // (fewer than 20): its 3 gaps take the model's pool, mean (10 + 6 + 0.6) / 23.
    let qa: Vec<f64> = (0..20)
        .map(|i| if i % 2 == 0 { 1.0 } else { 0.6 })
        .collect();
    let mut q_all = qa.clone();
    q_all.extend([0.2; 3]);
    let (mu_a, mu_all) = (0.8, 16.6 / 23.0);
    let mut q: Vec<f64> = qa.clone();
    q.extend([mu_a; 4]);
    q.extend([0.2; 3]);
    q.extend([mu_all; 3]);
    let n = q.len() as f64;
    let mean = q.iter().sum::<f64>() / n;
    // Interval: the normal one (--bootstrap 0: Σ(qᵢ − Q)² / n²) plus each pool's
    // error, (a² + 2ab) · s² / N with a = k / n for its k imputed answers and b = m / n
    // for the m recorded answers that are its donors (20 in a; all 23 for the model's).
    let se2 = q.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n * n);
    let term = |k: f64, m: f64| (k / n).powi(2) + 2.0 * (k / n) * (m / n);
    let add =
        term(4.0, 20.0) * sample_var(&qa) / 20.0 + term(3.0, 23.0) * sample_var(&q_all) / 23.0;
    let half = 1.959_963_985 * (se2 + add).sqrt();
    for policy in ["p", "always:mid"] {
        let at = |c: &str| field(&rows, &[policy], c).to_string();
        assert_eq!(at("imputed_share"), format!("{:.4}", 7.0 / 30.0));
        assert_eq!(at("covered"), "30");
        assert_eq!(at("success_rate"), "1.0000");
        assert_eq!(at("quality_mean"), format!("{mean:.4}"));
        assert_eq!(at("quality_ci_lo"), format!("{:.4}", mean - half));
        assert_eq!(at("quality_ci_hi"), format!("{:.4}", mean + half));
        // 100 input tokens at $2/M and 100 output at $8/M, imputed cells alike
        // (every donor has 100 output tokens).
        assert_eq!(at("cost_total_usd"), format!("{:.6}", 30.0 * 0.001));
    }
    assert_eq!(
        field(&rows, &["always:cheap"], "imputed_share"),
        "0.0000",
        "cheap answered everything"
    );
    let seg = csv_rows(&d.join("imp/segments.csv"));
    assert_eq!(
        field(&seg, &["p", "meta.task", "a"], "imputed_share"),
        format!("{:.4}", 4.0 / 24.0)
    );
    assert_eq!(
        field(&seg, &["p", "meta.task", "b"], "imputed_share"),
        "0.5000"
    );
    let md = std::fs::read_to_string(d.join("imp/report.md")).unwrap();
    assert!(md.contains("| policy | coverage | imputed |"), "{md}");
    assert!(md.contains("| p | 100.0% | 23.3% |"), "{md}");
    assert!(md.contains("| p | meta.task=a | 24 | 16.7% |"), "{md}");
    assert!(
        md.contains("--missing impute: each missing cell drawn"),
        "{md}"
    );
    assert!(stdout.contains("imputed"), "{stdout}");
    assert!(stdout.contains("23.3%"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("imp/summary.json")).unwrap()).unwrap();
    let p = json
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "p")
        .unwrap();
    assert!((p["imputed_share"].as_f64().unwrap() - 7.0 / 30.0).abs() < 1e-8);
    // The manifest keeps the pools: a re-rendered report is the same.
    let before = std::fs::read(d.join("imp/summary.csv")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .arg("report")
        .arg(d.join("imp"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(d.join("imp/summary.csv")).unwrap(), before);

    // Under --missing skip the same data has no imputed column.
    run_cli(d, "skip", "skip");
    let skip = csv_rows(&d.join("skip/summary.csv"));
    assert!(!skip[0].iter().any(|h| h == "imputed_share"));
}

/// With nothing missing, `--missing impute` changes no figure: the tables equal
/// `--missing skip`'s but for the imputed-share column (all 0).
#[test]
fn impute_without_gaps_leaves_every_figure_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d, true);
    run_cli(d, "imp", "impute");
    run_cli(d, "skip", "skip");
    for file in ["summary.csv", "segments.csv"] {
        let imp = csv_rows(&d.join("imp").join(file));
        let skip = csv_rows(&d.join("skip").join(file));
        assert_eq!(imp[0].last().unwrap(), "imputed_share");
        for (a, b) in imp.iter().zip(&skip).skip(1) {
            assert_eq!(a.last().unwrap(), "0.0000");
            assert_eq!(&a[..a.len() - 1], &b[..], "{file}");
        }
        assert_eq!(imp.len(), skip.len());
    }
}
