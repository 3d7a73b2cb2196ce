//! Gateway logs as datasets (issue 13): each format's fixture read field by field
//! (tests/fixtures/gateway/<format>/, values hand-worked in the comments), importing
//! to a folder gives what importing on the fly gives, the `logged` baseline's figures
//! equal the log's own totals (computed here again from the raw lines with serde_json),
//! an unrecognised file is an error, and the shared samples and the real proxy's log
//! (../shared/data/gateway-samples, read in place) import as their documentation says.

mod common;

use common::gateway::{assert_logged_equals_raw, fixed_sum, logged_summary, q, raw_slp_totals};

use routesim::dataset::logged::flags as lf;
use routesim::dataset::{Dataset, LoadOptions, Sample, Status, load};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fx(rel: &str) -> PathBuf {
    common::fixture(&format!("gateway/{rel}"))
}

fn routesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .output()
        .expect("routesim runs")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", show(&o));
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ds(p: &Path) -> Dataset {
    load(p, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn req(d: &Dataset, id: &str) -> usize {
    d.requests
        .ids
        .iter()
        .position(|x| x == id)
        .unwrap_or_else(|| panic!("no request {id} in {:?}", d.requests.ids))
}

fn meta<'a>(d: &'a Dataset, r: usize, key: &str) -> Option<&'a str> {
    d.requests
        .meta_index(key)
        .and_then(|c| d.requests.meta[c].get(r))
}

fn model(d: &Dataset, name: &str) -> u16 {
    d.model_id(name)
        .unwrap_or_else(|| panic!("no model {name} in {:?}", d.models))
}

fn sample(d: &Dataset, r: usize, m: &str, k: usize) -> Sample {
    let m = model(d, m);
    assert!(
        k < d.n_samples(r, m),
        "cell has {} samples",
        d.n_samples(r, m)
    );
    *d.sample(r, m, k)
}

fn output(d: &Dataset, r: usize, m: &str) -> String {
    let i = d.cell_index(r, model(d, m));
    d.outputs
        .as_ref()
        .map(|o| o.get(i).to_string())
        .unwrap_or_default()
}

/// The logged baseline's row fields for request `r`:
/// (model, status, attempts, flags, cost, latency, ttft, in, out).
fn logged_row(d: &Dataset, r: usize) -> (String, Status, u16, u8, f64, f64, f64, u32, u32) {
    let l = d.logged.as_ref().expect("a logged table");
    (
        d.models
            .get(l.model[r] as usize)
            .cloned()
            .unwrap_or_default(),
        l.status[r],
        l.attempts[r],
        l.flags[r],
        l.cost_usd[r],
        l.latency_ms[r],
        l.ttft_ms[r],
        l.input_tokens[r],
        l.output_tokens[r],
    )
}

// ---------------------------------------------------------------------------------
// LiteLLM StandardLoggingPayload: tests/fixtures/gateway/litellm_slp/trace.jsonl
// (7 lines, 5 requests; file order is not time order):
//   tA: 429 on `flaky` [100, 100.03125] s, then the answer on `mini` [100.5, 100.625]
//       ($0.0001, 12/30 tokens, 4 cached) — the second line is 4th in the file;
//   tB: 500 on `broken` [101, 101.015625];
//   tC: streamed answer on `big` [102, 102.25], first token at 102.0625, $0.0002,
//       8/16 tokens of which 4 reasoning;
//   tD: a cache hit on `mini` [103, 103.001953125], $0;
//   tE: 500 on `mini` [104, 104.125], then ok on `mini` [104.25, 104.5], $0.00005 —
//       the answer is written before the failure.
// ---------------------------------------------------------------------------------

#[test]
fn litellm_slp_fixture_fields() {
    let d = ds(&fx("litellm_slp/trace.jsonl"));
    assert_eq!(d.requests.ids, ["tA", "tB", "tC", "tD", "tE"]);
    let mut cols = d.models.clone();
    cols.sort();
    assert_eq!(cols, ["big", "broken", "flaky", "mini"]);
    let a = req(&d, "tA");
    assert_eq!(d.requests.ts_ms[a], 100_000);
    assert_eq!(d.requests.input.get(a), "Be brief.\nhi A");
    assert_eq!(d.requests.turns[a], 1);
    assert_eq!(d.requests.input_tokens[a], 12);
    assert!(!d.requests.input_tokens_estimated[a]);
    // Request-level fields come from the earliest line (the 429), not the answer.
    for (k, v) in [
        ("asked_model", "flaky"),
        ("user", "u1"),
        ("key_user", "owner-1"),
        ("team", "team-a"),
        ("key_hash", "hash-1"),
        ("tags", "app:a,env:prod"),
        ("session", "s-1"),
        ("call_type", "acompletion"),
        ("tier", "free"),
        ("plan", "pro"),
        ("custom.user", "x"),
        ("param_max_tokens", "64"),
        ("param_temperature", "0.2"),
    ] {
        assert_eq!(meta(&d, a, k), Some(v), "meta.{k}");
    }
    assert_eq!(
        meta(&d, a, "param_user"),
        None,
        "the request's user is meta.user"
    );
    let f = sample(&d, a, "flaky", 0);
    assert_eq!(f.status, Status(429));
    assert_eq!(f.latency_ms, 31.25);
    assert_eq!(f.cost_usd, 0.0);
    let m = sample(&d, a, "mini", 0);
    assert_eq!(
        (m.status, m.input_tokens, m.output_tokens),
        (Status::OK, 12, 30)
    );
    assert_eq!(m.cached_tokens, 4);
    assert_eq!(m.latency_ms, 125.0);
    assert!(m.ttft_ms.is_nan(), "not streamed: no TTFT");
    assert_eq!(m.cost_usd, 0.0001);
    assert_eq!(output(&d, a, "mini"), "answer A");
    // The logged outcome: the answer's model; 0 + $0.0001; 100 → 100.625 s.
    let la = logged_row(&d, a);
    assert_eq!(
        (la.0.as_str(), la.1, la.2, la.3, la.4, la.5, la.7, la.8),
        ("mini", Status::OK, 2, lf::FELL_BACK, 0.0001, 625.0, 12, 30)
    );
    assert!(la.6.is_nan());

    let b = req(&d, "tB");
    assert_eq!(sample(&d, b, "broken", 0).status, Status(500));
    assert_eq!(sample(&d, b, "broken", 0).latency_ms, 15.625);
    // No answer: prompt tokens estimated from "hi B" (ceil(4 / 4)).
    assert_eq!(d.requests.input_tokens[b], 1);
    assert!(d.requests.input_tokens_estimated[b]);
    let lb = logged_row(&d, b);
    assert_eq!((lb.1, lb.2, lb.4, lb.5), (Status(500), 1, 0.0, 15.625));

    let c = req(&d, "tC");
    assert_eq!(d.requests.input.get(c), "plain prompt C");
    let big = sample(&d, c, "big", 0);
    assert_eq!(big.ttft_ms, 62.5, "(102.0625 − 102) s");
    assert_eq!(big.latency_ms, 250.0);
    assert_eq!((big.output_tokens, big.reasoning_tokens), (16, 4));
    assert_eq!(logged_row(&d, c).6, 62.5);
    // A propensity logged with the request (custom metadata) is the logged one.
    let l = d.logged.as_ref().unwrap();
    assert_eq!(l.propensity[c], 0.25);
    assert_eq!(meta(&d, c, "propensity"), Some("0.25"));
    assert!(l.propensity[a].is_nan(), "none logged");

    // The cache hit is an outcome only: no cell, no call.
    let dd = req(&d, "tD");
    for m in 0..d.n_models() as u16 {
        assert!(!d.cell(dd, m).is_present());
    }
    let ld = logged_row(&d, dd);
    assert_eq!(
        (ld.1, ld.2, ld.3, ld.5),
        (Status::OK, 0, lf::CACHE_HIT, 1.953125)
    );
    assert_eq!(d.requests.input_tokens[dd], 12);

    // Two calls of one cell are its samples 0 and 1 in start order.
    let e = req(&d, "tE");
    assert_eq!(sample(&d, e, "mini", 0).status, Status(500));
    assert_eq!(sample(&d, e, "mini", 0).latency_ms, 125.0);
    assert_eq!(sample(&d, e, "mini", 1).status, Status::OK);
    assert_eq!(sample(&d, e, "mini", 1).latency_ms, 250.0);
    let le = logged_row(&d, e);
    assert_eq!((le.2, le.3, le.4, le.5), (2, lf::RETRIED, 0.00005, 500.0));
}

#[test]
fn litellm_slp_fixture_logged_figures_are_hand_worked() {
    let d = ds(&fx("litellm_slp/trace.jsonl"));
    let s = logged_summary(&d);
    assert_eq!((s.requests, s.covered), (5, 5));
    // 4 of 5 answered (tB's 500 is the only failure); nobody refused.
    assert_eq!(s.success_rate, 0.8);
    assert_eq!(s.rejected_rate, 0.0);
    // $0.0001 + $0.0002 + $0.00005.
    assert_eq!(
        s.cost_total,
        fixed_sum(&[0.0001, 0.0, 0.0002, 0.0, 0.00005])
    );
    assert!((s.cost_total - 0.00035).abs() < 1e-18);
    // Spans sorted: 1.953125, 15.625, 250, 500, 625 (tA: 100 → 100.625 s, the gap
    // between its attempts included) → p50 250; p95 at 3.8 → 500 + 0.8 × 125 = 600;
    // p99 at 3.96 → 500 + 0.96 × 125 = 620.
    assert_eq!(s.latency_p50, 250.0);
    assert_eq!(s.latency_p95, 600.0);
    assert_eq!(s.latency_p99, 620.0);
    assert_eq!(s.ttft_p50, 62.5);
    assert_eq!(s.fallback_rate, 0.2);
    assert_eq!(s.retry_rate, 0.2);
    assert_eq!(s.cache_rate, 0.2);
    // Calls: 2 + 1 + 1 + 0 (cache) + 2.
    assert_eq!(s.attempts_mean, 1.2);
    let mix: BTreeMap<String, f64> = s.model_mix.iter().cloned().collect();
    assert_eq!(mix["mini"], 0.6);
    assert_eq!(mix["broken"], 0.2);
    assert_eq!(mix["big"], 0.2);
}

#[test]
fn litellm_slp_fixture_logged_equals_raw_totals() {
    let p = fx("litellm_slp/trace.jsonl");
    let raw = raw_slp_totals(&p);
    assert_eq!((raw.lines, raw.calls, raw.requests), (7, 6, 5));
    assert_logged_equals_raw(&logged_summary(&ds(&p)), &raw);
}

// ---------------------------------------------------------------------------------
// LiteLLM_SpendLogs as CSV with JSON-string columns (litellm_spendlogs/rows.csv):
//   s1: `fast` 2400 ms, first token at 650 ms, 812/96 tokens (512 cached), $0.00014,
//       tags and metadata as JSON strings;
//   s2: asked `smart`, answered by `smart-backup` after 2 retries and 1 fallback
//       (metadata counts), 8100 ms from the timestamps (no request_duration_ms);
//   s3: a cache hit ("True");  s4: a 429 from metadata.error_information.
// ---------------------------------------------------------------------------------

#[test]
fn litellm_spend_logs_csv_fixture_fields() {
    let d = ds(&fx("litellm_spendlogs/rows.csv"));
    assert_eq!(d.requests.ids, ["s1", "s2", "s3", "s4"]);
    let r1 = req(&d, "s1");
    assert_eq!(
        d.requests.ts_ms[r1],
        routesim::dataset::time::parse_ts_ms("2025-06-02T10:00:00Z").unwrap()
    );
    assert_eq!(d.requests.input.get(r1), "Summarise, please.");
    for (k, v) in [
        ("asked_model", "fast"),
        ("user", "customer-7"),
        ("key_user", "owner-7"),
        ("team", "team-s"),
        ("key_hash", "hash-9"),
        ("key_alias", "svc"),
        ("tags", "app:search,env:prod"),
        ("tier", "free"),
        ("custom.user", "shadow"),
    ] {
        assert_eq!(meta(&d, r1, k), Some(v), "meta.{k}");
    }
    let c = sample(&d, r1, "fast", 0);
    assert_eq!(
        (c.input_tokens, c.output_tokens, c.cached_tokens),
        (812, 96, 512)
    );
    assert_eq!(
        (c.latency_ms, c.ttft_ms, c.cost_usd),
        (2400.0, 650.0, 0.00014)
    );
    assert_eq!(output(&d, r1, "fast"), "Done.");

    let r2 = req(&d, "s2");
    assert_eq!(meta(&d, r2, "asked_model"), Some("smart"));
    assert_eq!(meta(&d, r2, "session"), Some("sess-2"));
    assert_eq!(
        d.requests.input.get(r2),
        "",
        "messages \"{{}}\": not stored"
    );
    let c2 = sample(&d, r2, "smart-backup", 0);
    // 10:00:09.100 − 10:00:01.000; completionStartTime = endTime: no TTFT.
    assert_eq!(c2.latency_ms, 8100.0);
    assert!(c2.ttft_ms.is_nan());
    let l2 = logged_row(&d, r2);
    assert_eq!(l2.0, "smart-backup");
    assert_eq!(
        (l2.2, l2.3),
        (4, lf::FELL_BACK | lf::RETRIED),
        "1 + 2 retries + 1 fallback"
    );

    let r3 = req(&d, "s3");
    assert!(!d.cell(r3, model(&d, "fast")).is_present());
    assert_eq!(logged_row(&d, r3).3, lf::CACHE_HIT);

    let r4 = req(&d, "s4");
    assert_eq!(sample(&d, r4, "smart", 0).status, Status(429));
    assert_eq!(logged_row(&d, r4).1, Status(429));
}

// ---------------------------------------------------------------------------------
// Portkey export (portkey/export.jsonl): trace p1 = a 429 on anthropic (enum spelling:
// ai_org, req_units, response_status_code) at 10:00:01.000 for 350 ms, then the
// answer of openai/gpt-4o (docs spelling: ai_provider, request_tokens, status_code)
// at 10:00:01.360 for 7740 ms, cost 0.54; p2 one answer, cost 0.01794; p3 a cache HIT.
// ---------------------------------------------------------------------------------

#[test]
fn portkey_fixture_fields_and_cost_unit() {
    let d = ds(&fx("portkey/export.jsonl"));
    assert_eq!(d.requests.ids, ["p1", "p2", "p3"]);
    let p1 = req(&d, "p1");
    assert_eq!(meta(&d, p1, "asked_model"), Some("gpt-4o"));
    assert_eq!(meta(&d, p1, "user"), Some("u-44"));
    assert_eq!(meta(&d, p1, "tier"), Some("paid"));
    assert_eq!(
        meta(&d, p1, "portkey_mode"),
        Some("fallback"),
        "the earliest row's mode"
    );
    assert_eq!(meta(&d, p1, "param_temperature"), Some("0.5"));
    assert_eq!(d.requests.input.get(p1), "Plan it.");
    let a = sample(&d, p1, "anthropic/claude-sonnet-4-20250514", 0);
    assert_eq!((a.status, a.latency_ms), (Status(429), 350.0));
    let o = sample(&d, p1, "openai/gpt-4o", 0);
    assert_eq!(
        (o.status, o.input_tokens, o.output_tokens),
        (Status::OK, 1200, 240)
    );
    // Cents by default: 0.54 ¢.
    assert_eq!(o.cost_usd, 0.54 / 100.0);
    let l = logged_row(&d, p1);
    // 10:00:01.000 → 10:00:01.360 + 7740 ms = 10:00:09.100: 8100 ms.
    assert_eq!(
        (l.0.as_str(), l.2, l.3, l.5),
        ("openai/gpt-4o", 2, lf::FELL_BACK, 8100.0)
    );
    assert_eq!(l.4, 0.0 + 0.54 / 100.0);
    let p3 = req(&d, "p3");
    assert_eq!(logged_row(&d, p3).3, lf::CACHE_HIT);

    // --cost-unit usd reads the same numbers as dollars.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pk");
    ok(routesim(&[
        "import",
        s(&fx("portkey/export.jsonl")),
        "-o",
        s(&out),
        "--cost-unit",
        "usd",
        "-q",
    ]));
    let d = ds(&out);
    assert_eq!(logged_row(&d, req(&d, "p1")).4, 0.54);
    let toml = std::fs::read_to_string(out.join("dataset.toml")).unwrap();
    assert!(toml.contains("cost unit: usd"), "{toml}");
    assert!(toml.contains("cost_unit = \"usd\""), "{toml}");
}

// ---------------------------------------------------------------------------------
// OpenRouter (openrouter/generations.jsonl): gen-1 (request req-1, wrapped in
// {"data": …}) tried openai/gpt-4o (429, 200 ms) then answered on
// anthropic/claude-3.5-sonnet (750 ms) with a total latency of 1000 ms, native
// tokens 110/55 (10 cached, 5 reasoning), $0.002; gen-2 has no provider_responses
// (served by openai/gpt-4o-mini, 300 ms, $0.00001, created at 10:00:05+02:00).
// ---------------------------------------------------------------------------------

#[test]
fn openrouter_fixture_fields() {
    let d = ds(&fx("openrouter/generations.jsonl"));
    assert_eq!(d.requests.ids, ["req-1", "gen-2"]);
    let r = req(&d, "req-1");
    assert_eq!(meta(&d, r, "asked_model"), Some("openai/gpt-4o"));
    assert_eq!(meta(&d, r, "user"), Some("u-7"));
    assert_eq!(meta(&d, r, "provider"), Some("Anthropic"));
    assert_eq!(meta(&d, r, "generation_time_ms"), Some("700"));
    let f = sample(&d, r, "openai/gpt-4o", 0);
    assert_eq!(
        (f.status, f.latency_ms, f.cost_usd),
        (Status(429), 200.0, 0.0)
    );
    let a = sample(&d, r, "anthropic/claude-3.5-sonnet", 0);
    assert_eq!(
        (a.input_tokens, a.output_tokens),
        (110, 55),
        "native counts"
    );
    assert_eq!((a.cached_tokens, a.reasoning_tokens), (10, 5));
    assert_eq!((a.latency_ms, a.cost_usd), (750.0, 0.002));
    let l = logged_row(&d, r);
    assert_eq!((l.2, l.3, l.4, l.5), (2, lf::FELL_BACK, 0.002, 1000.0));
    let g = req(&d, "gen-2");
    assert_eq!(
        d.requests.ts_ms[g],
        routesim::dataset::time::parse_ts_ms("2025-06-02T08:00:05Z").unwrap()
    );
    assert_eq!(meta(&d, g, "asked_model"), Some("openrouter/auto"));
    assert_eq!(logged_row(&d, g).5, 300.0);
    assert_eq!(
        d.requests.input.get(g),
        "",
        "generation records hold no prompt"
    );
}

// ---------------------------------------------------------------------------------
// Helicone (helicone/export.jsonl): h1 streamed (TTFT 650 ms), 800 prompt tokens (512
// read from the cache), 96 completion + 64 reasoning tokens with total_tokens 960 =
// 800 + 96 + 64 (so the output is 160), $0.000141, properties and a score; h2 a cache
// hit (cache_reference_id not the nil UUID) whose body is a placeholder.
// ---------------------------------------------------------------------------------

#[test]
fn helicone_csv_export_fields() {
    // The CSV variant: no request_id (response_id), no latency (the timestamps),
    // JSON bodies and properties as text.
    let d = ds(&fx("helicone_csv/export.csv"));
    assert_eq!(d.requests.ids, ["r1", "r2"]);
    let r1 = req(&d, "r1");
    assert_eq!(d.requests.input.get(r1), "Hi there");
    assert_eq!(meta(&d, r1, "session"), Some("sess-1"));
    assert_eq!(meta(&d, r1, "app"), Some("search"));
    assert_eq!(meta(&d, r1, "param_temperature"), Some("0.7"));
    assert_eq!(meta(&d, r1, "asked_model"), Some("gpt-4o-mini"));
    let c = sample(&d, r1, "gpt-4o-mini", 0);
    assert_eq!((c.input_tokens, c.output_tokens), (12, 3));
    assert_eq!((c.latency_ms, c.cost_usd), (2400.0, 0.00001));
    let r2 = req(&d, "r2");
    assert_eq!(sample(&d, r2, "gpt-4o", 0).status, Status(429));
    assert_eq!(logged_row(&d, r2).5, 350.0);
}

#[test]
fn helicone_fixture_fields() {
    let d = ds(&fx("helicone/export.jsonl"));
    let h1 = req(&d, "h1");
    for (k, v) in [
        ("asked_model", "o3-mini"),
        ("user", "u-42"),
        ("session", "sess-9"),
        ("app", "search"),
        ("provider", "OPENAI"),
        ("country", "DE"),
        ("score_helpfulness", "8"),
        ("param_stream", "true"),
    ] {
        assert_eq!(meta(&d, h1, k), Some(v), "meta.{k}");
    }
    let c = sample(&d, h1, "o3-mini-2025-01-31", 0);
    assert_eq!((c.input_tokens, c.cached_tokens), (800, 512));
    assert_eq!((c.output_tokens, c.reasoning_tokens), (160, 64));
    assert_eq!(
        (c.latency_ms, c.ttft_ms, c.cost_usd),
        (2400.0, 650.0, 0.000141)
    );
    assert_eq!(output(&d, h1, "o3-mini-2025-01-31"), "Because.");
    let h2 = req(&d, "h2");
    assert_eq!(logged_row(&d, h2).3, lf::CACHE_HIT);
    assert_eq!(
        d.requests.input.get(h2),
        "",
        "a placeholder body is no text"
    );
    assert_eq!(meta(&d, h2, "param_helicone_message"), None);
}

// ---------------------------------------------------------------------------------
// OpenAI Batch (openai_batch/): 4 input lines (gpt-4o-mini); the output file answers
// b-1 (snapshot gpt-4o-mini-2024-07-18, 24/8 tokens, 16 cached), the error file has
// b-2's 400 and b-3's batch_expired; b-4 has no result.
// ---------------------------------------------------------------------------------

#[test]
fn openai_batch_fixture_joins_by_custom_id() {
    let d = ds(&fx("openai_batch"));
    assert_eq!(d.requests.ids.len(), 4);
    assert_eq!(
        d.models,
        ["gpt-4o-mini"],
        "the input's model names the column"
    );
    let b1 = req(&d, "b-1");
    assert_eq!(d.requests.input.get(b1), "Q1");
    assert_eq!(meta(&d, b1, "param_max_tokens"), Some("50"));
    assert_eq!(meta(&d, b1, "endpoint"), Some("/v1/chat/completions"));
    assert_eq!(d.requests.ts_ms[b1], routesim::dataset::Requests::NO_TS);
    let c = sample(&d, b1, "gpt-4o-mini", 0);
    assert_eq!(
        (c.input_tokens, c.output_tokens, c.cached_tokens),
        (24, 8, 16)
    );
    assert!(c.cost_usd.is_nan(), "a batch logs no cost");
    assert_ne!(c.flags & routesim::dataset::flags::MODELLED_LATENCY, 0);
    assert_eq!(
        sample(&d, req(&d, "b-2"), "gpt-4o-mini", 0).status,
        Status(400)
    );
    // An expired request never reached the model: an outcome, not a cell.
    let b3 = req(&d, "b-3");
    assert!(!d.cell(b3, 0).is_present());
    let l3 = logged_row(&d, b3);
    assert_eq!((l3.1, l3.2), (Status::GATEWAY_REJECTED, 0));
    let l = d.logged.as_ref().unwrap();
    assert_eq!(l.status[req(&d, "b-4")], Status::MISSING);
    assert!(l.latency_ms[b1].is_nan() && l.cost_usd[b1].is_nan());
}

/// Everything a dataset holds that an import decides, as text (bits of every number).
fn dump(d: &Dataset) -> String {
    let q = &d.requests;
    let mut out = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
        q.ids, q.ts_ms, q.input_chars, q.input_tokens, q.input_tokens_estimated, q.turns
    );
    for r in 0..q.len() {
        out.push_str(q.input.get(r));
        out.push('\n');
    }
    for m in &q.meta {
        out.push_str(&format!(
            "meta.{}: {:?}\n",
            m.name,
            (0..q.len()).map(|r| m.get(r)).collect::<Vec<_>>()
        ));
    }
    out.push_str(&format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
        d.models, d.cells, d.extra_offsets, d.extra, d.served_models
    ));
    if let Some(o) = &d.outputs {
        for i in 0..o.len() {
            out.push_str(o.get(i));
            out.push('\n');
        }
    }
    out.push_str(&format!("{:?}\n", d.logged));
    out
}

#[test]
fn importing_to_a_folder_gives_what_importing_on_the_fly_gives() {
    let dir = tempfile::tempdir().unwrap();
    for (i, f) in [
        "litellm_slp/trace.jsonl",
        "litellm_spendlogs/rows.csv",
        "helicone_csv/export.csv",
        "portkey/export.jsonl",
        "openrouter/generations.jsonl",
        "helicone/export.jsonl",
        "openai_batch",
    ]
    .iter()
    .enumerate()
    {
        let out = dir.path().join(format!("d{i}"));
        let o = ok(routesim(&["import", s(&fx(f)), "-o", s(&out), "-q"]));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.starts_with("imported "), "{stdout}");
        for file in [
            "dataset.toml",
            "requests.csv",
            "responses.csv",
            "logged.csv",
            "manifest.json",
        ] {
            assert!(out.join(file).is_file(), "{f}: {file}");
        }
        assert!(!out.join(".texts.spill").exists());
        assert_eq!(dump(&ds(&out)), dump(&ds(&fx(f))), "{f}");
    }
}

#[test]
fn the_import_folder_records_provenance_and_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("slp");
    let src = fx("litellm_slp/trace.jsonl");
    ok(routesim(&["import", s(&src), "-o", s(&out), "-q"]));
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "litellm-slp");
    let src_m = &m["sources"][0];
    assert_eq!(
        src_m["sha256"],
        routesim::util::hash::sha256_file(&src).unwrap().as_str()
    );
    assert_eq!(src_m["records"], 7);
    assert_eq!(src_m["used"], 7);
    assert_eq!(
        src_m["matched_keys"],
        serde_json::json!(["response_cost", "startTime", "trace_id"])
    );
    assert_eq!(m["requests"], 5);
    assert_eq!(m["final_status"]["ok"], 4);
    assert_eq!(m["final_status"]["500"], 1);
    let toml = std::fs::read_to_string(out.join("dataset.toml")).unwrap();
    assert!(toml.contains("format = \"litellm-slp\""), "{toml}");
    assert!(
        toml.contains("\"request id\" = \"trace_id ?? litellm_call_id ?? id"),
        "{toml}"
    );
    assert!(toml.contains("one request per trace"), "{toml}");
    let pricing = std::fs::read_to_string(out.join("pricing.toml")).unwrap();
    assert!(
        pricing.contains("\"mini\" = \"openai/gpt-4o-mini\""),
        "{pricing}"
    );
    // An existing, non-empty folder is never overwritten.
    let again = routesim(&["import", s(&src), "-o", s(&out), "-q"]);
    assert_eq!(again.status.code(), Some(1), "{}", show(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn an_unrecognised_file_is_an_error_saying_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("calls.jsonl");
    std::fs::write(
        &f,
        "{\"foo\": 1, \"bar\": \"x\"}\n{\"foo\": 2, \"bar\": \"y\"}\n",
    )
    .unwrap();
    for args in [
        vec!["run", "-d", s(&f), "--no-report", "-q"],
        vec!["import", s(&f), "-o", s(&dir.path().join("o")), "-q"],
    ] {
        let o = routesim(&args);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{}:1:1: not a format routesim reads", s(&f))),
            "{err}"
        );
        assert!(err.contains("LiteLLM StandardLoggingPayload"), "{err}");
        assert!(err.contains("Found keys: bar, foo"), "{err}");
    }
    assert!(!dir.path().join("o").exists(), "nothing half-written");
    // A forced format that does not fit is refused, naming both.
    let o = routesim(&[
        "import",
        s(&fx("portkey/export.jsonl")),
        "--format",
        "helicone",
        "-o",
        s(&dir.path().join("p")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--format helicone was given, but this file reads as Portkey log export"),
        "{err}"
    );
    let o = routesim(&["import", s(&fx("portkey/export.jsonl")), "--format", "nope"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown format \"nope\""));
}

#[test]
fn a_litellm_log_is_no_longer_read_as_a_long_table() {
    // The issue: every line was a request and the logged figures were lost.
    let d = ds(&fx("litellm_slp/trace.jsonl"));
    assert_eq!(d.n_requests(), 5, "7 lines, 5 requests");
    let o = ok(routesim(&[
        "run",
        "-d",
        s(&fx("litellm_slp/trace.jsonl")),
        "--no-report",
        "-q",
    ]));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("logged "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("100.0%"), "{line}");
}

#[test]
fn policies_compare_with_the_logged_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("mini.toml");
    std::fs::write(&pol, "name = \"all-mini\"\n[default]\nroute = \"mini\"\n").unwrap();
    let log = fx("litellm_slp/trace.jsonl");
    // The default baseline of a log is what production did.
    for extra in [vec![], vec!["--baseline", "logged"]] {
        let mut args = vec!["run", "-d", s(&log), "-p", s(&pol), "--no-report", "-q"];
        args.extend(extra);
        let o = ok(routesim(&args));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("all-mini vs logged:"), "{out}");
    }
    // Several files of one log are one dataset.
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&a, lines[..3].join("\n") + "\n").unwrap();
    std::fs::write(&b, lines[3..].join("\n") + "\n").unwrap();
    let o = ok(routesim(&["run", "-d", s(&a), s(&b), "--no-report", "-q"]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("5 requests"), "{out}");
}

#[test]
fn a_policy_that_needs_text_fails_on_a_log_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("text.toml");
    std::fs::write(
        &pol,
        "name = \"by-text\"\n\n[[rule]]\nname = \"code\"\nwhen = { input = { contains = \"def \" } }\nroute = \"openai/gpt-4o-mini\"\n\n[[rule]]\nname = \"hard\"\nwhen = { complexity = [\"complex\"] }\nroute = \"openai/gpt-4o-mini\"\n\n[default]\nroute = \"openai/gpt-4o-mini\"\n",
    )
    .unwrap();
    let o = routesim(&[
        "run",
        "-d",
        s(&fx("openrouter/generations.jsonl")),
        "-p",
        s(&pol),
        "--no-report",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:5:18: rule \"code\": a text condition (input) needs the request text",
            s(&pol)
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:10:23: rule \"hard\": complexity (its [classifier] levels test the text)",
            s(&pol)
        )),
        "{err}"
    );
}

#[test]
fn shards_of_a_logged_dataset_merge_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = fx("litellm_slp/trace.jsonl");
    let whole = dir.path().join("whole");
    ok(routesim(&["run", "-d", s(&log), "-o", s(&whole), "-q"]));
    let mut shards = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("s{i}"));
        ok(routesim(&[
            "run",
            "-d",
            s(&log),
            "--shard",
            &format!("{i}/2"),
            "-o",
            s(&out),
            "-q",
        ]));
        shards.push(out);
    }
    let merged = dir.path().join("merged");
    let mut args = vec!["merge".to_string()];
    args.extend(shards.iter().map(|p| s(p).to_string()));
    args.extend(["-o".to_string(), s(&merged).to_string()]);
    ok(Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(&args)
        .output()
        .unwrap());
    let read = |d: &Path| -> Value {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap())
                .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"] == "logged")
            .cloned()
            .unwrap()
    };
    let (a, b) = (read(&whole), read(&merged));
    for k in [
        "requests",
        "covered",
        "cost_total_usd",
        "success_rate",
        "attempts_mean",
        "rates",
        "model_mix",
    ] {
        assert_eq!(a[k], b[k], "{k}");
    }
}

#[test]
fn the_readme_documents_every_field_of_every_format() {
    use routesim::dataset::importers::gateway::{Format, mapping};
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for f in Format::ALL {
        for (field, source, _) in mapping(f) {
            let row = format!("| {field} | {source} |");
            assert!(
                readme.contains(&row),
                "README.md lacks the {} row `{row}`",
                f.name()
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// The shared material, read in place (skipped without ../shared/data).
// ---------------------------------------------------------------------------------

#[test]
fn the_real_proxy_log_logged_baseline_equals_its_raw_totals() {
    let Some(p) =
        common::shared_data("gateway-samples/litellm/real-proxy/litellm_standard_logging.jsonl")
    else {
        return;
    };
    let d = ds(&p);
    let raw = raw_slp_totals(&p);
    let s = logged_summary(&d);
    assert_logged_equals_raw(&s, &raw);
    // The figures of the design's one-off computation (python, the same rules):
    // 334 lines, 300 requests, 271 answered, $0.01719, p50 209.483 ms, p95 2487.785 ms.
    assert_eq!((raw.lines, raw.requests, raw.ok), (334, 300, 271));
    assert!((s.cost_total - 0.01719).abs() < 1e-15, "{}", s.cost_total);
    assert!((s.latency_p50 - 209.48302745819092).abs() < 1e-9);
    assert!((s.latency_p95 - 2487.7848029136658).abs() < 1e-9);
    assert_eq!(raw.fell_back, 34);
    // Asked groups come from the earliest line: 34 asked flaky-429 and got gpt-4o-mini.
    let asked = d.requests.meta_index("asked_model").unwrap();
    let mut by_asked: BTreeMap<&str, usize> = BTreeMap::new();
    for r in 0..d.n_requests() {
        *by_asked
            .entry(d.requests.meta[asked].get(r).unwrap())
            .or_default() += 1;
    }
    assert_eq!(
        by_asked,
        BTreeMap::from([
            ("broken-500", 29),
            ("claude-3-5-sonnet", 63),
            ("flaky-429", 34),
            ("gpt-4o", 68),
            ("gpt-4o-mini", 106)
        ])
    );
    // Claude's answers are logged at $0 (LiteLLM had no price): kept, with a warning.
    assert!(
        d.info
            .warnings
            .iter()
            .any(|w| w.contains("63 on claude-3-5-sonnet")),
        "{:?}",
        d.info.warnings
    );
    // Its folder gives the same figures.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rp");
    ok(routesim(&[
        "import",
        p.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]));
    assert_logged_equals_raw(&logged_summary(&ds(&out)), &raw);
}

#[test]
fn the_shared_samples_import_as_documented() {
    let Some(root) = common::shared_data("gateway-samples") else {
        return;
    };
    let one = |rel: &str| -> (Dataset, usize) {
        let d = ds(&root.join(rel));
        assert_eq!(d.n_requests(), 1, "{rel}");
        (d, 0)
    };
    // StandardLoggingPayload (pretty JSON): trace_id null → id; model_group "" → model.
    let (d, r) = one("litellm/standard_logging_payload.json");
    assert_eq!(
        d.requests.ids[r],
        "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f"
    );
    assert_eq!(d.models, ["gpt-4o"]);
    assert_eq!(d.requests.ts_ms[r], 1_737_710_446_847);
    assert_eq!(d.requests.input.get(r), "Hello, world!");
    let c = sample(&d, r, "gpt-4o", 0);
    assert_eq!((c.input_tokens, c.output_tokens), (10, 20));
    // As serde_json reads the logged "0.00022500000000000002" (its default float
    // parsing can be one unit in the last place off the decimal; the raw-line totals
    // above read it the same way).
    assert_eq!(
        c.cost_usd,
        serde_json::from_str::<f64>("0.00022500000000000002").unwrap()
    );
    // 46.851954 − 46.847371 s, not response_time (7.394 ms); streamed → TTFT.
    assert!((c.latency_ms - 4.583).abs() < 1e-3, "{}", c.latency_ms);
    assert_eq!(c.ttft_ms, c.latency_ms);
    assert_eq!(output(&d, r, "gpt-4o"), "hi");
    // SpendLogs (JSON columns as strings): no text stored.
    let (d, r) = one("litellm/spend_logs_payload.json");
    assert_eq!(d.requests.input.get(r), "");
    assert_eq!(meta(&d, r, "session"), Some("1234567890"));
    assert!(sample(&d, r, "gpt-4o", 0).ttft_ms.is_nan());
    // Synthetic SpendLogs: 4 requests, one cache hit, one 429; logged cost $0.00554.
    let d = ds(&root.join("synthetic/litellm/spend_logs_rows_synthetic.jsonl"));
    let s = logged_summary(&d);
    assert_eq!(s.requests, 4);
    assert_eq!(s.cost_total, fixed_sum(&[0.00014, 0.0054, 0.0, 0.0]));
    assert_eq!(s.success_rate, 0.75);
    assert_eq!(s.cache_rate, 0.25);
    // Latencies 2400, 8100, 350, 4 → sorted 4, 350, 2400, 8100: p50 1375, p95 at
    // 2.85 → 2400 + 0.85 × 5700 = 7245 (in floating point as interpolated here).
    let lat = [4.0, 350.0, 2400.0, 8100.0];
    assert_eq!(s.latency_p50, 1375.0);
    assert_eq!(s.latency_p95, q(&lat, 0.95));
    assert!((s.latency_p95 - 7245.0).abs() < 1e-9);
    // Portkey: 2 requests; p95 of 2400 and 8100 at 0.95 → 7815.
    let d = ds(&root.join("synthetic/portkey/logs_export_synthetic.jsonl"));
    let s = logged_summary(&d);
    assert_eq!((s.requests, s.success_rate), (2, 1.0));
    assert_eq!(s.latency_p50, 5250.0);
    assert_eq!(s.latency_p95, q(&[2400.0, 8100.0], 0.95));
    assert!((s.latency_p95 - 7815.0).abs() < 1e-9);
    assert_eq!(
        s.cost_total,
        fixed_sum(&[0.01794 / 100.0, 0.0 + 0.54 / 100.0])
    );
    // Helicone: 2 requests, one 429; p50 of 2400 and 350 = 1375, p95 2297.5.
    let d = ds(&root.join("synthetic/helicone/export_synthetic.jsonl"));
    let s = logged_summary(&d);
    assert_eq!((s.success_rate, s.latency_p50), (0.5, 1375.0));
    assert_eq!(s.latency_p95, q(&[350.0, 2400.0], 0.95));
    assert!((s.latency_p95 - 2297.5).abs() < 1e-9);
    assert_eq!(s.ttft_p50, 650.0);
    // OpenRouter: the generation response (wrapped in {"data": …}) and the fallback.
    let (d, r) = one("openrouter/generation_response_example.json");
    assert_eq!(d.requests.ids[r], "req-1727282430-aBcDeFgHiJkLmNoPqRsT");
    assert_eq!(meta(&d, r, "asked_model"), Some("openrouter/auto"));
    let c = sample(&d, r, "sao10k/l3-stheno-8b", 0);
    assert_eq!(
        (c.input_tokens, c.output_tokens, c.cached_tokens),
        (10, 25, 3)
    );
    assert_eq!((c.latency_ms, c.cost_usd), (1250.0, 0.0015));
    let (d, r) = one("synthetic/openrouter/generation_fallback_synthetic.json");
    assert_eq!(sample(&d, r, "openai/gpt-4o", 0).status, Status(429));
    assert_eq!(sample(&d, r, "openai/gpt-4o", 1).status, Status::OK);
    assert_eq!(logged_row(&d, r).5, 1840.0);
    // Fragments of OpenRouter's API are refused with what to import instead.
    for f in [
        "openrouter/provider_response_example.json",
        "openrouter/generation_content_example.json",
        "openrouter/generation_content_error_example.json",
    ] {
        let e = load(&root.join(f), &LoadOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("import the records of GET /api/v1/generation"),
            "{f}: {e}"
        );
    }
    // OpenAI Batch: the real output line alone (no input: the answer's model).
    let (d, r) = one("openai_batch/batch_output_line.jsonl");
    assert_eq!(d.models, ["gpt-4o-mini-2024-07-18"]);
    assert_eq!(sample(&d, r, "gpt-4o-mini-2024-07-18", 0).output_tokens, 8);
    // … and the synthetic input + error files: req-0001 has no result.
    let b = root.join("synthetic/openai_batch");
    let d = routesim::dataset::load::load_logs(
        &[
            b.join("batch_input_synthetic.jsonl"),
            b.join("batch_error_file_synthetic.jsonl"),
        ],
        &LoadOptions::default(),
    )
    .unwrap();
    let l = d.logged.as_ref().unwrap();
    assert_eq!(l.status[req(&d, "req-0001")], Status::MISSING);
    assert_eq!(l.status[req(&d, "req-0002")], Status(400));
    assert_eq!(l.status[req(&d, "req-0003")], Status::GATEWAY_REJECTED);
    // Not a log: the raw chat completion of the real proxy.
    let e = load(
        &root.join("litellm/real-proxy/raw_chat_completion.json"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not a format routesim reads"), "{e}");
}

// ---------------------------------------------------------------------------------
// Properties: for any LiteLLM log, whatever the order of its lines, each request's
// logged outcome is what its own lines say, and the folder reads back identically.
// ---------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A call: (group index, status index, start ms offset, duration ms, cost µ$).
    type Call = (usize, usize, u32, u32, u32);

    fn line(trace: usize, k: usize, c: &Call) -> String {
        let groups = ["a", "b", "c"];
        let (g, st, start, dur, cost) = *c;
        let status = ["success", "429", "500"][st];
        let ok = status == "success";
        let s = 1_700_000_000.0 + trace as f64 * 10.0 + start as f64 / 1000.0;
        let e = s + dur as f64 / 1000.0;
        serde_json::json!({
            "id": format!("c{trace}-{k}"),
            "trace_id": format!("t{trace}"),
            "call_type": "acompletion",
            "status": if ok { "success" } else { "failure" },
            "startTime": s,
            "endTime": e,
            "model": format!("openai/{}", groups[g]),
            "model_group": groups[g],
            "response_cost": if ok { cost as f64 * 1e-6 } else { 0.0 },
            "prompt_tokens": if ok { 10 } else { 0 },
            "completion_tokens": if ok { 5 } else { 0 },
            "error_information": {"error_code": if ok { "" } else { status }},
            "end_user": format!("u{}", trace % 3),
            "messages": [{"role": "user", "content": format!("prompt {trace}")}],
        })
        .to_string()
    }

    fn calls() -> impl Strategy<Value = Vec<Vec<Call>>> {
        let call = (0usize..3, 0usize..3, 0u32..5000, 1u32..3000, 0u32..2000);
        prop::collection::vec(prop::collection::vec(call, 1..4), 1..12)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn logged_outcomes_follow_each_requests_own_lines(
            reqs in calls(),
            seed in any::<u64>(),
        ) {
            let mut lines: Vec<String> = Vec::new();
            for (t, cs) in reqs.iter().enumerate() {
                for (k, c) in cs.iter().enumerate() {
                    lines.push(line(t, k, c));
                }
            }
            // Shuffle the file (a seeded Fisher–Yates).
            let mut x = seed | 1;
            for i in (1..lines.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                lines.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("log.jsonl");
            std::fs::write(&f, lines.join("\n") + "\n").unwrap();
            let d = ds(&f);
            prop_assert_eq!(d.n_requests(), reqs.len());
            let raw = raw_slp_totals(&f);
            assert_logged_equals_raw(&logged_summary(&d), &raw);
            let l = d.logged.as_ref().unwrap();
            for (t, cs) in reqs.iter().enumerate() {
                let r = req(&d, &format!("t{t}"));
                prop_assert_eq!(l.attempts[r] as usize, cs.len());
                // The request's fields come from its earliest call.
                // (Calls starting and ending together are in file order.)
                let groups = ["a", "b", "c"];
                let earliest = cs.iter().map(|c| (c.2, c.3)).min().unwrap();
                let asked = meta(&d, r, "asked_model").unwrap();
                prop_assert!(cs
                    .iter()
                    .any(|c| (c.2, c.3) == earliest && groups[c.0] == asked));
                // Samples per cell: as many as calls to that group.
                for (g, name) in groups.iter().enumerate() {
                    let n = cs.iter().filter(|c| c.0 == g).count();
                    let m = d.model_id(name);
                    prop_assert_eq!(m.map_or(0, |m| d.n_samples(r, m)), n);
                }
            }
            // The folder reads back as the log does.
            let out = dir.path().join("d");
            ok(routesim(&["import", s(&f), "-o", s(&out), "-q"]));
            prop_assert_eq!(dump(&ds(&out)), dump(&d));
        }
    }
}
