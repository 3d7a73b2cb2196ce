//! What scripts use: `--json` on run and compare (the same figures as the tables and
//! the Markdown), and shell completions that actually complete.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn routesim(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `run` on the hand fixture with every hand policy, into `out`.
fn run_hand(out: &Path, extra: &[&str]) -> Output {
    let hand = common::fixture("hand");
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "-d".into(),
        hand.clone().into(),
        "-p".into(),
        hand.join("policies").into(),
        "--bootstrap".into(),
        "200".into(),
        "-o".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(|s| s.into()));
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
    routesim(&refs)
}

/// |json − csv| within the CSV's rounding.
fn same(json: &Value, csv: &str, decimals: i32, what: &str) {
    match (json.as_f64(), csv) {
        (None, "") => {}
        (Some(j), c) => {
            let c: f64 = c.parse().unwrap_or_else(|_| panic!("{what}: csv {c:?}"));
            assert!(
                (j - c).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-12,
                "{what}: json {j} vs csv {c}"
            );
        }
        (None, c) => panic!("{what}: json null, csv {c}"),
    }
}

#[test]
fn run_json_has_the_figures_of_summary_csv_and_the_headline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let v: Value = serde_json::from_str(&ok(&run_hand(&out, &["--json"]))).unwrap();
    assert_eq!(v["dataset"], "hand");
    assert_eq!(v["requests"], 5);
    assert_eq!(v["report_dir"], out.display().to_string());
    // Every policy's object is summary.json's, and its figures are summary.csv's.
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["policies"], summary);
    let mut csv = csv::Reader::from_path(out.join("summary.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |row: &csv::StringRecord, name: &str| -> String {
        row[header.iter().position(|h| h == name).unwrap()].to_string()
    };
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let pols = v["policies"].as_array().unwrap();
    assert_eq!(pols.len(), rows.len());
    for (p, row) in pols.iter().zip(&rows) {
        let name = col(row, "policy");
        assert_eq!(p["policy"], name.as_str());
        assert_eq!(p["requests"].to_string(), col(row, "requests"));
        same(&p["coverage"], &col(row, "coverage"), 4, &name);
        same(&p["cost_total_usd"], &col(row, "cost_total_usd"), 6, &name);
        same(
            &p["cost_per_1k_usd"],
            &col(row, "cost_per_1k_usd"),
            6,
            &name,
        );
        same(&p["quality"]["mean"], &col(row, "quality_mean"), 4, &name);
        same(
            &p["quality"]["ci95"][0],
            &col(row, "quality_ci_lo"),
            4,
            &name,
        );
        same(
            &p["quality"]["ci95"][1],
            &col(row, "quality_ci_hi"),
            4,
            &name,
        );
        same(
            &p["latency_ms"]["p95"],
            &col(row, "latency_p95_ms"),
            1,
            &name,
        );
        same(
            &p["rates"]["fallback"],
            &col(row, "fallback_rate"),
            4,
            &name,
        );
    }
    // The comparisons are the headlines' figures: the text run prints them rounded.
    let text = ok(&run_hand(&dir.path().join("t"), &[]));
    let comps = v["comparisons"].as_array().unwrap();
    assert!(!comps.is_empty());
    for c in comps {
        let policy = c["policy"].as_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{policy} vs ")))
            .unwrap_or_else(|| panic!("no headline for {policy}:\n{text}"));
        let q = c["d_quality"]["delta"].as_f64().unwrap();
        assert!(line.contains(&format!("quality {q:+.3}")), "{line} / {q}");
        let pb = c["cost_per_1k_usd"]["baseline"].as_f64().unwrap();
        assert!(
            line.contains(&format!("vs ${pb:.3} per 1k")),
            "{line} / {pb}"
        );
    }
}

/// Parse `| a | b | … |` into trimmed cells.
fn md_cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The leading number of a cell (`"0.170 [0.000, 0.510]"` → 0.17, `"$2.896"` → 2.896).
fn lead(cell: &str) -> f64 {
    let t: String = cell
        .trim_start_matches('$')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    t.parse().unwrap_or_else(|_| panic!("number in {cell:?}"))
}

#[test]
fn compare_json_has_the_figures_of_the_markdown_table() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&run_hand(&a, &[]));
    ok(&run_hand(&b, &["--seed", "8"]));
    let md = ok(&routesim(&[
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]));
    let v: Value = serde_json::from_str(&ok(&routesim(&[
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--json".as_ref(),
    ])))
    .unwrap();
    let pols = v["policies"].as_array().unwrap();
    let rows: Vec<Vec<String>> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| policy"))
        .map(md_cells)
        .collect();
    assert_eq!(pols.len(), rows.len(), "{md}");
    assert!(pols.len() >= 7);
    let mut changed = 0;
    for (p, r) in pols.iter().zip(&rows) {
        assert_eq!(p["policy"], r[0].as_str());
        assert_eq!(p["pairs"].to_string(), r[1]);
        let (ca, cb) = r[2].split_once(" → ").unwrap();
        assert!(
            (lead(ca) - p["cost_per_1k_usd"]["a"].as_f64().unwrap()).abs() < 1e-3,
            "{ca}"
        );
        assert!(
            (lead(cb) - p["cost_per_1k_usd"]["b"].as_f64().unwrap()).abs() < 1e-3,
            "{cb}"
        );
        let dq = p["d_quality"]["delta"].as_f64().unwrap();
        assert!(
            (lead(&r[4]) - dq).abs() <= 0.0005 + 1e-12,
            "{} vs {dq}",
            r[4]
        );
        let dc = p["d_cost_per_request_usd"]["delta"].as_f64().unwrap();
        assert!(
            (lead(&r[6]) - dc).abs() <= 0.0000005 + 1e-12,
            "{} vs {dc}",
            r[6]
        );
        changed += usize::from(dq != 0.0 || dc != 0.0);
    }
    // Seed 8 changes the random baseline, so not every delta is zero.
    assert!(changed >= 1, "{md}");
}

/// The bash completion script completes subcommands and flags when sourced into bash.
#[test]
fn completions_complete_in_bash_and_name_every_command() {
    let script = ok(&routesim(&["completions".as_ref(), "bash".as_ref()]));
    assert!(script.contains("_routesim()"), "{script}");
    let has_bash = Command::new("bash").arg("--version").output().is_ok();
    if has_bash {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("routesim.bash");
        std::fs::write(&f, &script).unwrap();
        let complete = |words: &str, cword: usize| -> String {
            let probe = format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; _routesim routesim \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                f.display()
            );
            let out = Command::new("bash").arg("-c").arg(probe).output().unwrap();
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let subs = complete("routesim ex", 1);
        assert_eq!(subs.trim(), "explain", "{subs}");
        let d = complete("routesim di", 1);
        assert_eq!(d.trim(), "diff", "{d}");
        let flags = complete("routesim explain --re", 2);
        assert_eq!(flags.trim(), "--request", "{flags}");
    } else {
        eprintln!("SKIPPED: bash is not installed; only the script's text was checked");
    }
    for (shell, marker) in [
        ("zsh", "#compdef routesim"),
        ("fish", "complete -c routesim"),
    ] {
        let s = ok(&routesim(&["completions".as_ref(), shell.as_ref()]));
        assert!(s.contains(marker), "{shell}: {s}");
        for cmd in ["run", "diff", "explain", "compare", "completions"] {
            assert!(s.contains(cmd), "{shell} names {cmd}");
        }
    }
    let bad = routesim(&["completions".as_ref(), "tcsh".as_ref()]);
    assert_eq!(bad.status.code(), Some(1));
}
