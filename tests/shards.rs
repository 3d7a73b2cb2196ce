//! `routesim run --shard i/n` and `routesim merge`: shards merged equal one run over
//! every request — exactly for counts, sums, costs and the quality estimate, within
//! the stated bound for quantiles — and policies that cannot shard are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn routesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .output()
        .expect("routesim runs")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A synthetic dataset of 24,000 requests (above the size where one run uses the
/// normal approximation for its intervals, as merged shards do).
fn dataset(dir: &Path) -> PathBuf {
    let d = dir.join("data");
    ok(routesim(&[
        "synth",
        "--requests",
        "24000",
        "--models",
        "8",
        "--seed",
        "3",
        "-o",
        s(&d),
    ]));
    d
}

fn policies(dir: &Path) -> PathBuf {
    let p = dir.join("policies");
    std::fs::create_dir_all(&p).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for f in [
        "ab-split.toml",
        "cascade.toml",
        "fallback-chain.toml",
        "cost-tiers.toml",
    ] {
        std::fs::copy(shipped.join(f), p.join(f)).unwrap();
    }
    // Stateful, but only per tenant: shards keyed by tenant keep its state whole.
    std::fs::write(
        p.join("tenant-budget.toml"),
        r#"name = "tenant-budget"
[models]
big = { model = "anthropic/claude-3.5-sonnet" }
mini = { model = "openai/gpt-4o-mini" }
[gateway]
budget = { limit_usd = 0.4, period = "1d", per = "meta.tenant", when_exceeded = { route = "mini" } }
[default]
route = "big"
"#,
    )
    .unwrap();
    p
}

type Table = Vec<Vec<String>>;

fn csv(path: &Path) -> (Vec<String>, Table) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (head, rows)
}

/// Compare two tables column by column: quantile columns within the sketch bound,
/// interval ends within rounding, every other column exactly.
fn assert_merged_equals(one: &Path, merged: &Path) {
    let ((h1, r1), (h2, r2)) = (csv(one), csv(merged));
    assert_eq!(h1, h2);
    assert_eq!(r1.len(), r2.len(), "{}", one.display());
    let mut exact = 0;
    for (a, b) in r1.iter().zip(&r2) {
        for ((name, x), y) in h1.iter().zip(a).zip(b) {
            let num = |v: &str| v.parse::<f64>().unwrap_or(f64::NAN);
            if name.starts_with("latency_p") || name.starts_with("ttft_p") {
                let (x, y) = (num(x), num(y));
                // 0.5% relative (the sketch) + 0.05 ms (the file's one decimal).
                assert!(
                    (x - y).abs() <= 0.005 * x.abs() + 0.05 + 1e-9,
                    "{} {name}: one run {x}, merged {y}",
                    a[0]
                );
            } else if name.starts_with("quality_ci") {
                assert!(
                    (num(x) - num(y)).abs() <= 1.5e-4,
                    "{} {name}: one run {x}, merged {y}",
                    a[0]
                );
            } else {
                assert_eq!(x, y, "{} {name}", a[0]);
                exact += 1;
            }
        }
    }
    assert!(exact > 100, "compared {exact} exact cells");
}

#[test]
fn two_shards_merged_equal_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dataset(dir.path());
    let p = policies(dir.path());
    let one = dir.path().join("one");
    ok(routesim(&[
        "run",
        "-d",
        s(&d),
        "-p",
        s(&p),
        "--by",
        "meta.task",
        "-o",
        s(&one),
        "-q",
    ]));
    let mut shards = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("shard-{i}"));
        let spec = format!("{i}/2");
        let o = ok(routesim(&[
            "run",
            "-d",
            s(&d),
            "-p",
            s(&p),
            "--by",
            "meta.task",
            "--shard",
            &spec,
            "--shard-key",
            "meta.tenant",
            "-o",
            s(&out),
            "-q",
        ]));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("shard {i}/2")));
        assert!(out.join("partial.json").is_file() && !out.join("summary.csv").exists());
        shards.push(out);
    }
    let merged = dir.path().join("merged");
    // Shards in any order.
    ok(routesim(&[
        "merge",
        s(&shards[1]),
        s(&shards[0]),
        "-o",
        s(&merged),
    ]));
    assert_merged_equals(&one.join("summary.csv"), &merged.join("summary.csv"));
    assert_merged_equals(&one.join("segments.csv"), &merged.join("segments.csv"));
    // The headline comparisons: same policies, same Δcost and Δquality.
    let md = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(md.contains("merged from 2 shards"), "{md}");
    for c in ["cost_quality", "latency_cdf", "model_mix"] {
        assert!(
            merged.join("charts").join(format!("{c}.png")).is_file(),
            "{c}"
        );
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["merged_from"].as_array().unwrap().len(), 2);
    assert_eq!(m["dataset"]["requests"], 24000);
    // The shards split the requests between them.
    let n: u64 = m["merged_from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(n, 24000);
}

#[test]
fn shards_by_request_id_merge_too_and_bad_merges_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dataset(dir.path());
    let p = dir.path().join("ab.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/ab-split.toml"),
        &p,
    )
    .unwrap();
    let one = dir.path().join("one");
    ok(routesim(&[
        "run",
        "-d",
        s(&d),
        "-p",
        s(&p),
        "-o",
        s(&one),
        "-q",
    ]));
    let shard = |i: usize, n: usize| {
        let out = dir.path().join(format!("s{i}of{n}"));
        ok(routesim(&[
            "run",
            "-d",
            s(&d),
            "-p",
            s(&p),
            "--shard",
            &format!("{i}/{n}"),
            "-o",
            s(&out),
            "-q",
        ]));
        out
    };
    let three: Vec<PathBuf> = (0..3).map(|i| shard(i, 3)).collect();
    let merged = dir.path().join("merged");
    ok(routesim(&[
        "merge",
        s(&three[0]),
        s(&three[1]),
        s(&three[2]),
        "-o",
        s(&merged),
    ]));
    assert_merged_equals(&one.join("summary.csv"), &merged.join("summary.csv"));
    // A missing shard, a repeated one, or a shard of another run: refused, nothing written.
    let bad = dir.path().join("bad");
    let out = routesim(&["merge", s(&three[0]), s(&three[1]), "-o", s(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard 2/3 is given 0 times"));
    let other = shard(1, 2);
    let out = routesim(&[
        "merge",
        s(&three[0]),
        s(&other),
        s(&three[2]),
        "-o",
        s(&bad),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a shard of the same run"));
    assert!(!bad.exists());
}

/// Same inputs and seed: the same bytes whatever the number of threads (one run) or
/// of shards (merged) — summary, segments and the report.
#[test]
fn byte_identical_at_any_thread_count_and_shard_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dataset(dir.path());
    let p = policies(dir.path());
    let files = ["summary.csv", "segments.csv", "report.md", "summary.json"];
    let read = |dir: &Path, f: &str| std::fs::read(dir.join(f)).ok();
    let run = |threads: &str| {
        let out = dir.path().join(format!("threads-{threads}"));
        ok(routesim(&[
            "run",
            "-d",
            s(&d),
            "-p",
            s(&p),
            "--by",
            "meta.task",
            "--threads",
            threads,
            "-o",
            s(&out),
            "-q",
        ]));
        out
    };
    let (t1, t2, t4) = (run("1"), run("2"), run("4"));
    for f in files {
        assert!(read(&t1, f).is_some(), "{f} written");
        assert_eq!(read(&t1, f), read(&t2, f), "{f}: 1 vs 2 threads");
        assert_eq!(read(&t1, f), read(&t4, f), "{f}: 1 vs 4 threads");
    }
    let merged = |n: usize, threads: &str| {
        let shards: Vec<PathBuf> = (0..n)
            .map(|i| {
                let out = dir.path().join(format!("s{i}of{n}-t{threads}"));
                ok(routesim(&[
                    "run",
                    "-d",
                    s(&d),
                    "-p",
                    s(&p),
                    "--by",
                    "meta.task",
                    "--shard",
                    &format!("{i}/{n}"),
                    "--shard-key",
                    "meta.tenant",
                    "--threads",
                    threads,
                    "-o",
                    s(&out),
                    "-q",
                ]));
                out
            })
            .collect();
        let out = dir.path().join(format!("merged-{n}-t{threads}"));
        let mut args = vec!["merge".to_string()];
        args.extend(shards.iter().map(|x| s(x).to_string()));
        args.extend(["-o".into(), s(&out).into()]);
        ok(routesim(
            &args.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ));
        out
    };
    let (m2, m3) = (merged(2, "2"), merged(3, "1"));
    for f in ["summary.csv", "segments.csv"] {
        assert_eq!(read(&m2, f), read(&m3, f), "{f}: 2 vs 3 shards");
        assert!(read(&m2, f).is_some(), "{f}");
    }
}

#[test]
fn policies_with_shared_state_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dataset(dir.path());
    let p = dir.path().join("cool.toml");
    std::fs::write(
        &p,
        "name = \"cool\"\n[gateway]\ncooldown = { allowed_fails = 1, window_s = 60, cooldown_s = 30 }\n[default]\nroute.fallback = [\"openai/gpt-4o\", \"openai/gpt-4o-mini\"]\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = routesim(&[
        "run",
        "-d",
        s(&d),
        "-p",
        s(&p),
        "--shard",
        "0/2",
        "-o",
        s(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy \"cool\" keeps state across requests (cooldown)"),
        "{err}"
    );
    assert!(!out_dir.exists());
    // A global budget cannot shard by tenant either; a bad shard spec is refused.
    let out = routesim(&["run", "-d", s(&d), "--shard", "2/2", "-o", s(&out_dir)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 ≤ i < n"));
}
