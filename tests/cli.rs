//! The binary on bad input: a clear message with the location, exit code 1, no panic,
//! and no report folder (not even a partial one). And on good input: exit 0.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    /// A copy of the hand-worked fixture dataset plus one good policy.
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let src = common::fixture("hand");
        for f in [
            "dataset.toml",
            "requests.csv",
            "responses.csv",
            "pricing.toml",
        ] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        let c = Case { dir };
        c.write("policy.toml", "name = \"ok\"\n[default]\nroute = \"mid\"\n");
        c
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let t = std::fs::read_to_string(self.path(rel)).unwrap();
        assert!(t.contains(from), "{from}");
        self.write(rel, &t.replacen(from, to, 1));
    }
    fn run(&self, policies: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_routesim"));
        cmd.arg("run")
            .arg("-d")
            .arg(self.dir.path())
            .arg("-o")
            .arg(self.path("out"))
            .arg("--bootstrap")
            .arg("0");
        for p in policies {
            cmd.arg("-p").arg(self.path(p));
        }
        cmd.output().unwrap()
    }
    /// Exit code 1, no panic, every expected fragment in stderr, nothing written.
    fn expect_input_error(&self, out: &Output, fragments: &[&str]) {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "stderr: {err}");
        assert!(!err.contains("panicked"), "{err}");
        for f in fragments {
            assert!(err.contains(f), "missing {f:?} in:\n{err}");
        }
        assert!(
            !self.path("out").exists(),
            "no report folder after an error"
        );
        let leftovers: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "no staging folder left behind");
    }
}

fn name(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn good_input_writes_the_report() {
    let c = Case::new();
    let out = c.run(&["policy.toml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "summary.csv",
        "summary.json",
        "requests.parquet",
        "trace/policy-000.parquet",
        "manifest.json",
    ] {
        assert!(c.path("out").join(f).is_file(), "{f}");
    }
}

#[test]
fn malformed_toml() {
    let c = Case::new();
    c.write("bad.toml", "name = \"bad\"\n[default\nroute = \"mid\"\n");
    let out = c.run(&["bad.toml"]);
    c.expect_input_error(
        &out,
        &[&format!("{}:2:", name(&c.path("bad.toml"))), "invalid TOML"],
    );
}

#[test]
fn unknown_key_with_suggestion() {
    let c = Case::new();
    c.write(
        "bad.toml",
        "name = \"bad\"\n[gateway]\ntimeout = 100\n[default]\nroute = \"mid\"\n",
    );
    let out = c.run(&["bad.toml"]);
    c.expect_input_error(
        &out,
        &[
            &format!("{}:3:1: unknown key \"timeout\"", name(&c.path("bad.toml"))),
            "did you mean \"timeout_ms\"",
        ],
    );
}

#[test]
fn unknown_model() {
    let c = Case::new();
    c.write(
        "bad.toml",
        "name = \"bad\"\n[default]\nroute.fallback = [\"mid\", \"premum\"]\n",
    );
    let out = c.run(&["bad.toml"]);
    c.expect_input_error(
        &out,
        &[
            &format!(
                "{}:3:26: unknown model \"premum\"",
                name(&c.path("bad.toml"))
            ),
            "did you mean \"premium\"",
        ],
    );
}

#[test]
fn non_positive_weight() {
    let c = Case::new();
    c.write(
        "bad.toml",
        "name = \"bad\"\n[default]\nroute.split = { cheap = 70, mid = -30 }\n",
    );
    let out = c.run(&["bad.toml"]);
    c.expect_input_error(
        &out,
        &[
            &format!("{}:3:35:", name(&c.path("bad.toml"))),
            "expected a positive number, found -30",
        ],
    );
}

#[test]
fn bad_regex() {
    let c = Case::new();
    c.write(
        "bad.toml",
        "name = \"bad\"\n[[rule]]\nname = \"r\"\nwhen = { input = { regex = \"[a-\" } }\nroute = \"cheap\"\n[default]\nroute = \"mid\"\n",
    );
    let out = c.run(&["bad.toml"]);
    c.expect_input_error(
        &out,
        &[&format!(
            "{}:4:28: invalid regular expression",
            name(&c.path("bad.toml"))
        )],
    );
}

#[test]
fn condition_on_a_missing_field() {
    let c = Case::new();
    c.write(
        "bad.toml",
        "name = \"bad\"\n[[rule]]\nname = \"r\"\nwhen = { meta.tier = \"gold\" }\nroute = \"cheap\"\n[default]\nroute = \"mid\"\n",
    );
    let out = c.run(&["bad.toml"]);
    c.expect_input_error(
        &out,
        &[
            &format!(
                "{}:4:15: condition on meta.tier, but the dataset has no such field",
                name(&c.path("bad.toml"))
            ),
            "task",
        ],
    );
}

#[test]
fn every_policy_error_is_reported_at_once() {
    let c = Case::new();
    c.write(
        "a.toml",
        "name = \"a\"\ncolour = 1\n[default]\nroute = \"mid\"\n",
    );
    c.write("b.toml", "name = \"b\"\n[default]\nroute = \"nope\"\n");
    c.write(
        "d.toml",
        "name = \"d\"\n[default]\nroute.split = { mid = 0 }\n",
    );
    let out = c.run(&["a.toml", "b.toml", "d.toml"]);
    // Structure errors of a and d and the binding error of b, all in one run.
    c.expect_input_error(
        &out,
        &[
            "a.toml:2:1: unknown key \"colour\"",
            "b.toml:3:9: unknown model \"nope\"",
            "d.toml:3:23:",
        ],
    );
}

#[test]
fn dataset_row_missing_a_required_column() {
    let c = Case::new();
    c.edit("responses.csv", "request_id,model,", "request_id,mdl,");
    let out = c.run(&["policy.toml"]);
    c.expect_input_error(
        &out,
        &[
            &format!(
                "{}: missing required column \"model\"",
                name(&c.path("responses.csv"))
            ),
            "found columns: request_id, mdl",
        ],
    );
    // JSONL: the row that lacks it is named.
    let c = Case::new();
    c.write("responses.jsonl", "{\"request_id\":\"q1\",\"model\":\"mid\",\"latency_ms\":5}\n{\"request_id\":\"q2\",\"latency_ms\":5}\n");
    c.edit("dataset.toml", "responses.csv", "responses.jsonl");
    let out = c.run(&["policy.toml"]);
    c.expect_input_error(
        &out,
        &[&format!(
            "{}: row 2: missing required column \"model\"",
            name(&c.path("responses.jsonl"))
        )],
    );
}

#[test]
fn non_numeric_token_count() {
    let c = Case::new();
    c.edit(
        "responses.csv",
        "q1,mid,0,ok,60,800,,0.8",
        "q1,mid,0,ok,sixty,800,,0.8",
    );
    let out = c.run(&["policy.toml"]);
    c.expect_input_error(&out, &[&format!("{}: row 2, column \"output_tokens\": expected a non-negative whole number, found \"sixty\"", name(&c.path("responses.csv")))]);
}

#[test]
fn bad_command_line_is_invalid_input() {
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "--example", "--limit", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("invalid value '0' for '--limit"), "{err}");
}

#[test]
fn empty_requests_file() {
    let c = Case::new();
    c.write("requests.csv", "");
    let out = c.run(&["policy.toml"]);
    c.expect_input_error(
        &out,
        &[&format!(
            "{}: the file is empty: expected a header row and one row per request",
            name(&c.path("requests.csv"))
        )],
    );
}

#[test]
fn bad_arrival_trace_row() {
    let c = Case::new();
    c.write(
        "arrivals.csv",
        "TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.98,10\nsoon,12\n",
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_routesim"));
    let out = cmd
        .arg("run")
        .arg("-d")
        .arg(c.dir.path())
        .arg("-p")
        .arg(c.path("policy.toml"))
        .arg("-o")
        .arg(c.path("out"))
        .arg("--arrival")
        .arg(format!("trace:{}", c.path("arrivals.csv").display()))
        .output()
        .unwrap();
    c.expect_input_error(
        &out,
        &[&format!(
            "{}: row 2, column \"TIMESTAMP\": expected a timestamp (ISO 8601 or seconds), found \"soon\"",
            name(&c.path("arrivals.csv"))
        )],
    );
}

#[test]
fn duplicate_request_id() {
    let c = Case::new();
    c.edit("requests.csv", "q2,2024", "q1,2024");
    let out = c.run(&["policy.toml"]);
    c.expect_input_error(
        &out,
        &[&format!(
            "{}: row 2: duplicate request id \"q1\" (first defined in",
            name(&c.path("requests.csv"))
        )],
    );
}

#[test]
fn unknown_model_in_pricing_is_an_error_not_zero() {
    let c = Case::new();
    c.edit("pricing.toml", "[models.mid]", "[models.middle]");
    let out = c.run(&["policy.toml"]);
    c.expect_input_error(&out, &["no price for model \"mid\""]);
}

#[test]
fn validate_reports_binding_errors_with_a_dataset() {
    let c = Case::new();
    c.write("bad.toml", "name = \"bad\"\n[default]\nroute = \"gpt-5\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["validate"])
        .arg(c.path("bad.toml"))
        .arg("-d")
        .arg(c.dir.path())
        .output()
        .unwrap();
    c.expect_input_error(&out, &["bad.toml:3:9: unknown model \"gpt-5\""]);
    let ok = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["validate", "--example"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// Issue 14: `routesim … | head` ends quietly with exit 0 for every command that
/// prints — the reader of stdout is gone before the first line (a pipe whose read end
/// is closed before the process starts), so every write fails with EPIPE.
#[test]
fn broken_pipes_end_quietly_for_every_command() {
    let c = Case::new();
    let closed_stdout = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let run_quiet = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .args(args)
            .stdout(closed_stdout())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    };
    let p = |s: &Path| s.as_os_str().to_owned();
    let synth = c.path("synth");
    run_quiet(&[
        "synth".as_ref(),
        "--requests".as_ref(),
        "30".as_ref(),
        "--models".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        &p(&synth),
    ]);
    assert!(
        synth.join("requests.jsonl").is_file(),
        "synth wrote its files"
    );
    run_quiet(&[
        "validate".as_ref(),
        &p(&c.path("policy.toml")),
        "-d".as_ref(),
        &p(c.dir.path()),
    ]);
    let report = c.path("out");
    run_quiet(&[
        "run".as_ref(),
        "-d".as_ref(),
        &p(c.dir.path()),
        "-p".as_ref(),
        &p(&c.path("policy.toml")),
        "-o".as_ref(),
        &p(&report),
        "--bootstrap".as_ref(),
        "20".as_ref(),
    ]);
    assert!(report.join("report.md").is_file(), "the report was written");
    run_quiet(&["report".as_ref(), &p(&report)]);
    run_quiet(&["compare".as_ref(), &p(&report), &p(&report)]);
    // Shards and their merge print too.
    let shards: Vec<_> = (1..=2).map(|i| c.path(&format!("shard{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        run_quiet(&[
            "run".as_ref(),
            "-d".as_ref(),
            &p(c.dir.path()),
            "-p".as_ref(),
            &p(&c.path("policy.toml")),
            "--shard".as_ref(),
            format!("{i}/2").as_ref(),
            "-o".as_ref(),
            &p(s),
        ]);
    }
    run_quiet(&[
        "merge".as_ref(),
        &p(&shards[0]),
        &p(&shards[1]),
        "-o".as_ref(),
        &p(&c.path("merged")),
    ]);
    assert!(
        c.path("merged/summary.csv").is_file(),
        "the merge was written"
    );
    run_quiet(&["--help".as_ref()]);
    // record: a loopback mock provider answers.
    let server = routesim::provider::mock::MockServer::start(0, Default::default()).unwrap();
    let rec = c.path("rec");
    std::fs::create_dir(&rec).unwrap();
    std::fs::write(rec.join("requests.csv"), "id,input\nq1,hello\n").unwrap();
    std::fs::write(
        rec.join("pricing.toml"),
        "[models.\"m\"]\ninput_per_mtok = 1\noutput_per_mtok = 1\n",
    )
    .unwrap();
    let providers = c.path("providers.toml");
    std::fs::write(
        &providers,
        format!(
            "[[provider]]\nname = \"mock\"\nbase_url = \"{}\"\nmodels = {{ m = \"echo\" }}\n",
            server.base_url()
        ),
    )
    .unwrap();
    run_quiet(&[
        "record".as_ref(),
        "-d".as_ref(),
        &p(&rec),
        "--models".as_ref(),
        "m".as_ref(),
        "--providers".as_ref(),
        &p(&providers),
        "--pricing".as_ref(),
        &p(&rec.join("pricing.toml")),
    ]);
    assert_eq!(
        routesim::dataset::recorded::store::read(&rec.join("recorded.jsonl"))
            .unwrap()
            .len(),
        1,
        "record stored its answer"
    );
    // The decision, pricing, import and scripting commands.
    c.write(
        "other.toml",
        "name = \"other\"\n[default]\nroute = \"cheap\"\n",
    );
    let (policy, other) = (p(&c.path("policy.toml")), p(&c.path("other.toml")));
    let data = p(c.dir.path());
    run_quiet(&["diff".as_ref(), &policy, &other, "-d".as_ref(), &data]);
    run_quiet(&[
        "explain".as_ref(),
        "-p".as_ref(),
        &policy,
        "-d".as_ref(),
        &data,
        "--request".as_ref(),
        "q1".as_ref(),
    ]);
    run_quiet(&["prices".as_ref(), "gpt-4o*".as_ref()]);
    run_quiet(&["completions".as_ref(), "bash".as_ref()]);
    let log = p(&common::fixture("gateway/litellm_slp/trace.jsonl"));
    run_quiet(&[
        "import".as_ref(),
        &log,
        "-o".as_ref(),
        &p(&c.path("imported")),
    ]);
    run_quiet(&[
        "import-config".as_ref(),
        "litellm".as_ref(),
        &p(&common::fixture("config_import/litellm/config.yaml")),
    ]);
    c.write(
        "tuned.toml",
        "name = \"tuned\"\n[default]\nroute.cheapest = { candidates = [\"cheap\", \"mid\"], min_quality = 0.5 }\n",
    );
    run_quiet(&[
        "tune".as_ref(),
        "-p".as_ref(),
        &p(&c.path("tuned.toml")),
        "-d".as_ref(),
        &data,
        "--param".as_ref(),
        "min_quality=0.2,0.5".as_ref(),
        "--baseline".as_ref(),
        "always:mid".as_ref(),
        "--max-quality-drop".as_ref(),
        "1".as_ref(),
    ]);
    // A recording that stops still fails (exit 2) when its report cannot be printed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(
        &providers,
        format!(
            "[[provider]]\nname = \"dead\"\nbase_url = \"http://{dead}/v1\"\nmodels = {{ m2 = \"echo\" }}\nretries = 0\noutage_retry_s = 0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        rec.join("pricing.toml"),
        "[models.\"m2\"]\ninput_per_mtok = 1\noutput_per_mtok = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["record", "--no-preflight", "--models", "m2", "-d"])
        .arg(&rec)
        .arg("--providers")
        .arg(&providers)
        .arg("--pricing")
        .arg(rec.join("pricing.toml"))
        .stdout(closed_stdout())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("recording stopped: provider \"dead\""),
        "{err}"
    );
}
