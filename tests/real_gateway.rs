//! Recording through a real LiteLLM proxy (issue 14, item 8).
//!
//! `scripts/litellm/install.sh` installs litellm[proxy] 1.108.7 from the committed lock
//! file into `target/litellm-venv` (once; without python3 or the package index the
//! test is SKIPPED with a message). `scripts/litellm/proxy.sh` starts the proxy on
//! 127.0.0.1 with `mock_response` models: `mock-ok` answers, `flaky-429` is always
//! rate-limited and falls back to `mock-ok`, `broken-500` always fails; a callback
//! writes the proxy's own log of every call (one StandardLoggingPayload per line).
//!
//! The test records a prompts-only dataset through it — four models, one of them
//! streamed, two samples per cell — and crashes the proxy (SIGKILL) twice: once
//! restarting it within `outage_retry_s` (the run rides the outage out), once leaving
//! it down (the run stops with exit 2; after the restart a re-run completes). Then:
//! no transport error is stored, every cell is recorded exactly once, and each
//! answer's tokens and cost equal the proxy's own log line for it (joined on the
//! response id). Expected values come from the proxy's log, never from routesim.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const N: usize = 120;
const MODELS: [&str; 4] = [
    "litellm/mock-ok",
    "litellm/flaky-429",
    "litellm/broken-500",
    "litellm-stream/mock-ok",
];
const KEY_ENV: &str = "ROUTESIM_LITELLM_KEY";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A proxy started by scripts/litellm/proxy.sh; stopped when dropped.
struct Proxy {
    port: u16,
    run: PathBuf,
    key: String,
}

impl Proxy {
    fn script(&self, cmd: &str) -> Output {
        Command::new(root().join("scripts/litellm/proxy.sh"))
            .args([cmd, &self.port.to_string()])
            .arg(&self.run)
            .env("ROUTESIM_LITELLM_MASTER_KEY", &self.key)
            .env("SLP_LOG", self.run.join("slp.jsonl"))
            .output()
            .unwrap()
    }

    /// Start and wait until ready; returns the start-up time, ms.
    fn start(&self) -> u64 {
        let out = self.script("start");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "proxy start failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .split("startup_ms=")
            .nth(1)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// SIGKILL: calls in flight get no reply, new ones are refused.
    fn kill(&self) {
        assert!(self.script("kill").status.success());
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The prompt of request `r031`: "Question 31: …".
fn question(request_id: &str) -> String {
    format!("Question {}:", request_id[1..].parse::<usize>().unwrap())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The prompts-only dataset and the price file (list prices of the deployments'
/// models; routesim uses them for the worst case and when no cost is reported).
fn dataset(dir: &Path) -> PathBuf {
    let mut req = String::new();
    for i in 0..N {
        req.push_str(&format!(
            "{{\"id\": \"r{i:03}\", \"input\": \"Question {i}: what is the capital of France?\"}}\n"
        ));
    }
    std::fs::write(dir.join("requests.jsonl"), req).unwrap();
    std::fs::write(
        dir.join("dataset.toml"),
        "name = \"litellm-proxy\"\nrequests = \"requests.jsonl\"\n",
    )
    .unwrap();
    let pricing = dir.parent().unwrap().join("pricing.toml");
    let mut p = String::new();
    for (m, i, o) in [
        ("litellm/mock-ok", 0.15, 0.6),
        ("litellm/flaky-429", 2.5, 10.0),
        ("litellm/broken-500", 0.15, 0.6),
        ("litellm-stream/mock-ok", 0.15, 0.6),
        ("litellm/typo", 0.15, 0.6),
    ] {
        p.push_str(&format!(
            "[models.\"{m}\"]\ninput_per_mtok = {i}\noutput_per_mtok = {o}\n"
        ));
    }
    std::fs::write(&pricing, p).unwrap();
    pricing
}

fn providers(path: &Path, url: &str, outage_retry_s: f64) {
    let common = format!(
        "base_url = \"{url}\"\napi_key_env = \"{KEY_ENV}\"\nmax_concurrency = 16\ntimeout_ms = 30000\nretries = 1\nbackoff_ms = 50\noutage_retry_s = {outage_retry_s}\n"
    );
    std::fs::write(
        path,
        format!(
            "[[provider]]\nname = \"litellm\"\n{common}models = {{ \"litellm/mock-ok\" = \"mock-ok\", \"litellm/flaky-429\" = \"flaky-429\", \"litellm/broken-500\" = \"broken-500\", \"litellm/typo\" = \"mock-okk\" }}\n\n\
             [[provider]]\nname = \"litellm-stream\"\n{common}stream = true\nmodels = {{ \"litellm-stream/mock-ok\" = \"mock-ok\" }}\n"
        ),
    )
    .unwrap();
}

fn record(
    key: &str,
    ds: &Path,
    providers: &Path,
    pricing: &Path,
    models: &str,
    samples: u32,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_routesim"));
    c.env(KEY_ENV, key)
        .args([
            "record",
            "--quiet",
            "--concurrency",
            "16",
            "--models",
            models,
        ])
        .args(["--samples", &samples.to_string()])
        .arg("--providers")
        .arg(providers)
        .arg("--pricing")
        .arg(pricing)
        .arg("-d")
        .arg(ds);
    c
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Wait until the store holds `n` lines, then return; the recording must still run.
fn wait_for_lines(store: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while lines(store) < n {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the recording ended before the crash"
        );
        assert!(Instant::now() < deadline, "the recording did not progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn show(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// "recorded A of B planned cells (…) in T s: R calls/s" → (A, T).
fn recorded_line(stdout: &str) -> (usize, f64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("recorded "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let a = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let t = line
        .split(" in ")
        .nth(1)
        .and_then(|s| s.split(" s").next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    (a, t)
}

#[test]
fn records_through_a_real_litellm_proxy_that_crashes_mid_run() {
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
    let ds = work.path().join("dataset");
    std::fs::create_dir(&ds).unwrap();
    let pricing = dataset(&ds);
    let store = ds.join("recorded.jsonl");
    // A made-up key for this run only (the proxy requires a master key).
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
    };
    let startup_ms = proxy.start();
    let patient = work.path().join("providers.toml");
    providers(&patient, &proxy.base_url(), 120.0);
    let all = MODELS.join(",");
    let mut outputs: Vec<Output> = Vec::new();

    // 1. The preflight: a wrong key and a model-name typo stop the run before any
    // cell is recorded.
    let out = record("not-the-master-key", &ds, &patient, &pricing, &all, 1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    for m in MODELS {
        assert!(err.contains(&format!("model \"{m}\"")), "{m}: {err}");
    }
    assert!(
        err.contains("key refused: ") && err.contains("no_db_connection"),
        "{err}"
    );
    let out = record(&key, &ds, &patient, &pricing, "litellm/typo", 1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown model: http://127.0.0.1"),
        "{}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Invalid model name passed in model=mock-okk"),
        "{}",
        show(&out)
    );
    // No key at all: LiteLLM answers 500 in plain text, which is no model's answer.
    let nokey = work.path().join("providers-nokey.toml");
    let text = std::fs::read_to_string(&patient).unwrap();
    std::fs::write(
        &nokey,
        text.replace(&format!("api_key_env = \"{KEY_ENV}\"\n"), ""),
    )
    .unwrap();
    let out = record(&key, &ds, &nokey, &pricing, "litellm/mock-ok", 1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("HTTP 500: Internal Server Error — not a JSON error")
            && String::from_utf8_lossy(&out.stderr).contains("set api_key_env"),
        "{}",
        show(&out)
    );
    assert!(!store.exists(), "nothing recorded by the preflight");
    outputs.push(out);

    // 2. A crash ridden out: SIGKILL the proxy a quarter of the way, restart it at
    // once (it refuses connections while it starts); outage_retry_s = 120 covers it.
    let cells = N * MODELS.len();
    let t0 = Instant::now();
    let mut child = record(&key, &ds, &patient, &pricing, &all, 1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(&store, cells / 4, &mut child);
    proxy.kill();
    let mut kills_ms = vec![now_ms()];
    let killed_at = lines(&store);
    std::thread::sleep(Duration::from_millis(1000));
    let restart_ms = proxy.start();
    let out = child.wait_with_output().unwrap();
    let ride_out_s = t0.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", show(&out));
    let (rec_a, _) = recorded_line(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(rec_a, cells, "{}", show(&out));
    outputs.push(out);

    // 3. A crash that outlasts outage_retry_s = 2: the run stops (exit 2) naming the
    // provider, model and error, keeps what it stored; after the restart a re-run
    // records exactly the cells still missing. (A second sample of every cell.)
    let impatient = work.path().join("providers-impatient.toml");
    providers(&impatient, &proxy.base_url(), 2.0);
    let mut child = record(&key, &ds, &impatient, &pricing, &all, 2)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Half-way this time: an answer the proxy did not log before a crash then has its
    // other sample logged (recorded away from either crash).
    wait_for_lines(&store, cells + cells / 2, &mut child);
    proxy.kill();
    kills_ms.push(now_ms());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("recording stopped: provider \"litellm")
            && err.contains("unreachable after")
            && err.contains("run the same command again to record the"),
        "{err}"
    );
    let (stored_b, _) = recorded_line(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(lines(&store), cells + stored_b);
    outputs.push(out);
    proxy.start();
    let out = record(&key, &ds, &impatient, &pricing, &all, 2)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (rec_c, secs_c) = recorded_line(&stdout);
    assert_eq!(
        rec_c,
        cells - stored_b,
        "exactly the missing cells: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "recorded {rec_c} of {rec_c} planned cells ({} already recorded)",
            2 * cells - rec_c
        )),
        "{stdout}"
    );
    outputs.push(out);
    // Let the proxy write its log of the last calls, then stop it.
    std::thread::sleep(Duration::from_millis(500));
    assert!(proxy.script("stop").status.success());

    // What routesim stored.
    let recs: Vec<Value> = std::fs::read_to_string(&store)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let mut keys: HashSet<(String, String, u64)> = HashSet::new();
    let mut duplicates = 0;
    for r in &recs {
        if !keys.insert((
            s(r, "request_id"),
            s(r, "model"),
            r["sample"].as_u64().unwrap(),
        )) {
            duplicates += 1;
        }
    }
    let lost = 2 * cells - keys.len();
    assert_eq!((recs.len(), duplicates, lost), (2 * cells, 0, 0));
    // No transport error stored: every cell is an answer the proxy gave (ok, or the
    // always-500 group's 500).
    let transport_stored = recs
        .iter()
        .filter(|r| !matches!(s(r, "status").as_str(), "ok" | "500"))
        .count();
    assert_eq!(transport_stored, 0);
    let mut statuses: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &recs {
        *statuses.entry((s(r, "model"), s(r, "status"))).or_default() += 1;
        assert!(r.get("error").is_none() || s(r, "status") == "500", "{r}");
    }
    for m in MODELS {
        let want = if m == "litellm/broken-500" {
            "500"
        } else {
            "ok"
        };
        assert_eq!(
            statuses.get(&(m.to_string(), want.to_string())),
            Some(&(2 * N)),
            "{m}: {statuses:?}"
        );
    }
    assert_eq!(statuses.len(), MODELS.len(), "{statuses:?}");
    for r in recs
        .iter()
        .filter(|r| s(r, "model") == "litellm/broken-500")
    {
        assert!(s(r, "error").contains("litellm.InternalServerError"), "{r}");
    }

    // The proxy's own log: one line per call it logged (a line cut by the SIGKILL is
    // skipped). Successes by response id.
    let slp_text = std::fs::read_to_string(proxy.run.join("slp.jsonl")).unwrap();
    let slp: Vec<Value> = slp_text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let is_preflight = |v: &Value| v["messages"].to_string().contains("routesim preflight");
    let mut by_id: HashMap<String, &Value> = HashMap::new();
    for v in slp.iter().filter(|v| v["status"] == "success") {
        let id = v["id"].as_str().unwrap().to_string();
        assert!(by_id.insert(id, v).is_none(), "one log line per answer");
    }
    // Tokens and costs equal to the proxy's log, answer by answer. The proxy writes
    // its line after the reply: an answer delivered just before a SIGKILL may have
    // none. Those must have been recorded within 5 s before a crash, and are compared
    // with the logged answer to the same prompt and model (the other sample).
    let mut ids = HashSet::new();
    let mut unlogged = 0;
    let logged_twin = |r: &Value| {
        recs.iter()
            .filter(|o| o["request_id"] == r["request_id"] && o["model"] == r["model"])
            .find_map(|o| by_id.get(o["response_id"].as_str().unwrap_or("")).copied())
    };
    for r in recs.iter().filter(|r| s(r, "status") == "ok") {
        let id = s(r, "response_id");
        assert!(ids.insert(id.clone()), "an answer stored twice: {id}");
        let line = match by_id.get(&id) {
            Some(line) => *line,
            None => {
                unlogged += 1;
                let at = routesim::dataset::time::parse_ts_ms(&s(r, "recorded_at")).unwrap();
                assert!(
                    kills_ms.iter().any(|k| (k - 5000..=*k).contains(&at)),
                    "no proxy log line for {r}, recorded at {at}, crashes at {kills_ms:?}"
                );
                logged_twin(r)
                    .unwrap_or_else(|| panic!("no proxy log line for {r} nor its other sample"))
            }
        };
        assert!(
            line["messages"]
                .to_string()
                .contains(&question(&s(r, "request_id"))),
            "{r}"
        );
        assert_eq!(r["input_tokens"], line["prompt_tokens"], "{r}");
        assert_eq!(r["output_tokens"], line["completion_tokens"], "{r}");
        assert_eq!(
            r["cost_usd"].as_f64(),
            line["response_cost"].as_f64(),
            "cost of {r}"
        );
        assert_eq!(s(r, "cost_source"), "gateway", "{r}");
        let streamed = s(r, "provider") == "litellm-stream";
        assert_eq!(line["stream"].as_bool() == Some(true), streamed, "{r}");
        // The flaky group's answers come from mock-ok after a fallback.
        if s(r, "model") == "litellm/flaky-429" {
            assert_eq!(s(r, "served_model"), "litellm/mock-ok", "{r}");
            assert_eq!(line["model_group"], "mock-ok");
            assert_eq!(s(r, "served_id"), "openai/gpt-4o-mini");
        } else {
            assert!(r.get("served_model").is_none(), "{r}");
        }
    }
    // Answers the proxy logged that routesim did not store (cut by the crashes
    // before their reply arrived; the preflight calls are not cells).
    let logged_not_stored = by_id
        .iter()
        .filter(|(id, v)| !ids.contains(*id) && !is_preflight(v))
        .count();

    // `run` needs no price file: every recorded cell keeps its cost. Its figures for
    // the flaky group, from the proxy's log: the first samples, all served by mock-ok.
    let report = work.path().join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "--bootstrap", "50", "-d"])
        .arg(&ds)
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let flaky = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "always:litellm/flaky-429")
        .unwrap();
    assert_eq!(
        flaky["model_mix"],
        serde_json::json!([{"model": "litellm/mock-ok", "share": 1.0}])
    );
    let logged_cost: f64 = recs
        .iter()
        .filter(|r| s(r, "model") == "litellm/flaky-429" && r["sample"] == 0)
        .map(|r| {
            let line = by_id.get(&s(r, "response_id")).copied();
            line.or_else(|| logged_twin(r)).unwrap()["response_cost"]
                .as_f64()
                .unwrap()
        })
        .sum();
    let run_cost = flaky["cost_total_usd"].as_f64().unwrap();
    assert!(
        (run_cost - logged_cost).abs() < 1e-12,
        "run {run_cost} vs the proxy's log {logged_cost}"
    );
    // The key is nowhere in what routesim wrote or printed.
    outputs.push(out);
    for o in &outputs {
        assert!(!String::from_utf8_lossy(&o.stdout).contains(&key));
        assert!(!String::from_utf8_lossy(&o.stderr).contains(&key));
    }
    // Nor in any file of the run: dataset, report, the proxy's logs.
    fn scan(dir: &Path, key: &str) -> usize {
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                n += scan(&p, key);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                    "the key is in {}",
                    p.display()
                );
                n += 1;
            }
        }
        n
    }
    assert!(scan(work.path(), &key) > 10);

    let figures = format!(
        "real gateway (LiteLLM 1.108.7): {} cells ({N} requests × {} models × 2 samples), \
         duplicates {duplicates}, lost {lost}, transport errors stored {transport_stored}; \
         crash 1 at {killed_at} cells, ridden out ({ride_out_s:.1} s for {cells} cells incl. \
         a {restart_ms} ms restart); crash 2 stopped the run after {stored_b} more cells, \
         the re-run recorded {rec_c} cells in {secs_c:.1} s ({:.0} cells/s at concurrency 16); \
         proxy log: {} lines, {} successes, {logged_not_stored} answered but not stored \
         (cut by the crashes), {unlogged} stored answers it had not logged when killed; \
         proxy start-up {startup_ms} ms",
        2 * cells,
        MODELS.len(),
        rec_c as f64 / secs_c.max(1e-9),
        slp.len(),
        by_id.len(),
    );
    // Shown with --nocapture, and kept where a CI run can read it.
    eprintln!("{figures}");
    let _ = std::fs::write(
        root().join("target/real-gateway-figures.txt"),
        format!("{figures}\n"),
    );
}
