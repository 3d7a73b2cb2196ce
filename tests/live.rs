//! Live mode against a real HTTP server started on 127.0.0.1 inside each test (the
//! mock provider): answers versus calls without an answer (issue 14), the preflight,
//! gateway outages, prompts-only datasets, served models and reported costs,
//! streaming, crash safety, spend cap, secrets.

use routesim::dataset::recorded::store::{Record, STORE_FILE, read};
use routesim::provider::mock::{MockConfig, MockServer, Outage};
use routesim::provider::recorder::{RecordOptions, record};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

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

fn routesim(args: &[&str], dir: &Path, providers: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .arg("--providers")
        .arg(providers)
        .arg("-d")
        .arg(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Records in the store (missing file: none).
fn stored(dir: &Path) -> Vec<Record> {
    read(&dir.join(STORE_FILE)).unwrap()
}

#[test]
fn every_answer_is_stored_and_calls_without_one_are_retried() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = [
        "hello world",
        "a #429-once",
        "b #500-always",
        "d #malformed",
        "e #drop-once",
        "f #500-once",
        "g #reset-once",
    ];
    dataset(dir.path(), &prompts);
    let p = providers(dir.path(), &server.base_url(), "");
    let report = record(&opts(dir.path(), p)).unwrap();
    assert_eq!((report.planned, report.recorded), (7, 7));
    assert_eq!(report.stopped, None);
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
    assert_eq!(r[0].cost_source.as_deref(), Some("price"));
    assert_eq!(r[0].output.as_deref(), Some("echo: hello world"));
    assert_eq!(
        r[0].quality,
        Some(1.0),
        "exact scorer against the reference"
    );
    assert_eq!(
        r[0].concurrency,
        Some(8),
        "--concurrency 8 < max_concurrency 16"
    );
    // 429 with retry-after: 1 → retried after ≥ 1 s, then ok.
    assert_eq!((r[1].status.as_str(), r[1].attempts), ("ok", 2));
    // 500 every time: the provider's answer, 1 + 2 retries, recorded as 500, free,
    // no quality.
    assert_eq!(
        (
            r[2].status.as_str(),
            r[2].attempts,
            r[2].cost_usd,
            r[2].quality
        ),
        ("500", 3, 0.0, None)
    );
    // Malformed JSON in a 200: not retried, recorded as an error.
    assert_eq!((r[3].status.as_str(), r[3].attempts), ("error", 1));
    assert!(
        r[3].error
            .as_deref()
            .unwrap_or("")
            .contains("malformed JSON")
    );
    // Dropped and reset connections are no answer: retried, then ok; nothing of the
    // failed call is kept.
    for i in [4, 6] {
        assert_eq!(
            (r[i].status.as_str(), r[i].attempts, &r[i].error),
            ("ok", 2, &None),
            "{i}"
        );
    }
    assert_eq!((r[5].status.as_str(), r[5].attempts), ("ok", 2));
    // The dataset now includes the recorded model; a re-run records nothing new.
    let again = record(&opts(
        dir.path(),
        providers(dir.path(), &server.base_url(), ""),
    ))
    .unwrap();
    assert_eq!((again.planned, again.already), (0, 7));
    assert!(
        again.preflight.is_empty(),
        "nothing to record: no preflight call"
    );
    let ds = routesim::dataset::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(ds.n_models(), 2);
    assert_eq!(ds.cell(0, ds.model_id(MODEL).unwrap()).quality, 1.0);
    assert!(
        !ds.info
            .warnings
            .iter()
            .any(|w| w.contains("ignored columns")),
        "the store's own columns are known: {:?}",
        ds.info.warnings
    );
}

/// No byte before the client's timeout is no answer: retried for `outage_retry_s`,
/// then the run stops (exit 2) naming provider, model and error; answers already
/// stored are kept, and a re-run records exactly the cells still missing.
#[test]
fn a_call_that_never_answers_stops_the_run_and_a_rerun_fills_the_rest() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = ["one", "two #slow", "three", "four", "five"];
    dataset(dir.path(), &prompts);
    let p = providers(
        dir.path(),
        &server.base_url(),
        "timeout_ms = 300\noutage_retry_s = 0.5\n",
    );
    let out = routesim(
        &["record", "--quiet", "--concurrency", "1", "--models", MODEL],
        dir.path(),
        &p,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "recording stopped: provider \"mock\", model \"mock/echo\" (\"echo-1\" at http://127.0.0.1:",
        "unreachable after 3 calls",
        "no response within timeout_ms = 300",
        "every answer received is stored (1 this run)",
        "record the 4 cells still missing",
    ] {
        assert!(err.contains(want), "{want}\n{}", text(&out));
    }
    // With one call in flight: q0 answered, q1 never did, q2–q4 were not started.
    let recs = stored(dir.path());
    assert_eq!(
        recs.iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        vec!["q0"]
    );
    let p = providers(dir.path(), &server.base_url(), "timeout_ms = 5000\n");
    let again = record(&opts(dir.path(), p)).unwrap();
    assert_eq!((again.planned, again.recorded, again.already), (4, 4, 1));
    let mut ids: Vec<String> = stored(dir.path())
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["q0", "q1", "q2", "q3", "q4"]);
}

/// A gateway that crashes mid-run (connections reset, then refused) and comes back:
/// within `outage_retry_s` the run rides it out; past it the run stops (exit 2) with
/// nothing but answers stored, and the re-run completes. Every cell once, no error
/// stored.
#[test]
fn a_gateway_outage_is_ridden_out_or_stops_cleanly() {
    let n = 30;
    let prompts: Vec<String> = (0..n).map(|i| format!("question {i}")).collect();
    let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
    // Down for 1.5 s after 10 requests (the preflight's included).
    let crash = Outage {
        after: 10,
        down_ms: 1500,
    };
    let server = MockServer::start(
        0,
        MockConfig {
            latency_ms: 20,
            outage: Some(crash),
            ..Default::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), &refs);
    let p = providers(dir.path(), &server.base_url(), "outage_retry_s = 20\n");
    let t0 = std::time::Instant::now();
    let report = record(&RecordOptions {
        concurrency: 4,
        ..opts(dir.path(), p)
    })
    .unwrap();
    assert!(t0.elapsed().as_millis() >= 1500, "the outage happened");
    assert_eq!(report.stopped, None);
    assert_eq!((report.planned, report.recorded), (n, n));
    let recs = stored(dir.path());
    assert!(recs.iter().all(|r| r.status == "ok" && r.error.is_none()));
    assert!(
        recs.iter().any(|r| r.attempts > 1),
        "calls cut by the crash were retried"
    );
    let mut ids: Vec<&str> = recs.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "every cell once");

    // The same crash, but the gateway stays down longer than outage_retry_s.
    let server = MockServer::start(
        0,
        MockConfig {
            latency_ms: 20,
            outage: Some(Outage {
                after: 10,
                down_ms: 30_000,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), &refs);
    let p = providers(dir.path(), &server.base_url(), "outage_retry_s = 0.3\n");
    let out = routesim(
        &["record", "--quiet", "--concurrency", "4", "--models", MODEL],
        dir.path(),
        &p,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unreachable after"),
        "{}",
        text(&out)
    );
    let before = stored(dir.path());
    // At most the 9 cells received before the crash (after the preflight) were
    // answered; calls still in flight were reset.
    let k = before.len();
    assert!((1..=9).contains(&k), "{k}: {}", text(&out));
    assert!(before.iter().all(|r| r.status == "ok" && r.error.is_none()));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("recorded {k} of {n} planned")),
        "{}",
        text(&out)
    );
    let healthy = MockServer::start(0, MockConfig::default()).unwrap();
    let p = providers(dir.path(), &healthy.base_url(), "");
    let again = record(&opts(dir.path(), p)).unwrap();
    assert_eq!((again.planned, again.recorded), (n - k, n - k));
    // The preflight plus one call per missing cell.
    assert_eq!(healthy.completed.load(Ordering::SeqCst), 1 + n - k);
    let after = stored(dir.path());
    let mut ids: Vec<&str> = after.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((after.len(), ids.len()), (n, n), "every cell once");
}

/// A refused key, an unknown model and an unreachable endpoint are found by one
/// cheap call each before anything is recorded, all reported at once (exit 2).
#[test]
fn preflight_stops_bad_keys_unknown_models_and_dead_endpoints_before_recording() {
    let key = format!("routesim-preflight-{}-good", std::process::id());
    let server = MockServer::start(
        0,
        MockConfig {
            api_key: Some(key.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let plain = {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            }
        });
        addr
    };
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), &["hello", "world"]);
    let p = dir.path().join("providers.toml");
    let provider = |name: &str, url: &str, model: &str, id: &str| {
        format!(
            "[[provider]]\nname = \"{name}\"\nbase_url = \"{url}\"\napi_key_env = \"ROUTESIM_PREFLIGHT_KEY\"\nmodels = {{ \"{model}\" = \"{id}\" }}\nretries = 1\nbackoff_ms = 10\n"
        )
    };
    std::fs::write(
        &p,
        [
            provider("good", &server.base_url(), MODEL, "echo-1"),
            provider("typo", &server.base_url(), "mock/typo", "unknown-echo"),
            provider(
                "dead",
                &format!("http://127.0.0.1:{dead}/v1"),
                "mock/dead",
                "echo-1",
            ),
            // TLS to a server that answers in plain text: the handshake fails.
            provider("tls", &format!("https://{plain}/v1"), "mock/tls", "echo-1"),
        ]
        .concat(),
    )
    .unwrap();
    let mut pricing = std::fs::read_to_string(dir.path().join("pricing.toml")).unwrap();
    for m in ["mock/typo", "mock/dead", "mock/tls"] {
        pricing.push_str(&format!(
            "[models.\"{m}\"]\ninput_per_mtok = 1\noutput_per_mtok = 1\n"
        ));
    }
    std::fs::write(dir.path().join("pricing.toml"), pricing).unwrap();
    let run = |key: &str, models: &str, extra: &[&str]| {
        let mut args = vec!["record", "--quiet", "--models", models];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_routesim"))
            .env("ROUTESIM_PREFLIGHT_KEY", key)
            .args(&args)
            .arg("--providers")
            .arg(&p)
            .arg("-d")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&key, "mock/echo,mock/typo,mock/dead,mock/tls", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "the preflight stopped the run before any cell was recorded (--no-preflight skips it)",
        "provider \"typo\", model \"mock/typo\" (\"unknown-echo\" at http://127.0.0.1:",
        "unknown model: ",
        "model_not_found",
        "provider \"dead\", model \"mock/dead\"",
        "provider \"tls\", model \"mock/tls\" (\"echo-1\" at https://127.0.0.1:",
        "received corrupt message of type InvalidContentType",
        "unreachable: ",
        "Connection refused",
        "is the base URL right and the server up?",
    ] {
        assert!(err.contains(want), "{want}\n{}", text(&out));
    }
    assert!(
        !err.contains("provider \"good\""),
        "the good pair passed: {err}"
    );
    assert!(!dir.path().join(STORE_FILE).exists(), "nothing recorded");

    // A wrong key: refused by the preflight, and the key is never printed.
    let wrong = format!("routesim-preflight-{}-wrong", std::process::id());
    let out = run(&wrong, "mock/echo", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key refused: ")
            && err.contains("check the key in the provider's api_key_env"),
        "{err}"
    );
    assert!(!err.contains(&wrong) && !err.contains(&key));
    assert!(!dir.path().join(STORE_FILE).exists(), "nothing recorded");

    // Without the preflight the first call finds the wrong key: the run stops, the
    // 401 is not stored as an answer.
    let out = run(
        &wrong,
        "mock/echo",
        &["--no-preflight", "--concurrency", "1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key refused after 2 calls"),
        "{}",
        text(&out)
    );
    assert!(stored(dir.path()).is_empty(), "a 401 is never an answer");

    // The right key: recorded, the preflight line printed.
    let out = run(&key, "mock/echo", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("preflight: mock/echo ok ("), "{stdout}");
    assert_eq!(stored(dir.path()).len(), 2);
}

/// `record` starts from prompts alone — a requests file with or without dataset.toml
/// — and `run` then needs no price file: every recorded cell keeps its cost.
#[test]
fn prompts_only_datasets_are_recorded_and_run_without_a_price_file() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let with_toml = tempfile::tempdir().unwrap();
    let bare = tempfile::tempdir().unwrap();
    let requests = "{\"id\": \"a\", \"input\": \"first prompt here\"}\n{\"id\": \"b\", \"input\": \"second one\"}\n{\"id\": \"c\", \"input\": \"x\"}\n";
    for d in [with_toml.path(), bare.path()] {
        std::fs::write(d.join("requests.jsonl"), requests).unwrap();
    }
    std::fs::write(
        with_toml.path().join("dataset.toml"),
        "name = \"prompts\"\nrequests = \"requests.jsonl\"\n",
    )
    .unwrap();
    for d in [with_toml.path(), bare.path()] {
        // Without responses, `run` says what to do.
        let run = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .args(["run", "--bootstrap", "20", "-d"])
            .arg(d)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1), "{}", text(&run));
        assert!(
            String::from_utf8_lossy(&run.stderr).contains(
                "no responses yet (a prompts-only dataset): record some with `routesim record"
            ),
            "{}",
            text(&run)
        );
        let pricing = d.join("prices.toml");
        std::fs::write(
            &pricing,
            format!("[models.\"{MODEL}\"]\ninput_per_mtok = 1\noutput_per_mtok = 2\n"),
        )
        .unwrap();
        let p = providers(d, &server.base_url(), "");
        let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .args(["record", "--quiet", "--models", MODEL, "--pricing"])
            .arg(&pricing)
            .arg("--providers")
            .arg(&p)
            .arg("-d")
            .arg(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let recs = stored(d);
        assert_eq!(recs.len(), 3);
        // Words in the prompt at $1/M plus 5 completion tokens at $2/M:
        // a: 3 + 10 = 13e-6, b: 2 + 10 = 12e-6, c: 1 + 10 = 11e-6 → $0.000036.
        let sum: f64 = recs.iter().map(|r| r.cost_usd).sum();
        assert!((sum - 36e-6).abs() < 1e-15, "{sum}");
        std::fs::remove_file(&pricing).unwrap();
        // `run` without --pricing: recorded costs need no price; answers without a
        // scorer are "no labels" in the table, the headline and the chart.
        let report = d.join("report");
        let policy = d.join("policy.toml");
        std::fs::write(
            &policy,
            format!("name = \"echo\"\n[default]\nroute = \"{MODEL}\"\n"),
        )
        .unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .args([
                "run",
                "--bootstrap",
                "20",
                "--baseline",
                "always:mock/echo",
                "-d",
            ])
            .arg(d)
            .arg("-p")
            .arg(&policy)
            .arg("-o")
            .arg(&report)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", text(&run));
        let csv = std::fs::read_to_string(report.join("summary.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let row: Vec<&str> = csv
            .lines()
            .find(|l| l.starts_with("always:mock/echo,"))
            .unwrap()
            .split(',')
            .collect();
        let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
        // $0.000036 over 3 requests = $0.012 per 1k.
        let per_1k: f64 = col("cost_per_1k_usd").parse().unwrap();
        assert!((per_1k - 0.012).abs() < 1e-9, "{per_1k}");
        assert_eq!(col("quality_mean"), "", "no labels: no quality, not 0");
        let stdout = String::from_utf8_lossy(&run.stdout);
        // --concurrency 32 (the default) capped by the provider's max_concurrency 16.
        assert!(
            stdout.contains("calls in flight per provider: mock at 16 (3 cells)"),
            "{stdout}"
        );
        assert!(!stdout.contains("ignored columns"), "{stdout}");
        assert!(
            stdout.contains("echo vs always:mock/echo: cost +0.0%"),
            "{stdout}"
        );
        assert!(
            stdout.contains("quality not compared (no quality labels)"),
            "{stdout}"
        );
        let md = std::fs::read_to_string(report.join("report.md")).unwrap();
        assert!(md.contains(
            "a gateway queues calls, so their latency depends on the recording concurrency"
        ));
        let chart = std::fs::read_to_string(report.join("charts/cost_quality.svg")).unwrap();
        assert!(chart.contains("no priced, labelled policies to plot"));
    }
}

/// `routesim synth` output: its `input` is the last message while `input_tokens`
/// counts the whole context, so live cells are far cheaper — said at record and at
/// run time.
#[test]
fn synth_output_is_recorded_with_a_note_on_the_short_text_sent() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("synth");
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "synth",
            "--requests",
            "20",
            "--models",
            "1",
            "--seed",
            "3",
            "-o",
        ])
        .arg(&ds)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut pricing = std::fs::read_to_string(ds.join("pricing.toml")).unwrap();
    pricing.push_str(&format!(
        "\n[models.\"{MODEL}\"]\ninput_per_mtok = 1\noutput_per_mtok = 2\n"
    ));
    std::fs::write(ds.join("pricing.toml"), pricing).unwrap();
    let p = providers(dir.path(), &server.base_url(), "");
    let out = routesim(&["record", "--quiet", "--models", MODEL], &ds, &p);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("note: the text sent is far shorter than the dataset's input_tokens for "),
        "{stdout}"
    );
    assert_eq!(stored(&ds).len(), 20);
    let ds_loaded = routesim::dataset::load(&ds, &Default::default()).unwrap();
    assert!(
        ds_loaded
            .info
            .warnings
            .iter()
            .any(|w| w.contains("the text sent is far shorter than the dataset's input_tokens")),
        "{:?}",
        ds_loaded.info.warnings
    );
}

/// What was served is stored: another model answering (its price, not the asked
/// one's), the gateway's reported cost, the response id; the report's model mix
/// shows the served model.
#[test]
fn the_served_model_and_the_reported_cost_are_stored_and_used() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = ["plain answer", "rerouted #fallback", "priced #cost"];
    dataset(dir.path(), &prompts);
    let mut pricing = std::fs::read_to_string(dir.path().join("pricing.toml")).unwrap();
    pricing.push_str("[models.\"mock/cheap\"]\ninput_per_mtok = 0.5\noutput_per_mtok = 0.5\n");
    std::fs::write(dir.path().join("pricing.toml"), pricing).unwrap();
    let p = providers(dir.path(), &server.base_url(), "");
    let text_p = std::fs::read_to_string(&p).unwrap().replace(
        "= \"echo-1\" }",
        "= \"echo-1\", \"mock/cheap\" = \"cheap-1\" }",
    );
    std::fs::write(&p, text_p).unwrap();
    let report = record(&opts(dir.path(), p)).unwrap();
    let r = by_prompt(dir.path(), &prompts);
    // Plain: the model asked for, its price: 2 words × $1/M + 5 × $2/M.
    assert_eq!(
        (r[0].served_model.as_deref(), r[0].served_id.as_deref()),
        (None, Some("echo-1"))
    );
    assert!((r[0].cost_usd - 12e-6).abs() < 1e-18);
    assert!(
        r[0].response_id
            .as_deref()
            .unwrap_or("")
            .starts_with("chatcmpl-mock-")
    );
    // Answered by cheap-1, which providers.toml maps to mock/cheap: priced at its
    // $0.5/M both ways, 2 words + 5 tokens = 7 × 0.5e-6 = 3.5e-6 (not 12e-6).
    assert_eq!(r[1].served_model.as_deref(), Some("mock/cheap"));
    assert_eq!(r[1].cost_source.as_deref(), Some("served price"));
    assert!((r[1].cost_usd - 3.5e-6).abs() < 1e-18, "{}", r[1].cost_usd);
    // The usage block's cost (OpenRouter) is the cost.
    assert_eq!(
        (r[2].cost_usd, r[2].cost_source.as_deref()),
        (0.000123, Some("gateway"))
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("mock/echo → mock/cheap: 1")),
        "{:?}",
        report.notes
    );
    // The dataset carries the served model to the report's model mix.
    std::fs::write(
        dir.path().join("policy.toml"),
        format!("name = \"echo\"\n[default]\nroute = \"{MODEL}\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "--bootstrap", "20", "--no-baselines", "-p"])
        .arg(dir.path().join("policy.toml"))
        .arg("-d")
        .arg(dir.path())
        .arg("-o")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report/summary.json")).unwrap(),
    )
    .unwrap();
    let echo = json
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["policy"] == "echo")
        .unwrap_or_else(|| panic!("{json}"));
    let mix: Vec<(String, f64)> = echo["model_mix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap().to_string(),
                m["share"].as_f64().unwrap(),
            )
        })
        .collect();
    // 2 of 3 answers by mock/echo, 1 by mock/cheap.
    assert_eq!(mix.len(), 2, "{mix:?}");
    assert!(
        mix.iter()
            .any(|(m, x)| m == "mock/cheap" && (x - 1.0 / 3.0).abs() < 1e-3),
        "{mix:?}"
    );
}

#[test]
fn streaming_measures_time_to_first_token_for_both_apis() {
    let server = MockServer::start(
        0,
        MockConfig {
            latency_ms: 20,
            ..Default::default()
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

/// Errors sent inside a stream are the provider's answer, not a success with the text
/// that came before: OpenAI-compatible servers send `data: {"error": {…}}` (the mock
/// sends code 502), Anthropic `event: error` with `overloaded_error` (529). Both are
/// retried like the same status sent as a code (`retries = 1`: 2 attempts), then
/// stored. Events framed with `\r\n` (sse-starlette servers) read like `\n`; a stream
/// closed cleanly before its end marker is cut, retried, and the whole answer stored.
#[test]
fn stream_error_events_crlf_framing_and_early_ends() {
    for (kind, error_status) in [("openai", "502"), ("anthropic", "529")] {
        // A server per API: the mock counts calls per prompt for the `-once` faults.
        let server = MockServer::start(0, MockConfig::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let prompts = [
            "fails midway #stream-error",
            "windows framing #crlf",
            "closes early #end-early-once",
        ];
        dataset(dir.path(), &prompts);
        let url = if kind == "openai" {
            server.base_url()
        } else {
            format!("http://{}", server.addr)
        };
        let p = providers(
            dir.path(),
            &url,
            &format!("stream = true\nkind = \"{kind}\"\nretries = 1\nbackoff_ms = 1\n"),
        );
        let report = record(&opts(dir.path(), p)).unwrap();
        assert_eq!(report.stopped, None, "{kind}");
        let r = by_prompt(dir.path(), &prompts);
        assert_eq!(
            (r[0].status.as_str(), r[0].attempts),
            (error_status, 2),
            "{kind}: {:?}",
            r[0]
        );
        assert!(
            r[0].error.as_deref().unwrap_or("").contains("error event"),
            "{kind}: {:?}",
            r[0]
        );
        assert_eq!((r[1].status.as_str(), r[1].attempts), ("ok", 1), "{kind}");
        assert_eq!(
            r[1].output.as_deref(),
            Some("echo: windows framing #crlf"),
            "{kind}"
        );
        assert_eq!(
            r[1].output_tokens,
            Some(5),
            "{kind}: usage read through CRLF"
        );
        assert_eq!((r[2].status.as_str(), r[2].attempts), ("ok", 2), "{kind}");
        assert_eq!(
            r[2].output.as_deref(),
            Some("echo: closes early #end-early-once"),
            "{kind}"
        );
    }
}

/// A stream cut after its first event is no answer, however much arrived: retried,
/// and the complete answer stored. A stream that started and then outlasts
/// `timeout_ms` is the model being too slow: a stored timeout.
#[test]
fn cut_streams_are_retried_and_stalled_streams_are_stored_timeouts() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = ["cut me #cut-stream-once", "stall #stall-stream"];
    dataset(dir.path(), &prompts);
    let p = providers(
        dir.path(),
        &server.base_url(),
        "stream = true\ntimeout_ms = 500\nretries = 1\n",
    );
    let report = record(&opts(dir.path(), p)).unwrap();
    assert_eq!(report.stopped, None);
    let r = by_prompt(dir.path(), &prompts);
    assert_eq!((r[0].status.as_str(), r[0].attempts), ("ok", 2));
    assert_eq!(
        r[0].output.as_deref(),
        Some("echo: cut me #cut-stream-once")
    );
    assert_eq!((r[1].status.as_str(), r[1].attempts), ("timeout", 2));
    assert!(r[1].ttft_ms.is_some(), "the stream had started");
}

#[test]
fn sigkill_mid_run_loses_nothing_completed_and_resume_never_duplicates() {
    let n = 40;
    let prompts: Vec<String> = (0..n).map(|i| format!("prompt number {i}")).collect();
    let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), &refs);
    // This server answers 13 calls — the preflight and 12 cells — then hangs every
    // further one.
    let stalling = MockServer::start(
        0,
        MockConfig {
            latency_ms: 5,
            stall_after: Some(13),
            ..Default::default()
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
        if stalling.completed.load(std::sync::atomic::Ordering::SeqCst) == 13 && lines == 12 {
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
        1 + n - 12,
        "the preflight, then only the missing cells were called"
    );
}

#[test]
fn max_spend_stops_before_the_cap_and_reports_the_recorded_sum() {
    let server = MockServer::start(0, MockConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts: Vec<String> = (0..30).map(|i| format!("question {i} please")).collect();
    let refs: Vec<&str> = prompts.iter().map(|s| s.as_str()).collect();
    dataset(dir.path(), &refs);
    // The preflight costs 8 prompt words × $1/M + 5 × $2/M = $0.000018. Each call
    // reserves its worst case (≈5 prompt tokens × $1/M + 100 max tokens × $2/M
    // ≈ $0.000205) and actually costs 3 × $1/M + 5 × $2/M = $0.000013. With a $0.0003
    // cap the k-th call may start only while 18e-6 + 13e-6·k + 205e-6 ≤ 300e-6:
    // about 6 calls.
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
        (shown - (sum + 18e-6)).abs() < 1e-6,
        "shown {shown} vs recorded {sum} + the preflight's 18e-6"
    );
    assert!(
        sum + 18e-6 <= 0.0003,
        "the preflight counts against the cap"
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
    // A refused key is no answer: the run stops (exit 2) and says why — with the
    // echoed key redacted.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key refused after 3 calls") && err.contains("[REDACTED]"),
        "{err}"
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
    assert!(
        stored(dir.path()).iter().all(|r| r.status == "ok"),
        "the 401 is not stored"
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
        1 + 2,
        "the preflight and the two missing cells"
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
    // The preflight asks the model and the judge once each, "routesim preflight:
    // reply with the single word OK." (8 words): the model at $1/M in and $2/M out,
    // 8 + 10 = 18e-6; the judge at $3/M and $4/M, 24 + 20 = 44e-6.
    assert!((report.preflight_spend_usd - 62e-6).abs() < 1e-15);
    assert!((report.spend_usd - (answer_total + judge_total + 62e-6)).abs() < 1e-12);
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
    assert_eq!(
        calls, 2,
        "the judge's preflight and one verdict, no model call"
    );
    let ds = routesim::dataset::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(ds.cell(1, ds.model_id(MODEL).unwrap()).quality, 0.3);
}
