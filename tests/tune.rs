//! `routesim tune` never reads the held-out split while searching: three datasets
//! that agree on the training requests and differ on the held-out ones — clean,
//! poisoned so that the search would choose differently had it read them, and
//! poisoned so that any read fails the command — give the same search, byte for byte;
//! only the held-out figures differ.
mod common;

use routesim::app::tune::held_out;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

const N: usize = 200;
const SEED: u64 = 7;
const HOLDOUT: f64 = 0.3;

/// Request `q{i}` has a prompt of `chars(i)` characters: 5, 10, …, 100, twice over
/// (every length in 5..=100 by 5 appears 10 times).
fn chars(i: usize) -> usize {
    5 * (i % 20 + 1)
}

fn ids() -> Vec<String> {
    (0..N).map(|i| format!("q{i:03}")).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Held {
    /// Held-out requests answered like the training ones.
    Clean,
    /// Held-out short prompts: the cheap model is wrong (quality 0).
    WrongShort,
    /// Held-out prompts of 50 characters or more: no cheap answer recorded.
    MissingLong,
}

/// Two models: `dear` ($10 per million tokens) always right; `cheap` ($1) right on
/// prompts shorter than 50 characters, wrong on longer ones — on the training
/// requests, and on the held-out ones unless poisoned.
fn write_dataset(dir: &Path, held: Held) {
    let mask = held_out(&ids(), SEED, HOLDOUT);
    let mut req = String::from("id,input\n");
    let mut resp = String::from("request_id,model,status,input_tokens,output_tokens,quality\n");
    for (i, id) in ids().iter().enumerate() {
        let c = chars(i);
        req.push_str(&format!("{id},{}\n", "x".repeat(c)));
        resp.push_str(&format!("{id},dear,ok,1000,0,1\n"));
        let mut q = if c < 50 { 1 } else { 0 };
        if mask[i] {
            match held {
                Held::Clean => {}
                Held::WrongShort => q = 0,
                Held::MissingLong if c >= 50 => continue,
                Held::MissingLong => {}
            }
        }
        resp.push_str(&format!("{id},cheap,ok,1000,0,{q}\n"));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("requests.csv"), req).unwrap();
    std::fs::write(dir.join("responses.csv"), resp).unwrap();
    std::fs::write(
        dir.join("pricing.toml"),
        "[models.cheap]\ninput_per_mtok = 1\noutput_per_mtok = 1\n[models.dear]\ninput_per_mtok = 10\noutput_per_mtok = 10\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("dataset.toml"),
        "name = \"tune\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n",
    )
    .unwrap();
}

const POLICY: &str = "name = \"short-cheap\"\n[[rule]]\nname = \"short\"\nwhen = { input_chars = { lt = 20 } }\nroute = \"cheap\"\n[default]\nroute = \"dear\"\n";

fn tune(ds: &Path, policy: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .arg("tune")
        .arg("-p")
        .arg(policy)
        .arg("-d")
        .arg(ds)
        .args([
            "--param",
            "rule.short.when.input_chars.lt=10:100:10",
            "--baseline",
            "always:dear",
            "--max-quality-drop",
            "0.01",
            "--missing",
            "fail",
            "-q",
        ])
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Everything `tune` printed before the held-out line: the split, the search table,
/// the chosen setting and its training figures.
fn search_part(out: &str) -> String {
    out.lines()
        .take_while(|l| !l.trim_start().starts_with("held-out:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_search_never_reads_the_held_out_split() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("short-cheap.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let (clean, wrong, missing) = (
        tmp.path().join("clean"),
        tmp.path().join("wrong"),
        tmp.path().join("missing"),
    );
    write_dataset(&clean, Held::Clean);
    write_dataset(&wrong, Held::WrongShort);
    write_dataset(&missing, Held::MissingLong);
    let mask = held_out(&ids(), SEED, HOLDOUT);
    let n_held = mask.iter().filter(|h| **h).count();
    assert!(n_held > 30 && n_held < 90, "{n_held} held out");

    // Training requests: the cheap model is right below 50 characters, so every
    // threshold up to 50 loses nothing (Δ = 0 on every request: CI [0, 0]) and every
    // threshold above loses the prompts of 50 characters or more it sends there: at
    // 60, the lengths 50 and 55 — a tenth of the requests, far below −0.01. The
    // cheapest qualifying threshold is 50.
    let out = ok(&tune(&clean, &policy));
    assert!(
        out.contains("chosen: short-cheap[rule.short.when.input_chars.lt=50]"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{} training requests, {n_held} held out",
            N - n_held
        )),
        "{out}"
    );
    assert!(
        out.contains("line 4: when = { input_chars = { lt = 50 } }"),
        "{out}"
    );
    let held_line = |out: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with("held-out:"))
            .unwrap()
            .to_string()
    };
    assert!(held_line(&out).ends_with("Δquality +0.000 [+0.000, +0.000] — within the margin"));

    // Poisoned: the cheap model is wrong on the held-out short prompts. Had the search
    // read them, threshold 50 would lose every held-out prompt under 50 characters —
    // checked below on the whole dataset — and would not qualify. The search is the
    // same, byte for byte; only the held-out figures show the poison.
    let poisoned = ok(&tune(&wrong, &policy));
    assert_eq!(search_part(&poisoned), search_part(&out));
    let h = held_line(&poisoned);
    assert!(
        h.ends_with("NOT within the margin on the held-out requests"),
        "{h}"
    );
    // Held-out Δquality: the held-out prompts under 50 characters (lengths 5..45, 9
    // of every 20) all lose 1.
    let short_held = (0..N).filter(|&i| mask[i] && chars(i) < 50).count();
    let want = -(short_held as f64) / n_held as f64;
    assert!(
        h.contains(&format!("Δquality {want:.3} [")),
        "{h} (want {want:.3})"
    );

    // Poisoned so that any read fails: the held-out prompts of 50 characters or more
    // have no cheap answer, and --missing fail stops on a missing cell. Every
    // threshold above 50 sends some of them to the cheap model — the search would
    // stop. It runs, and the chosen threshold (50) sends them to the dear model on the
    // held-out split.
    let trapped = ok(&tune(&missing, &policy));
    assert_eq!(search_part(&trapped), search_part(&out));
    assert_eq!(held_line(&trapped), held_line(&out));

    // The poisons have teeth: over every request (what a search reading the held-out
    // split would see), `run` gives threshold 50 a quality drop of short_held / N,
    // more than the margin, and stops on the missing cells.
    let run = |ds: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_routesim"))
            .arg("run")
            .arg("-d")
            .arg(ds)
            .arg("-p")
            .arg(&policy)
            .args([
                "--sweep",
                "short-cheap:rule.short.when.input_chars.lt=50,60",
                "--missing",
                "fail",
                "-q",
            ])
            .args(extra)
            .arg("-o")
            .arg(tmp.path().join("run-out"))
            .output()
            .unwrap()
    };
    ok(&run(&wrong, &[]));
    let rows = read_csv(&tmp.path().join("run-out/summary.csv"));
    let q = |name: &str| -> f64 {
        rows.iter().find(|r| r["policy"] == name).unwrap()["quality_mean"]
            .parse()
            .unwrap()
    };
    let drop = q("short-cheap[rule.short.when.input_chars.lt=50]") - q("always:dear");
    assert!((drop + short_held as f64 / N as f64).abs() < 1e-4, "{drop}");
    assert!(drop < -0.01);
    // (Without the baselines: always:cheap would stop on them too.)
    let o = run(&missing, &["--no-baselines"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("which has no recorded response"));
}

#[test]
fn nothing_qualifies_is_said_and_nothing_is_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("short-cheap.toml");
    // Every threshold sends a long prompt (≥ 50 characters) to the cheap model.
    std::fs::write(&policy, POLICY).unwrap();
    let ds = tmp.path().join("ds");
    write_dataset(&ds, Held::Clean);
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .arg("tune")
        .arg("-p")
        .arg(&policy)
        .arg("-d")
        .arg(&ds)
        .args([
            "--param",
            "rule.short.when.input_chars.lt=60,80",
            "--baseline",
            "always:dear",
            "-q",
        ])
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(out.contains("no setting qualifies on the training split (the closest, short-cheap[rule.short.when.input_chars.lt=60], has a lower bound of -0."), "{out}");
    assert!(!out.contains("held-out:"));
}

#[test]
fn bad_tune_options_are_input_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("short-cheap.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let ds = tmp.path().join("ds");
    write_dataset(&ds, Held::Clean);
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--param",
                "rule.short.when.input_chars.lt=10,20",
                "--baseline",
                "always:nope",
            ],
            "--baseline: no policy named \"always:nope\"; the policy as written or a baseline: short-cheap, always:",
        ),
        (
            &[
                "--param",
                "rule.long.when.input_chars.lt=10,20",
                "--baseline",
                "always:dear",
            ],
            "no \"long\" in \"rule\"",
        ),
        (
            &["--baseline", "always:dear"],
            "nothing to tune: pass --param PATH=VALUES",
        ),
        (
            &[
                "--param",
                "rule.short.when.input_chars.lt=10",
                "--baseline",
                "always:dear",
                "--holdout",
                "1",
            ],
            "--holdout: expected a share of the requests between 0 and 1",
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .arg("tune")
            .arg("-p")
            .arg(&policy)
            .arg("-d")
            .arg(&ds)
            .args(args)
            .arg("-q")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {want} not in {err}");
    }
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
