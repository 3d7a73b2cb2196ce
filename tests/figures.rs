//! Regression tests for the numerical review of 2026-11-25 (`../shared/repro/figures`,
//! findings F1–F11): each case runs the binary on a small dataset written here, and
//! checks the figure a user acts on against a value worked out by hand in the comment.
//! The last test re-runs the review's own inputs in place when `../shared` is present.
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Prices used by every case ($ per million tokens): A 1 / 2, B 10 / 20.
const PRICING: &str = "[models.A]\ninput_per_mtok = 1\noutput_per_mtok = 2\n[models.B]\ninput_per_mtok = 10\noutput_per_mtok = 20\n";

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    /// A dataset folder with `requests.csv`, `responses.csv` and the prices above.
    fn new(requests: &str, responses: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let c = Case { dir };
        c.write(
            "dataset.toml",
            "name = \"case\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n",
        );
        c.write("pricing.toml", PRICING);
        c.write("requests.csv", requests);
        c.write("responses.csv", responses);
        c
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }
    /// `routesim run` with `args` after `-d DATASET -o OUT`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_routesim"))
            .current_dir(self.dir.path())
            .args(["run", "-d"])
            .arg(self.dir.path())
            .arg("-o")
            .arg(self.path("out"))
            .args(args)
            .output()
            .unwrap()
    }
    fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// `out/<file>.csv` as maps from column to value, one per row.
    fn csv(&self, file: &str) -> Vec<HashMap<String, String>> {
        read_csv(&self.path("out").join(file))
    }
    /// The summary row of a policy.
    fn summary(&self, policy: &str) -> HashMap<String, String> {
        self.csv("summary.csv")
            .into_iter()
            .find(|r| r["policy"] == policy)
            .unwrap_or_else(|| panic!("no policy {policy}"))
    }
    fn report(&self) -> String {
        std::fs::read_to_string(self.path("out/report.md")).unwrap()
    }
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// Requests `r01..rNN` an hour apart from 2024-06-03 10:00 UTC (epoch seconds
/// 1717408800) with `tokens` prompt tokens each; `meta.hour` counts from 10.
fn hourly_requests(n: usize, tokens: impl Fn(usize) -> u32) -> String {
    let mut s = String::from("id,ts,input,input_tokens,meta.hour\n");
    for i in 0..n {
        s.push_str(&format!(
            "r{:02},{},prompt {},{},{}\n",
            i + 1,
            1_717_408_800 + 3600 * i,
            i + 1,
            tokens(i),
            10 + i
        ));
    }
    s
}

#[test]
fn f1_headline_compares_costs_on_the_requests_both_cover() {
    // 20 requests: r01–r10 have 100 prompt tokens, r11–r20 10 000. A answers all of
    // them; B only r01–r10. Every answer has 100 output tokens and quality 0.5.
    // On the 10 shared requests: B = 100·10e-6 + 100·20e-6 = $0.003 per request,
    // A = 100·1e-6 + 100·2e-6 = $0.0003 → B costs +900 %. (Each policy's own
    // covered set would say B $3.00 vs A $5.25 per 1k: −42.9 %, the wrong sign.)
    let mut responses = String::from("request_id,model,status,output_tokens,latency_ms,quality\n");
    for i in 1..=20 {
        responses.push_str(&format!("r{i:02},A,ok,100,1000,0.5\n"));
        if i <= 10 {
            responses.push_str(&format!("r{i:02},B,ok,100,1000,0.5\n"));
        }
    }
    let c = Case::new(
        &hourly_requests(20, |i| if i < 10 { 100 } else { 10_000 }),
        &responses,
    );
    c.write("viab.toml", "name = \"viaB\"\n[default]\nroute = \"B\"\n");
    let out = c.run_ok(&["-p", "viab.toml", "--baseline", "always:A"]);
    let headline = "viaB vs always:A: cost +900.0% ($3.000 vs $0.30000 per 1k requests on the 10 of 20 requests both cover)";
    assert!(out.contains(headline), "{out}");
    assert!(c.report().replace("**", "").contains(headline));
    // The trade-off compares the 20-request policies only; B-only points are left out
    // (each covers 10 of 20) and said so.
    let md = c.report();
    assert!(
        md.contains("Pareto frontier (cheapest first): always:A\n"),
        "{md}"
    );
    assert!(
        md.contains("viaB (covers another set of requests (10 of 20))"),
        "{md}"
    );
    assert!(md.contains("always:B (covers another set of requests (10 of 20))"));
}

#[test]
fn f2_cache_needs_request_text_and_keys_on_the_whole_request() {
    // (a) No request text: refused, at the cache setting.
    let c = Case::new(
        "id,ts,input_tokens\nr1,2024-06-03T10:00:00Z,1000\nr2,2024-06-03T10:01:00Z,1000\n",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,A,ok,1000,1000,0.1\nr2,A,ok,1000,1000,0.2\n",
    );
    c.write(
        "cache.toml",
        "name = \"cacheA\"\n[gateway]\ncache = { kind = \"exact\", ttl_s = 3600 }\n[default]\nroute = \"A\"\n",
    );
    let out = c.run(&["-p", "cache.toml", "--no-baselines"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cache.toml:3:9: cache: an exact cache needs the request text"),
        "{err}"
    );
    assert!(!c.path("out").exists());
    // (b) The same text is only the same request with the same prompt size and turns:
    // r1 "hi" 100 tok (miss), r2 "hi" 100 tok a minute later (hit), r3 "hi" 200 tok
    // (a longer context: miss), r4 "hi" 100 tok 2 turns (miss). One hit of four;
    // three calls of 100·1e-6 + 10·2e-6 = $0.00012 (r3: 200·1e-6 + 20e-6 = $0.00022).
    let c = Case::new(
        "id,ts,input,input_tokens,turns\nr1,2024-06-03T10:00:00Z,hi,100,1\nr2,2024-06-03T10:01:00Z,hi,100,1\nr3,2024-06-03T10:02:00Z,hi,200,1\nr4,2024-06-03T10:03:00Z,hi,100,2\n",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,A,ok,10,1000,0.1\nr2,A,ok,10,1000,0.2\nr3,A,ok,10,1000,0.3\nr4,A,ok,10,1000,0.4\n",
    );
    c.write(
        "cache.toml",
        "name = \"cacheA\"\n[gateway]\ncache = { kind = \"exact\", ttl_s = 3600 }\n[default]\nroute = \"A\"\n",
    );
    c.run_ok(&["-p", "cache.toml", "--no-baselines"]);
    let s = c.summary("cacheA");
    assert_eq!(s["cache_rate"], "0.2500");
    assert!((num(&s, "cost_total_usd") - (0.00012 + 0.00022 + 0.00012)).abs() < 1e-12);
    // r2 gets r1's answer (quality 0.1): (0.1 + 0.1 + 0.3 + 0.4) / 4 = 0.225.
    assert_eq!(s["quality_mean"], "0.2250");
}

/// Three requests at 10:00:00 through A (one call at a time) then B; A cools down for
/// a minute after one 5xx. A answers r1 with a 500 after 1 s; B answers in 0.5 s.
const QUEUE_POLICY: &str = "name = \"queue\"\n[models]\na = { model = \"A\", max_concurrency = 1 }\nb = \"B\"\n[gateway]\ncooldown = { allowed_fails = 0, window_s = 60, cooldown_s = 60, on = [\"5xx\"] }\n[default]\nroute.fallback = [\"a\", \"b\"]\n";

#[test]
fn f3_parked_requests_are_all_simulated_when_the_woken_one_skips_the_model() {
    // t=0: r1 takes A's only slot; r2, r3 queue. t=1 s: r1's 500 puts A in cooldown
    // until 61 s and frees the slot; r1 falls back to B (ends 1.5 s). r2 is woken,
    // skips A (cooling) and goes to B (ends 1.5 s) — and passes the wake-up on, so r3
    // does the same: every request ok on B, 1.5 s end to end, $0.003 each.
    let c = Case::new(
        "id,ts,input,input_tokens,meta.rid\nr1,2024-06-03T10:00:00Z,one,100,r1\nr2,2024-06-03T10:00:00Z,two,100,r2\nr3,2024-06-03T10:00:00Z,three,100,r3\nr4,2024-06-03T10:02:00Z,four,100,r4\n",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,A,500,,1000,\nr2,A,ok,100,1000,1.0\nr3,A,ok,100,1000,1.0\nr4,A,ok,100,1000,1.0\nr1,B,ok,100,500,0.5\nr2,B,ok,100,500,0.5\nr3,B,ok,100,500,0.5\nr4,B,ok,100,500,0.5\n",
    );
    c.write("queue.toml", QUEUE_POLICY);
    c.run_ok(&["-p", "queue.toml", "--no-baselines", "--by", "meta.rid"]);
    let seg = c.csv("segments.csv");
    let get = |rid: &str| seg.iter().find(|r| r["value"] == rid).unwrap().clone();
    for rid in ["r1", "r2", "r3"] {
        let r = get(rid);
        assert_eq!(
            (r["success_rate"].as_str(), r["latency_p50_ms"].as_str()),
            ("1.0000", "1500.0"),
            "{rid}"
        );
        assert_eq!(r["cost_total_usd"], "0.003000");
    }
    // r4 at 10:02 finds A idle and out of cooldown (61 s): 1 s on A, $0.0003.
    let r4 = get("r4");
    assert_eq!(r4["latency_p50_ms"], "1000.0");
    assert_eq!(r4["cost_total_usd"], "0.000300");
    let s = c.summary("queue");
    assert_eq!(
        (s["covered"].as_str(), s["success_rate"].as_str()),
        ("4", "1.0000")
    );
}

#[test]
fn f4_partial_labels_do_not_lower_quality() {
    // A and B behave alike: 9 successes of quality 1.0 and one 500. A's successes are
    // all labelled, B's 3 of 9. Both: 0.9 · 1.0 + 0.1 · 0 = 0.900 (the old mean of
    // valued requests gave B 3/4 = 0.750).
    let mut responses = String::from("request_id,model,status,output_tokens,latency_ms,quality\n");
    for i in 1..=9 {
        responses.push_str(&format!("r{i:02},A,ok,100,1000,1.0\n"));
        let q = if i <= 3 { "1.0" } else { "" };
        responses.push_str(&format!("r{i:02},B,ok,100,1000,{q}\n"));
    }
    responses.push_str("r10,A,500,,100,\nr10,B,500,,100,\n");
    let c = Case::new(&hourly_requests(10, |_| 100), &responses);
    c.run_ok(&[]);
    let (a, b) = (c.summary("always:A"), c.summary("always:B"));
    assert_eq!(a["quality_mean"], "0.9000");
    assert_eq!(b["quality_mean"], "0.9000");
    assert_eq!(b["labelled_share"], "0.3333");
    assert_eq!(a["labelled_share"], "1.0000");
    assert!(
        c.report()
            .contains("always:B: 33.3% of successful answers carry a quality label")
    );
}

#[test]
fn f5_output_cap_applies_before_the_timeout() {
    // A: 1000 output tokens in 20 s, first token at 0.5 s. Capped at 100 tokens the
    // answer ends at 0.5 + 19.5 · 0.1 = 2.45 s, inside the 10 s timeout: ok, cost
    // 1000·1e-6 + 100·2e-6 = $0.0012, quality 0.9.
    let c = Case::new(
        "id,ts,input,input_tokens\nr1,2024-06-03T10:00:00Z,one,1000\n",
        "request_id,model,status,output_tokens,latency_ms,ttft_ms,quality\nr1,A,ok,1000,20000,500,0.9\nr1,B,ok,100,1000,200,0.5\n",
    );
    c.write(
        "capped.toml",
        "name = \"capped\"\n[gateway]\ntimeout_ms = 10000\nmax_output_tokens = 100\n[default]\nroute = \"A\"\n",
    );
    c.run_ok(&["-p", "capped.toml", "--no-baselines"]);
    let s = c.summary("capped");
    assert_eq!(s["success_rate"], "1.0000");
    assert_eq!(s["latency_p50_ms"], "2450.0");
    assert_eq!(s["cost_total_usd"], "0.001200");
    assert_eq!(s["quality_mean"], "0.9000");
    assert_eq!(s["truncated_rate"], "1.0000");
}

#[test]
fn f6_a_policy_named_like_a_baseline_is_refused() {
    let c = Case::new(
        "id,ts,input,input_tokens\nr1,2024-06-03T10:00:00Z,one,1000\n",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,A,ok,10,1000,0.9\nr1,B,ok,10,1000,0.5\n",
    );
    for name in ["oracle", "random", "always:A"] {
        c.write(
            "p.toml",
            &format!("name = \"{name}\"\n[default]\nroute = \"B\"\n"),
        );
        let out = c.run(&["-p", "p.toml"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "p.toml:1:8: policy name \"{name}\" is the name of a baseline"
            )),
            "{err}"
        );
        // Without baselines the name is free.
        c.run_ok(&["-p", "p.toml", "--no-baselines"]);
        assert_eq!(c.csv("summary.csv").len(), 1);
    }
}

#[test]
fn f7_timestamp_outages_hit_the_same_requests_under_speedup_and_traffic() {
    // Ten requests hourly from 10:00; A is down 14:00–15:00 (timestamps). Replayed 2×
    // faster (--speedup 2, or a traffic what-if of 2), the 14:00 request must still be
    // the one that fails: success 0.9, the failure in meta.hour = 14.
    let mut responses = String::from("request_id,model,status,output_tokens,latency_ms,quality\n");
    for i in 1..=10 {
        responses.push_str(&format!(
            "r{i:02},A,ok,100,1000,1.0\nr{i:02},B,ok,100,1000,0.5\n"
        ));
    }
    let c = Case::new(&hourly_requests(10, |_| 100), &responses);
    let outage = "[[scenario]]\noutage = { model = \"A\", from = \"2024-06-03T14:00:00Z\", to = \"2024-06-03T15:00:00Z\" }\n";
    c.write(
        "o.toml",
        &format!("name = \"outageA\"\n[default]\nroute = \"A\"\n{outage}"),
    );
    c.write(
        "t.toml",
        &format!(
            "name = \"outageA_traffic2\"\n[default]\nroute = \"A\"\n{outage}[[scenario]]\ntraffic = {{ factor = 2 }}\n"
        ),
    );
    for (policy, speedup) in [
        ("o.toml", "1"),
        ("o.toml", "2"),
        ("t.toml", "1"),
        ("t.toml", "3"),
    ] {
        c.run_ok(&[
            "-p",
            policy,
            "--no-baselines",
            "--speedup",
            speedup,
            "--by",
            "meta.hour",
        ]);
        let failed: Vec<String> = c
            .csv("segments.csv")
            .into_iter()
            .filter(|r| num(r, "success_rate") < 1.0)
            .map(|r| r["value"].clone())
            .collect();
        assert_eq!(failed, vec!["14"], "{policy} at speedup {speedup}");
    }
}

#[test]
fn f8_price_what_if_reaches_the_cheapest_decision() {
    // A and B give the same quality; A costs 1000·1e-6 + 1000·2e-6 = $0.003 a request,
    // B $0.03. With A's price ×100 ($0.30) the cheapest model is B: 40 × $0.03 = $1.20.
    let mut requests = String::from("id,ts,input,input_tokens\n");
    let mut responses = String::from("request_id,model,status,output_tokens,latency_ms,quality\n");
    for i in 1..=40 {
        requests.push_str(&format!(
            "r{i:02},2024-06-03T10:{:02}:00Z,p {i},1000\n",
            i % 60
        ));
        responses.push_str(&format!(
            "r{i:02},A,ok,1000,1000,0.8\nr{i:02},B,ok,1000,1000,0.8\n"
        ));
    }
    let c = Case::new(&requests, &responses);
    c.write(
        "cheap.toml",
        "name = \"cheapest_priceA100\"\n[default]\nroute.cheapest = { candidates = [\"A\", \"B\"] }\n[[scenario]]\nprice = { model = \"A\", factor = 100 }\n",
    );
    c.run_ok(&["-p", "cheap.toml", "--no-baselines"]);
    let s = c.summary("cheapest_priceA100");
    assert_eq!(s["model_mix"], "B:1.0000");
    assert_eq!(s["cost_total_usd"], "1.200000");
}

#[test]
fn f8_latency_what_if_reaches_the_best_decision_and_price_reaches_the_oracle() {
    // A answers better (0.9 vs 0.8), both in 1 s. `best` with max_latency_ms = 2000
    // picks A; with A three times slower (3 s estimated) A breaks the constraint and
    // `best` picks B: 40 × (1000·10e-6 + 1000·20e-6) = $1.20, quality 0.8, p50 1 s
    // (B's own latency; the what-if slows A only).
    let mut requests = String::from("id,ts,input,input_tokens\n");
    let mut responses = String::from("request_id,model,status,output_tokens,latency_ms,quality\n");
    for i in 1..=40 {
        requests.push_str(&format!(
            "r{i:02},2024-06-03T10:{:02}:00Z,p {i},1000\n",
            i % 60
        ));
        responses.push_str(&format!(
            "r{i:02},A,ok,1000,1000,0.9\nr{i:02},B,ok,1000,1000,0.8\n"
        ));
    }
    let c = Case::new(&requests, &responses);
    let best = "[default]\nroute.best = { candidates = [\"A\", \"B\"], maximize = \"quality\", max_latency_ms = 2000 }\n";
    c.write("plain.toml", &format!("name = \"best_plain\"\n{best}"));
    c.write(
        "slow.toml",
        &format!(
            "name = \"best_slowA\"\n{best}[[scenario]]\nlatency = {{ model = \"A\", factor = 3 }}\n"
        ),
    );
    c.run_ok(&["-p", "plain.toml", "slow.toml", "--no-baselines"]);
    let plain = c.summary("best_plain");
    assert_eq!(plain["model_mix"], "A:1.0000");
    assert_eq!(plain["quality_mean"], "0.9000");
    let slow = c.summary("best_slowA");
    assert_eq!(slow["model_mix"], "B:1.0000");
    assert_eq!(slow["quality_mean"], "0.8000");
    assert_eq!(slow["cost_total_usd"], "1.200000");
    assert_eq!(slow["latency_p50_ms"], "1000.0");

    // The oracle takes the best answer, the cheaper on a tie. Equal quality: A at
    // $0.003 a request (40 × = $0.12); with A's price ×100 ($0.30) it takes B ($1.20).
    let responses = responses.replace(",0.9\n", ",0.8\n");
    let c = Case::new(&requests, &responses);
    c.run_ok(&[]);
    assert_eq!(c.summary("oracle")["cost_total_usd"], "0.120000");
    c.run_ok(&["--scenario", "price = { model = \"A\", factor = 100 }"]);
    let oracle = c.summary("oracle");
    assert_eq!(oracle["model_mix"], "B:1.0000");
    assert_eq!(oracle["cost_total_usd"], "1.200000");
}

#[test]
fn f9_retries_above_ten_are_refused_in_both_forms() {
    let dir = tempfile::tempdir().unwrap();
    for (file, text, at) in [
        ("n.toml", "retries = 20", "n.toml:2:11: retries: at most 10"),
        (
            "big.toml",
            "retries = 70000",
            "big.toml:2:11: retries: at most 10",
        ),
        (
            "t.toml",
            "retries = { max = 20 }",
            "t.toml:2:19: retries.max: at most 10",
        ),
    ] {
        let p = dir.path().join(file);
        std::fs::write(&p, format!("[gateway]\n{text}\n[default]\nroute = \"A\"\n")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .arg("validate")
            .arg(&p)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(at), "{err}");
    }
}

#[test]
fn f10_f11_gateway_refusals_are_apart_from_latency_and_calls() {
    // Budget $0.30 per 30 days, route B at $0.03 a request (1000 in, 1000 out), one
    // request a minute, each done in 1 s: 10 calls spend $0.30, the other 30 are
    // refused by the gateway. Latency quantiles are over the 10 calls: 1.00 s (not
    // 0 ms); refused share 30/40 = 0.75; 10 calls / 40 requests = 0.25 per request.
    let mut requests = String::from("id,ts,input,input_tokens\n");
    let mut responses = String::from("request_id,model,status,output_tokens,latency_ms,quality\n");
    for i in 1..=40 {
        requests.push_str(&format!(
            "r{i:02},2024-06-03T{:02}:{:02}:00Z,p {i},1000\n",
            10 + i / 60,
            i % 60
        ));
        responses.push_str(&format!(
            "r{i:02},A,ok,1000,1000,0.8\nr{i:02},B,ok,1000,1000,0.8\n"
        ));
    }
    let c = Case::new(&requests, &responses);
    c.write(
        "budget.toml",
        "name = \"budgetB\"\n[gateway]\nbudget = { limit_usd = 0.3, period = \"30d\" }\n[default]\nroute = \"B\"\n",
    );
    c.run_ok(&["-p", "budget.toml", "--no-baselines"]);
    let s = c.summary("budgetB");
    assert_eq!(s["latency_p50_ms"], "1000.0");
    assert_eq!(s["rejected_rate"], "0.7500");
    assert_eq!(s["success_rate"], "0.2500");
    assert_eq!(s["attempts_mean"], "0.2500");
    // F11: a context-window skip is no call. A's window is 1000 tokens, the prompt
    // 5000: A is skipped, B answers — one call.
    let c = Case::new(
        "id,ts,input,input_tokens\nr1,2024-06-03T10:00:00Z,a,5000\n",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,A,ok,100,1000,1\nr1,B,ok,100,1000,1\n",
    );
    c.write(
        "pricing.toml",
        &PRICING.replace(
            "output_per_mtok = 2\n",
            "output_per_mtok = 2\ncontext_window = 1000\n",
        ),
    );
    c.write(
        "fb.toml",
        "name = \"fb\"\n[default]\nroute.fallback = [\"A\", \"B\"]\n",
    );
    c.run_ok(&["-p", "fb.toml", "--no-baselines"]);
    let s = c.summary("fb");
    assert_eq!(s["attempts_mean"], "1.0000");
    assert_eq!(s["rejected_rate"], "0.0000");
}

/// The review's own inputs (`../shared/repro/figures`), read in place: each gives the
/// output its README says routesim should print.
#[test]
fn review_inputs_give_the_expected_outputs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/repro/figures");
    if !root.is_dir() {
        eprintln!("SKIPPED: {} not found", root.display());
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], out: &str| -> (Output, PathBuf) {
        let o = out_dir.path().join(out);
        let r = Command::new(env!("CARGO_BIN_EXE_routesim"))
            .current_dir(&root)
            .arg("run")
            .args(args)
            .arg("-o")
            .arg(&o)
            .output()
            .unwrap();
        (r, o)
    };
    let summary = |dir: &Path, policy: &str| {
        read_csv(&dir.join("summary.csv"))
            .into_iter()
            .find(|r| r["policy"] == policy)
            .unwrap()
    };
    // F1: +900 % on the 10 shared requests.
    let (r, _) = run(
        &[
            "-d",
            "r9_cov",
            "-p",
            "r9_cov/pb.toml",
            "--baseline",
            "always:A",
        ],
        "r9",
    );
    assert!(String::from_utf8_lossy(&r.stdout).contains(
        "cost +900.0% ($3.000 vs $0.30000 per 1k requests on the 10 of 20 requests both cover)"
    ));
    // F2a refused; F2b: keyed on (text, prompt tokens, turns) the example has no repeat.
    let (r, _) = run(
        &[
            "-d",
            "r1_cache_noinput",
            "-p",
            "r1_cache_noinput/cache.toml",
            "--no-baselines",
        ],
        "r1",
    );
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("cache") && err.contains("text"), "{err}");
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/example");
    let (r, o) = run(
        &[
            "-d",
            example.to_str().unwrap(),
            "-p",
            "pcache/cache.toml",
            "pcache/plain.toml",
            "--no-baselines",
        ],
        "excache",
    );
    assert!(r.status.success());
    assert_eq!(summary(&o, "cache-mini")["cache_rate"], "0.0000");
    assert_eq!(
        summary(&o, "cache-mini")["cost_total_usd"],
        summary(&o, "mini")["cost_total_usd"]
    );
    // F3: r3 is routed (B, 1.5 s); in r2b it no longer waits for r4.
    for case in ["r2_parked", "r2b_parked"] {
        let (r, o) = run(
            &[
                "-d",
                case,
                "-p",
                &format!("{case}/queue.toml"),
                "--no-baselines",
                "--by",
                "meta.rid",
            ],
            case,
        );
        assert!(r.status.success());
        let r3 = read_csv(&o.join("segments.csv"))
            .into_iter()
            .find(|x| x["value"] == "r3")
            .unwrap();
        assert_eq!(
            (r3["success_rate"].as_str(), r3["latency_p50_ms"].as_str()),
            ("1.0000", "1500.0")
        );
    }
    // F4: both 0.9.
    let (_, o) = run(&["-d", "r3_labels"], "r3");
    assert_eq!(summary(&o, "always:A")["quality_mean"], "0.9000");
    assert_eq!(summary(&o, "always:B")["quality_mean"], "0.9000");
    // F5: ok at 2.45 s.
    let (_, o) = run(
        &[
            "-d",
            "r4_trunc",
            "-p",
            "r4_trunc/capped.toml",
            "--no-baselines",
        ],
        "r4",
    );
    assert_eq!(summary(&o, "capped")["latency_p50_ms"], "2450.0");
    // F6: refused.
    let (r, _) = run(&["-d", "r7_price", "-p", "r7_price/oracle_named.toml"], "o");
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("oracle_named.toml") && err.contains("baseline"),
        "{err}"
    );
    // F7: the 14:00 request fails at speedup 2 and with traffic ×2.
    for (policy, sp, out) in [
        ("r6_outage/outage.toml", "2", "r6"),
        ("r6_outage/outage_traffic.toml", "1", "r6t"),
    ] {
        let (r, o) = run(
            &[
                "-d",
                "r6_outage",
                "-p",
                policy,
                "--no-baselines",
                "--speedup",
                sp,
                "--by",
                "meta.hour",
            ],
            out,
        );
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let failed: Vec<String> = read_csv(&o.join("segments.csv"))
            .into_iter()
            .filter(|r| r["success_rate"] != "1.0000")
            .map(|r| r["value"].clone())
            .collect();
        assert_eq!(failed, vec!["14"]);
    }
    // F8: B at $1.20.
    let (_, o) = run(
        &[
            "-d",
            "r7_price",
            "-p",
            "r7_price/cheapest_price.toml",
            "--no-baselines",
        ],
        "r7",
    );
    assert_eq!(
        summary(&o, "cheapest_priceA100")["cost_total_usd"],
        "1.200000"
    );
    // F9: refused (r70k no longer runs out of memory).
    let (r, _) = run(
        &[
            "-d",
            "r5_retries",
            "-p",
            "r5_retries/r70k.toml",
            "--no-baselines",
        ],
        "r5",
    );
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("r70k.toml") && err.contains("at most 10"),
        "{err}"
    );
    // F10: p50 1 s; F11: one call.
    let (_, o) = run(
        &[
            "-d",
            "r7_price",
            "-p",
            "r7_price/budget.toml",
            "--no-baselines",
        ],
        "bud",
    );
    assert_eq!(summary(&o, "budgetB")["latency_p50_ms"], "1000.0");
    let (_, o) = run(
        &["-d", "r_ctx", "-p", "r_ctx/fb.toml", "--no-baselines"],
        "ctx",
    );
    assert_eq!(summary(&o, "fb")["attempts_mean"], "1.0000");
    // A policy covering nothing: figures undefined, no panic.
    let (r, o) = run(
        &[
            "-d",
            "r_zero",
            "-p",
            "r_zero/nowhere.toml",
            "--no-baselines",
        ],
        "zero",
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(summary(&o, "nowhere")["coverage"], "0.0000");
    assert_eq!(summary(&o, "nowhere")["quality_mean"], "");
}

/// A RouterBench-style wide file: quality per model, recorded cost per cell.
const WIDE: &str = "sample_id,prompt,eval_name,m1,m2,m1|total_cost,m2|total_cost\n\
s1,what is 1+1,math,1,0,0.001,0.0001\n\
s2,capital of France,geo,1,1,0.002,0.0002\n\
s3,spell cat,lang,0,1,0.003,0.0003\n\
s4,3*3,math,1,0,0.004,0.0004\n";

#[test]
fn recorded_costs_need_no_price_file() {
    // Every cell records its cost: no price needed. always:m1 costs
    // .001+.002+.003+.004 = $0.010, quality 3/4; always:m2 $0.0010, quality 2/4.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("routerbench.csv");
    std::fs::write(&f, WIDE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "-d"])
        .arg(&f)
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_csv(&dir.path().join("out/summary.csv"));
    let get = |p: &str| rows.iter().find(|r| r["policy"] == p).unwrap();
    assert_eq!(get("always:m1")["cost_total_usd"], "0.010000");
    assert_eq!(get("always:m1")["quality_mean"], "0.7500");
    assert_eq!(get("always:m2")["cost_total_usd"], "0.001000");
    assert_eq!(get("always:m2")["quality_mean"], "0.5000");
}

#[test]
fn a_price_is_needed_only_for_cells_without_a_recorded_cost() {
    // A's cells record their cost ($0.50 each), B's do not: only B needs a price.
    // always:A = 3 × $0.50 = $1.50 (no price for A anywhere); always:B = 3 ×
    // (100·10e-6 + 50·20e-6) = 3 × $0.002 = $0.006.
    let requests = "id,input,input_tokens\nr1,a,100\nr2,b,100\nr3,c,100\n";
    let mut responses =
        String::from("request_id,model,status,output_tokens,latency_ms,quality,cost_usd\n");
    for r in ["r1", "r2", "r3"] {
        responses.push_str(&format!("{r},A,ok,50,1000,1,0.5\n{r},B,ok,50,1000,0,\n"));
    }
    let c = Case::new(requests, &responses);
    c.write(
        "pricing.toml",
        "[models.B]\ninput_per_mtok = 10\noutput_per_mtok = 20\n",
    );
    c.run_ok(&[]);
    assert_eq!(c.summary("always:A")["cost_total_usd"], "1.500000");
    assert_eq!(c.summary("always:B")["cost_total_usd"], "0.006000");
    // Without B's price the run stops naming B only.
    c.write("pricing.toml", "");
    let out = c.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no price for model \"B\""), "{err}");
    assert!(!err.contains("\"A\""), "{err}");
}

#[test]
fn a_policy_that_covers_no_request_has_no_figures_and_no_panic() {
    // r_zero of the review: r1 is routed to B, r2 to A, and neither has an answer
    // from that model. Coverage 0 of 2; every other figure is undefined: empty in
    // the CSV, "—" in the report, never 0 or NaN.
    let c = Case::new(
        "id,ts,input,input_tokens,meta.rid\nr1,2024-06-03T10:00:00Z,a,100,r1\nr2,2024-06-03T10:01:00Z,b,100,r2\n",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,A,ok,100,1000,1\nr2,B,ok,100,1000,0\n",
    );
    c.write(
        "nowhere.toml",
        "name = \"nowhere\"\n[[rule]]\nname = \"one\"\nwhen = { meta.rid = \"r1\" }\nroute = \"B\"\n[default]\nroute = \"A\"\n",
    );
    c.run_ok(&["-p", "nowhere.toml", "--no-baselines"]);
    let s = c.summary("nowhere");
    assert_eq!(s["requests"], "2");
    assert_eq!(s["coverage"], "0.0000");
    for k in [
        "quality_mean",
        "latency_p50_ms",
        "latency_p95_ms",
        "cost_per_1k_usd",
    ] {
        assert_eq!(s[k], "", "{k}");
    }
    let report = c.report();
    assert!(!report.contains("NaN"), "{report}");
    assert!(report.contains("—"), "{report}");
}

#[test]
fn a_quality_only_benchmark_runs_with_unknown_costs() {
    // The same file without cost columns: no model can be priced.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bench.csv");
    let text: String = WIDE
        .lines()
        .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&f, text + "\n").unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_routesim"))
            .args(["run", "-d"])
            .arg(&f)
            .arg("-o")
            .arg(dir.path().join("out"))
            .args(extra)
            .output()
            .unwrap()
    };
    // Without --unpriced: an error naming both models and the way out.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no price for models \"m1\", \"m2\""), "{err}");
    assert!(err.contains("--unpriced"), "{err}");
    // With it: quality figures as usual, every cost unknown — never $0.
    std::fs::write(
        dir.path().join("p.toml"),
        "name = \"to-m2\"\n[default]\nroute = \"m2\"\n",
    )
    .unwrap();
    let p = dir.path().join("p.toml");
    let out = run(&["--unpriced", "-p", p.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("note: no price for m1, m2 (--unpriced)"),
        "{stdout}"
    );
    assert!(!stdout.contains("$0.0"), "{stdout}");
    let rows = read_csv(&dir.path().join("out/summary.csv"));
    let m1 = rows.iter().find(|r| r["policy"] == "always:m1").unwrap();
    assert_eq!(m1["quality_mean"], "0.7500");
    assert_eq!(m1["cost_total_usd"], "");
    assert_eq!(m1["cost_per_1k_usd"], "");
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(md.contains("always:m1: cost unknown"), "{md}");
    assert!(
        md.contains("**to-m2** vs always:m1: cost unknown (a model has no price), quality -0.250"),
        "{md}"
    );
}
