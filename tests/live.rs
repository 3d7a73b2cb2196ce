//! Live mode against a real HTTP server started on 127.0.0.1 inside each test (the
//! mock provider): failure handling, streaming, crash safety, spend cap, secrets.

use routesim::dataset::recorded::store::{Record, STORE_FILE, read};
use routesim::provider::mock::{MockConfig, MockServer};
use routesim::provider::recorder::{RecordOptions, record};
use std::path::{Path, PathBuf};
use std::process::Command;

const MODEL: &str = "mock/echo";

/// A dataset folder with one recorded model ("base") and the given prompts.
fn dataset(dir: &Path, prompts: &[&str]) {
    let mut req = String::from("id,input,reference\n");
    let mut resp =
        String::from("request_id,model,status,input_tokens,output_tokens,latency_ms,quality\n");
    for (i, p) in prompts.iter().enumerate() {
        req.push_str(&format!("q{i},\"{p}\",\"echo: {p}\"\n"));
        resp.push_str(&format!("q{i},base,ok,10,10,100,0.5\n"));
    }
    std::fs::write(dir.join("requests.csv"), req).unwrap();
    std::fs::write(dir.join("responses.csv"), resp).unwrap();
    std::fs::write(
        dir.join("dataset.toml"),
        "name = \"live\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n[scorer]\nkind = \"exact\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pricing.toml"),
        format!("[models.base]\ninput_per_mtok = 1\noutput_per_mtok = 1\n[models.\"{MODEL}\"]\ninput_per_mtok = 1\noutput_per_mtok = 2\n"),
    )
    .unwrap();
}

/// providers.toml for the mock server; `extra` lines (`key = value`) replace defaults.
fn providers(dir: &Path, base_url: &str, extra: &str) -> PathBuf {
    let mut keys: Vec<(String, String)> = vec![
        ("retries".into(), "2".into()),
        ("backoff_ms".into(), "10".into()),
        ("timeout_ms".into(), "500".into()),
        ("max_tokens".into(), "100".into()),
    ];
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('=').unwrap();
        keys.retain(|(x, _)| x != k.trim());
        keys.push((k.trim().into(), v.trim().into()));
    }
    let mut text = format!(
        "[[provider]]\nname = \"mock\"\nbase_url = \"{base_url}\"\nmodels = {{ \"{MODEL}\" = \"echo-1\" }}\n"
    );
    for (k, v) in keys {
        text.push_str(&format!("{k} = {v}\n"));
    }
    let p = dir.join("providers.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn opts(dir: &Path, providers: PathBuf) -> RecordOptions {
    RecordOptions {
        dataset: dir.to_path_buf(),
        models: vec![MODEL.into()],
        providers,
        samples: 1,
        concurrency: 8,
        quiet: true,
        ..Default::default()
    }
}

fn by_prompt(dir: &Path, prompts: &[&str]) -> Vec<Record> {
    let recs = read(&dir.join(STORE_FILE)).unwrap();
    (0..prompts.len())
        .map(|i| {
            recs.iter()
                .find(|r| r.request_id == format!("q{i}"))
                .cloned()
                .expect("recorded")
        })
        .collect()
}

#[test]
fn every_failure_mode_ends_as_specified() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = [
        "hello world",
        "a #429-once",
        "b #500-always",
        "c #slow",
        "d #malformed",
        "e #drop-once",
        "f #500-once",
    ];
    dataset(dir.path(), &prompts);
    let p = providers(dir.path(), &server.base_url(), "");
    let report = record(&opts(dir.path(), p)).unwrap();
    assert_eq!((report.planned, report.recorded), (7, 7));
    let r = by_prompt(dir.path(), &prompts);
    // ok at once; usage from the server: 2 prompt words, 5 completion tokens.
    assert_eq!(
        (
            r[0].status.as_str(),
            r[0].attempts,
            r[0].input_tokens,
            r[0].output_tokens
        ),
        ("ok", 1, Some(2), Some(5))
    );
    assert!((r[0].cost_usd - (2.0 * 1e-6 + 5.0 * 2e-6)).abs() < 1e-18);
    assert_eq!(r[0].output.as_deref(), Some("echo: hello world"));
    assert_eq!(
        r[0].quality,
        Some(1.0),
        "exact scorer against the reference"
    );
    // 429 with retry-after: 1 → retried after ≥ 1 s, then ok.
    assert_eq!((r[1].status.as_str(), r[1].attempts), ("ok", 2));
    // 500 every time: 1 + 2 retries, recorded as 500, free, no quality.
    assert_eq!(
        (
            r[2].status.as_str(),
            r[2].attempts,
            r[2].cost_usd,
            r[2].quality
        ),
        ("500", 3, 0.0, None)
    );
    // Slower than the 500 ms timeout: retried, then recorded as a timeout.
    assert_eq!((r[3].status.as_str(), r[3].attempts), ("timeout", 3));
    // Malformed JSON in a 200: not retried, recorded as an error.
    assert_eq!((r[4].status.as_str(), r[4].attempts), ("error", 1));
    assert!(
        r[4].error
            .as_deref()
            .unwrap_or("")
            .contains("malformed JSON")
    );
    // Dropped connection: retried, then ok.
    assert_eq!((r[5].status.as_str(), r[5].attempts), ("ok", 2));
    assert_eq!((r[6].status.as_str(), r[6].attempts), ("ok", 2));
    // The dataset now includes the recorded model; a re-run records nothing new.
    let again = record(&opts(
        dir.path(),
        providers(dir.path(), &server.base_url(), ""),
    ))
    .unwrap();
    assert_eq!((again.planned, again.already), (0, 7));
    let ds = routesim::dataset::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(ds.n_models(), 2);
    assert_eq!(ds.cell(0, ds.model_id(MODEL).unwrap()).quality, 1.0);
}

#[test]
fn streaming_measures_time_to_first_token_for_both_apis() {
    let server = MockServer::start(
        0,
        MockConfig {
            latency_ms: 20,
            stall_after: None,
        },
    )
    .unwrap();
    for kind in ["openai", "anthropic"] {
        let dir = tempfile::tempdir().unwrap();
        let prompts = ["tell me a story", "another one"];
        dataset(dir.path(), &prompts);
        let url = if kind == "openai" {
            server.base_url()
        } else {
            format!("http://{}", server.addr)
        };
        let p = providers(
            dir.path(),
            &url,
            &format!("stream = true\nkind = \"{kind}\"\n"),
        );
        record(&opts(dir.path(), p)).unwrap();
        for r in by_prompt(dir.path(), &prompts) {
            assert_eq!(r.status, "ok", "{kind}: {r:?}");
            let ttft = r.ttft_ms.expect("ttft measured when streaming");
            assert!(
                ttft > 0.0 && ttft < r.latency_ms,
                "{kind}: ttft {ttft} latency {}",
                r.latency_ms
            );
            assert!(
                r.output.as_deref().unwrap_or("").starts_with("echo: "),
                "{kind}"
            );
            assert_eq!(r.output_tokens, Some(5), "{kind}: usage from the stream");
        }
    }
}

#[test]
fn sigkill_mid_run_loses_nothing_completed_and_resume_never_duplicates() {
    let n = 40;
    let prompts: Vec<String> = (0..n).map(|i| format!("prompt number {i}")).collect();
    let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), &refs);
    // This server answers 12 calls, then hangs every further one.
    let stalling = MockServer::start(
        0,
        MockConfig {
            latency_ms: 5,
            stall_after: Some(12),
        },
    )
    .unwrap();
    let p = providers(dir.path(), &stalling.base_url(), "timeout_ms = 60000\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "record",
            "--quiet",
            "--concurrency",
            "4",
            "--models",
            MODEL,
            "--providers",
        ])
        .arg(&p)
        .arg("-d")
        .arg(dir.path())
        .spawn()
        .unwrap();
    let store = dir.path().join(STORE_FILE);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let lines = std::fs::read_to_string(&store)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if stalling.completed.load(std::sync::atomic::Ordering::SeqCst) == 12 && lines == 12 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "recording did not progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = read(&store).unwrap();
    assert_eq!(
        before.len(),
        12,
        "every response the server completed is in the store"
    );
    // Resume against a healthy server.
    let healthy = MockServer::start(0, MockConfig::default()).unwrap();
    let p = providers(dir.path(), &healthy.base_url(), "");
    let st = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["record", "--quiet", "--models", MODEL, "--providers"])
        .arg(&p)
        .arg("-d")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let after = read(&store).unwrap();
    assert_eq!(after.len(), n, "one record per cell");
    let mut ids: Vec<&str> = after.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicates");
    assert_eq!(
        &after[..12],
        &before[..],
        "records written before the kill are kept as they were"
    );
    assert_eq!(
        healthy.completed.load(std::sync::atomic::Ordering::SeqCst),
        n - 12,
        "only the missing cells were called"
    );
}

#[test]
fn max_spend_stops_before_the_cap_and_reports_the_recorded_sum() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts: Vec<String> = (0..30).map(|i| format!("question {i} please")).collect();
    let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
    dataset(dir.path(), &refs);
    // Each call reserves its worst case (≈5 prompt tokens × $1/M + 100 max tokens × $2/M
    // ≈ $0.000205) and actually costs 3 × $1/M + 5 × $2/M = $0.000013. With a $0.0003
    // cap the k-th call may start only while 13e-6·k + 205e-6 ≤ 300e-6: about 8 calls.
    let p = providers(dir.path(), &server.base_url(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "record",
            "--quiet",
            "--concurrency",
            "1",
            "--max-spend",
            "0.0003",
            "--models",
            MODEL,
            "--providers",
        ])
        .arg(&p)
        .arg("-d")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = read(&dir.path().join(STORE_FILE)).unwrap();
    let sum: f64 = recs.iter().map(|r| r.cost_usd).sum();
    assert!(sum <= 0.0003, "{sum}");
    assert!(
        !recs.is_empty() && recs.len() < 30,
        "stopped early: {} records",
        recs.len()
    );
    let shown: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("spend: $"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .expect("spend printed");
    assert!(
        (shown - sum).abs() < 1e-6,
        "shown {shown} vs recorded {sum}"
    );
    assert!(stdout.contains("stopped before the spend cap"), "{stdout}");
}

#[test]
fn api_keys_never_reach_files_or_output() {
    // A credential made up at run time (no key-shaped literal in the repository),
    // unique to this process so a match can only come from a leak.
    let key = format!(
        "routesim-test-credential-{}-never-print",
        std::process::id()
    );
    let key = key.as_str();
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The #401 answer echoes the Authorization header back, as some proxies do.
    let prompts = ["hello", "who am i #401"];
    dataset(dir.path(), &prompts);
    let p = providers(
        dir.path(),
        &server.base_url(),
        "api_key_env = \"ROUTESIM_TEST_KEY\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .env("ROUTESIM_TEST_KEY", key)
        .args(["record", "--quiet", "--models", MODEL, "--providers"])
        .arg(&p)
        .arg("-d")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .env("ROUTESIM_TEST_KEY", key)
        .args(["run", "--bootstrap", "50", "-d"])
        .arg(dir.path())
        .arg("-o")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let recs = by_prompt(dir.path(), &prompts);
    assert_eq!(recs[1].status, "401");
    assert!(
        recs[1]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("[REDACTED]"),
        "{:?}",
        recs[1].error
    );
    for o in [&out, &run] {
        assert!(!String::from_utf8_lossy(&o.stdout).contains(key));
        assert!(!String::from_utf8_lossy(&o.stderr).contains(key));
    }
    fn scan(dir: &Path, key: &str) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                scan(&p, key);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                    "key found in {}",
                    p.display()
                );
            }
        }
    }
    scan(dir.path(), key);
}

#[test]
fn run_missing_live_records_then_replays() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = ["one", "two", "three"];
    dataset(dir.path(), &prompts);
    // The policy needs mock/echo, which the dataset has for q0 only.
    std::fs::write(
        dir.path().join("responses.csv"),
        "request_id,model,status,input_tokens,output_tokens,latency_ms,quality\nq0,base,ok,10,10,100,0.5\nq1,base,ok,10,10,100,0.5\nq2,base,ok,10,10,100,0.5\nq0,mock/echo,ok,1,5,50,1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        "name = \"echo\"\n[default]\nroute = \"mock/echo\"\n",
    )
    .unwrap();
    let p = providers(dir.path(), &server.base_url(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "run",
            "--missing",
            "live",
            "--no-baselines",
            "--bootstrap",
            "50",
            "--providers",
        ])
        .arg(&p)
        .arg("-d")
        .arg(dir.path())
        .arg("-p")
        .arg(dir.path().join("policy.toml"))
        .arg("-o")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("recording 2 missing cells"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("report/summary.csv")).unwrap();
    let row = csv.lines().find(|l| l.starts_with("echo,")).unwrap();
    assert!(
        row.starts_with("echo,policy,3,3,1.0000,1.0000,"),
        "full coverage after recording: {row}"
    );
    assert_eq!(
        server.completed.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

/// The dataset's scorer is an LLM judge served by the same loopback server: answers are
/// stored first, verdicts go to judged.jsonl, judge calls are priced and counted in the
/// spend, an unparseable verdict is a missing label (not 0), the dataset reads the
/// verdicts as quality, and an answer stored without a verdict (a crash between the
/// two calls) is judged by the next run without calling the model again.
#[test]
fn llm_judge_scores_answers_prices_its_calls_and_resumes() {
    use routesim::dataset::recorded::store::{JUDGED_FILE, JudgeRecord, read_as};
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = ["good #rate-8", "poor #rate-3", "vague"];
    dataset(dir.path(), &prompts);
    let judge_model = "mock/judge";
    std::fs::write(
        dir.path().join("dataset.toml"),
        format!(
            "name = \"live\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n\
             [scorer]\nkind = \"judge\"\nprovider = \"mock\"\nmodel = \"{judge_model}\"\n\
             template = \"Q {{question}} A {{answer}} R {{reference}}\"\n"
        ),
    )
    .unwrap();
    let mut pricing = std::fs::read_to_string(dir.path().join("pricing.toml")).unwrap();
    pricing.push_str(&format!(
        "[models.\"{judge_model}\"]\ninput_per_mtok = 3\noutput_per_mtok = 4\n"
    ));
    std::fs::write(dir.path().join("pricing.toml"), pricing).unwrap();
    let p = providers(dir.path(), &server.base_url(), "");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "= \"echo-1\" }",
        "= \"echo-1\", \"mock/judge\" = \"judge-1\" }",
    );
    std::fs::write(&p, text).unwrap();

    let report = record(&opts(dir.path(), p.clone())).unwrap();
    assert_eq!((report.recorded, report.judged), (3, 3));
    let answers = by_prompt(dir.path(), &prompts);
    assert!(
        answers.iter().all(|r| r.quality.is_none()),
        "quality comes from the judge store"
    );
    let verdicts: Vec<JudgeRecord> = read_as(&dir.path().join(JUDGED_FILE)).unwrap();
    let verdict = |i: usize| {
        verdicts
            .iter()
            .find(|v| v.request_id == format!("q{i}"))
            .expect("judged")
    };
    assert_eq!(verdict(0).quality, Some(0.8));
    assert_eq!(verdict(1).quality, Some(0.3));
    assert_eq!(
        verdict(2).quality,
        None,
        "unparseable verdict: missing label"
    );
    assert_eq!(
        verdict(2).verdict.as_deref(),
        Some("I cannot rate this answer.")
    );
    // The judge's cost: its prompt "Q <prompt> A echo: <prompt> R echo: <prompt>" in
    // words at $3/M, plus the mock's 5 completion tokens at $4/M.
    let mut judge_total = 0.0;
    for (i, prompt) in prompts.iter().enumerate() {
        let words = 3 + 3 * prompt.split_whitespace().count() + 2;
        let want = (words as f64 * 3.0 + 5.0 * 4.0) / 1e6;
        assert!((verdict(i).cost_usd - want).abs() < 1e-15, "judge cost {i}");
        judge_total += want;
    }
    let answer_total: f64 = answers.iter().map(|r| r.cost_usd).sum();
    assert!((report.judge_spend_usd - judge_total).abs() < 1e-12);
    assert!((report.spend_usd - (answer_total + judge_total)).abs() < 1e-12);
    // The dataset sees the verdicts as quality; the unparseable one stays missing.
    let ds = routesim::dataset::load(dir.path(), &Default::default()).unwrap();
    let m = ds.model_id(MODEL).unwrap();
    assert_eq!(ds.cell(0, m).quality, 0.8);
    assert_eq!(ds.cell(1, m).quality, 0.3);
    assert!(ds.cell(2, m).quality.is_nan());

    // Crash between answer and verdict: drop the verdict of q1; the next run judges
    // the stored answer again and calls nothing else.
    let kept: String = std::fs::read_to_string(dir.path().join(JUDGED_FILE))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"request_id\":\"q1\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join(JUDGED_FILE), kept).unwrap();
    let before = server.received.load(std::sync::atomic::Ordering::SeqCst);
    let again = record(&opts(dir.path(), p)).unwrap();
    let calls = server.received.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!((again.planned, again.recorded, again.judged), (0, 0, 1));
    assert_eq!(calls, 1, "one judge call, no model call");
    let ds = routesim::dataset::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(ds.cell(1, ds.model_id(MODEL).unwrap()).quality, 0.3);
}
