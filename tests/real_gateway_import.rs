//! A real LiteLLM proxy's own log imported as a dataset (issue 13, acceptance).
//!
//! `scripts/litellm/install.sh` installs litellm[proxy] 1.108.7 into
//! `target/litellm-venv` (once; without python3 or the package index the test is
//! SKIPPED with a message) and `scripts/litellm/proxy.sh` starts it on loopback with
//! mock models: `mock-ok` answers, `flaky-429` is rate-limited and falls back to
//! `mock-ok`, `broken-500` fails; its callback appends one StandardLoggingPayload per
//! call to a file. The test sends 60 requests with a plain HTTP client — users, tags and
//! metadata, streamed and not, fallbacks and errors — imports the log the proxy wrote
//! (`routesim import`), and checks each request's fields against what was sent and the
//! `logged` baseline's figures against totals computed here from the raw lines.

mod common;

use common::gateway::{assert_logged_equals_raw, logged_summary, raw_slp_totals};
use routesim::dataset::logged::flags as lf;
use routesim::dataset::{LoadOptions, Status, load};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const N: usize = 60;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A proxy started by scripts/litellm/proxy.sh; stopped when dropped.
struct Proxy {
    port: u16,
    run: PathBuf,
    key: String,
    log: PathBuf,
}

impl Proxy {
    fn script(&self, cmd: &str) -> Output {
        Command::new(root().join("scripts/litellm/proxy.sh"))
            .args([cmd, &self.port.to_string()])
            .arg(&self.run)
            .env("ROUTESIM_LITELLM_MASTER_KEY", &self.key)
            .env("SLP_LOG", &self.log)
            .output()
            .unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What request `i` sends: (group, user, tier, tag, streamed).
fn plan(i: usize) -> (&'static str, String, &'static str, String, bool) {
    let group = match i % 5 {
        0 | 1 | 4 => "mock-ok",
        2 => "flaky-429",
        _ => "broken-500",
    };
    (
        group,
        format!("user-{}", i % 4),
        if i.is_multiple_of(2) { "free" } else { "paid" },
        format!("team:{}", i % 3),
        i % 5 == 4,
    )
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

#[test]
fn a_real_litellm_proxys_log_imports_and_its_logged_baseline_equals_the_raw_totals() {
    let install = Command::new(root().join("scripts/litellm/install.sh"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    match install.status.code() {
        Some(0) => {}
        Some(3) => {
            eprintln!(
                "{}",
                String::from_utf8_lossy(&install.stderr)
                    .lines()
                    .find(|l| l.starts_with("SKIPPED"))
                    .unwrap_or("SKIPPED: no LiteLLM proxy could be installed")
            );
            return;
        }
        _ => panic!("scripts/litellm/install.sh failed:\n{}", show(&install)),
    }
    let work = tempfile::tempdir().unwrap();
    let key = format!(
        "routesim-fake-master-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let proxy = Proxy {
        port: free_port(),
        run: work.path().join("proxy"),
        key: key.clone(),
        log: work.path().join("slp.jsonl"),
    };
    let started = proxy.script("start");
    assert!(started.status.success(), "{}", show(&started));

    // Send the requests with a plain HTTP client, 4 at a time.
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", proxy.port);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // reqwest is built without a default TLS provider (routesim installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let statuses: Vec<u16> = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut out = vec![0u16; N];
        for chunk in (0..N).collect::<Vec<_>>().chunks(4) {
            let calls = chunk.iter().map(|&i| {
                let (group, user, tier, tag, stream) = plan(i);
                let body = serde_json::json!({
                    "model": group,
                    "messages": [{"role": "user", "content": format!("[{i}] What is the capital of France?")}],
                    "user": user,
                    "stream": stream,
                    "max_tokens": 32,
                    "metadata": {"tags": [tag], "tier": tier},
                });
                let req = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .timeout(Duration::from_secs(60));
                async move {
                    let resp = req.send().await.expect("the proxy answers");
                    let status = resp.status().as_u16();
                    let _ = resp.bytes().await;
                    (i, status)
                }
            });
            for (i, st) in futures_util::future::join_all(calls).await {
                out[i] = st;
            }
        }
        out
    });
    for (i, st) in statuses.iter().enumerate() {
        let want = if plan(i).0 == "broken-500" { 500 } else { 200 };
        assert_eq!(*st, want, "request {i} ({})", plan(i).0);
    }
    // Every request logs a line, a fallback two: wait until the log has them all.
    let fallbacks = (0..N).filter(|&i| plan(i).0 == "flaky-429").count();
    let want_lines = N + fallbacks;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&proxy.log) < want_lines {
        assert!(
            Instant::now() < deadline,
            "the proxy logged {} of {want_lines} lines",
            lines(&proxy.log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(proxy);
    let log = work.path().join("slp.jsonl");
    assert_eq!(lines(&log), want_lines, "no more lines than calls");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(&key),
        "the master key is in no line of the log"
    );

    // Import it.
    let out = work.path().join("dataset");
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "import",
            log.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let d = load(&out, &LoadOptions::default()).unwrap();
    assert_eq!(d.n_requests(), N);

    // Each request as sent: identified by its prompt's "[i]".
    let l = d.logged.as_ref().unwrap();
    let col = |k: &str| {
        d.requests
            .meta_index(k)
            .unwrap_or_else(|| panic!("meta.{k}"))
    };
    let (user, tier, tags, asked) = (col("user"), col("tier"), col("tags"), col("asked_model"));
    let mut seen = [false; N];
    for r in 0..N {
        let text = d.requests.input.get(r);
        let i: usize = text[1..text.find(']').unwrap()].parse().unwrap();
        seen[i] = true;
        let (group, u, t, tag, stream) = plan(i);
        let m = |c: usize| d.requests.meta[c].get(r).unwrap_or("");
        assert_eq!(m(user), u, "request {i}");
        assert_eq!(m(tier), t, "request {i}");
        assert!(
            m(tags).split(',').any(|x| x == tag),
            "request {i}: {}",
            m(tags)
        );
        assert_eq!(m(asked), group, "request {i}");
        let final_model = &d.models[l.model[r] as usize];
        match group {
            "flaky-429" => {
                assert_eq!(final_model, "mock-ok", "request {i}");
                assert_eq!(l.status[r], Status::OK);
                assert_eq!(l.flags[r] & lf::FELL_BACK, lf::FELL_BACK);
                assert_eq!(l.attempts[r], 2);
                let f = d.cell(r, d.model_id("flaky-429").unwrap());
                assert_eq!(f.status, Status(429), "the 429 is flaky-429's cell");
            }
            "broken-500" => {
                assert_eq!(final_model, "broken-500");
                assert_eq!(l.status[r], Status(500));
            }
            _ => {
                assert_eq!(final_model, "mock-ok");
                assert_eq!(l.status[r], Status::OK);
                assert_eq!(l.flags[r], 0);
            }
        }
        // TTFT only where streamed, and within the call.
        if stream {
            assert!(
                l.ttft_ms[r] > 0.0 && l.ttft_ms[r] <= l.latency_ms[r],
                "request {i}: ttft {} latency {}",
                l.ttft_ms[r],
                l.latency_ms[r]
            );
        } else {
            assert!(l.ttft_ms[r].is_nan(), "request {i}");
        }
    }
    assert!(seen.iter().all(|&s| s));

    // The logged baseline is the log's own totals.
    let raw = raw_slp_totals(&log);
    assert_eq!((raw.lines, raw.requests), (want_lines, N));
    let s = logged_summary(&d);
    assert_logged_equals_raw(&s, &raw);
    let broken = (0..N).filter(|&i| plan(i).0 == "broken-500").count();
    assert_eq!(s.success_rate, (N - broken) as f64 / N as f64);
    assert_eq!(s.fallback_rate, fallbacks as f64 / N as f64);
    assert!(s.cost_total > 0.0);
    // On the fly, the log gives the same figures.
    assert_logged_equals_raw(
        &logged_summary(&load(&log, &LoadOptions::default()).unwrap()),
        &raw,
    );

    // A policy compared with what production did, paired.
    let pol = work.path().join("no-flaky.toml");
    std::fs::write(
        &pol,
        "name = \"no-flaky\"\n[[rule]]\nname = \"flaky\"\nwhen = { meta.asked_model = \"flaky-429\" }\nroute = \"mock-ok\"\n[default]\nroute = { model = \"mock-ok\" }\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "run",
            "-d",
            out.to_str().unwrap(),
            "-p",
            pol.to_str().unwrap(),
        ])
        .args([
            "--baseline",
            "logged",
            "--no-report",
            "-q",
            "--by",
            "meta.user",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("no-flaky vs logged:"), "{stdout}");
}
