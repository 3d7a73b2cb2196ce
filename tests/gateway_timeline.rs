//! Hand-worked timelines for each stateful gateway mechanism (virtual time).
//!
//! Every dataset here has flat prices of $1 per million tokens in and out, 100 prompt
//! tokens per request, so an answer with 50 output tokens costs 150e-6 USD.
//! Arrivals are given in seconds; latencies in ms.

use routesim::dataset::build::from_matrix;
use routesim::dataset::{Dataset, DatasetInfo, MetaColumn, Requests, Sample, Status, TextColumn};
use routesim::policy::parse::parse;
use routesim::pricing::ModelPrice;
use routesim::sim::trace::{Trace, TraceRow, flags};
use routesim::sim::{SimOptions, run};

fn ok(latency: f32) -> Sample {
    Sample {
        ttft_ms: f32::NAN,
        ..Sample::ok(100, 50, latency, 0.8)
    }
}
fn err(code: u16, latency: f32) -> Sample {
    Sample {
        status: Status(code),
        input_tokens: 100,
        latency_ms: latency,
        ..Sample::MISSING
    }
}

/// A dataset: `cells[r][m]` for requests arriving at `at_s[r]` seconds, with inputs.
fn dataset(models: &[&str], at_s: &[f64], inputs: &[&str], cells: Vec<Vec<Sample>>) -> Dataset {
    let n = at_s.len();
    let t0 = 1_717_372_800_000i64; // 2024-06-03T00:00:00Z
    let req = Requests {
        ids: (0..n).map(|i| format!("r{i}")).collect(),
        ts_ms: at_s
            .iter()
            .map(|s| t0 + (s * 1000.0).round() as i64)
            .collect(),
        input: TextColumn::from_iter_str(inputs.iter().copied()),
        input_chars: inputs.iter().map(|s| s.len() as u32).collect(),
        input_tokens: vec![100; n],
        input_tokens_estimated: vec![false; n],
        turns: vec![1; n],
        reference: None,
        meta: vec![MetaColumn::new("user", vec![0; n], vec!["u".into()])],
    };
    let cells: Vec<Sample> = cells.into_iter().flatten().collect();
    from_matrix(
        DatasetInfo::default(),
        req,
        models.iter().map(|s| s.to_string()).collect(),
        cells,
    )
}

fn simulate(ds: &Dataset, policy: &str) -> Trace {
    let p = parse("p.toml", policy, "p").unwrap_or_else(|e| panic!("{e}"));
    let prices: Vec<ModelPrice> = ds
        .models
        .iter()
        .map(|_| ModelPrice::per_mtok(1.0, 1.0, "flat"))
        .collect();
    run(ds, &prices, &[p], &SimOptions::default()).unwrap_or_else(|_| panic!("run"))
}

fn rows(t: &Trace) -> &[TraceRow] {
    t.policy_rows(0)
}

fn models_tried(t: &Trace, r: usize) -> Vec<(String, Status)> {
    t.attempts
        .iter()
        .filter(|a| a.row as usize == r)
        .map(|a| (t.model_name(a.model).to_string(), a.status))
        .collect()
}

const C: f64 = 150e-6; // cost of one answer

#[test]
fn exact_match_cache_with_ttl() {
    // ttl 60 s, hit latency 5 ms. "hello" at 0 s (done at 1 s), 0.5 s (arrives before
    // the first is done: miss; re-caches at 1.5 s until 61.5 s), 10 s (hit), 100 s
    // (expired: miss). "other" at 10 s: miss.
    let ds = dataset(
        &["a"],
        &[0.0, 0.5, 10.0, 100.0, 10.0],
        &["hello", "hello", "hello", "hello", "other"],
        vec![vec![ok(1000.0)]; 5],
    );
    let t = simulate(
        &ds,
        "[gateway]\ncache = { kind = \"exact\", ttl_s = 60, hit_latency_ms = 5 }\n[default]\nroute = \"a\"\n",
    );
    let hits: Vec<bool> = rows(&t).iter().map(|r| r.has(flags::CACHE_HIT)).collect();
    assert_eq!(hits, vec![false, false, true, false, false]);
    let r2 = rows(&t)[2];
    assert_eq!(
        (r2.cost_usd, r2.latency_ms, r2.attempts, r2.status),
        (0.0, 5.0, 0, Status::OK)
    );
    assert_eq!(r2.quality, 0.8);
    let total: f64 = rows(&t).iter().map(|r| r.cost_usd).sum();
    assert!((total - 4.0 * C).abs() < 1e-15);
}

#[test]
fn budget_downgrades_then_resets_next_period() {
    // $0.0003 per hour; "exp" costs 150e-6 per answer, spend counted when a call ends.
    // 0 s: spent 0 → exp (ends 1 s, spent .00015). 0.5 s: spent 0 (first not ended) → exp.
    // 2 s: spent .0003 ≥ limit → downgrade to cheap. 3601 s: new hour → exp.
    let ds = dataset(
        &["exp", "cheap"],
        &[0.0, 0.5, 2.0, 3601.0],
        &["a", "b", "c", "d"],
        vec![vec![ok(1000.0), ok(300.0)]; 4],
    );
    let t = simulate(
        &ds,
        "[gateway]\nbudget = { limit_usd = 0.0003, period = \"1h\", when_exceeded = { route = \"cheap\" } }\n[default]\nroute = \"exp\"\n",
    );
    let m: Vec<&str> = rows(&t).iter().map(|r| t.model_name(r.model)).collect();
    assert_eq!(m, vec!["exp", "exp", "cheap", "exp"]);
    assert!(rows(&t)[2].has(flags::BUDGET_DOWNGRADE));
    assert_eq!(rows(&t)[2].latency_ms, 300.0);
    // Reject instead: the third request fails locally, costs nothing.
    let t = simulate(
        &ds,
        "[gateway]\nbudget = { limit_usd = 0.0003, period = 3600 }\n[default]\nroute = \"exp\"\n",
    );
    let r = rows(&t)[2];
    assert_eq!(
        (r.status, r.cost_usd, r.attempts),
        (Status::GATEWAY_REJECTED, 0.0, 0)
    );
    assert!(r.has(flags::BUDGET_REJECTED));
    assert_eq!(rows(&t)[3].status, Status::OK);
}

#[test]
fn budget_per_key() {
    // Per-user budgets: user u0 spends its $0.0002, user u1 is unaffected.
    let mut ds = dataset(
        &["exp", "cheap"],
        &[0.0, 2.0, 4.0, 6.0],
        &["a", "b", "c", "d"],
        vec![vec![ok(1000.0), ok(300.0)]; 4],
    );
    ds.requests.meta[0] = MetaColumn::new("user", vec![0, 0, 1, 0], vec!["u0".into(), "u1".into()]);
    let t = simulate(
        &ds,
        "[gateway]\nbudget = { limit_usd = 0.0002, period = \"1d\", per = \"meta.user\", when_exceeded = { route = \"cheap\" } }\n[default]\nroute = \"exp\"\n",
    );
    let m: Vec<&str> = rows(&t).iter().map(|r| t.model_name(r.model)).collect();
    // u0: .00015 < .0002 → exp; then .0003 ≥ .0002 → cheap. u1: fresh → exp.
    assert_eq!(m, vec!["exp", "exp", "exp", "cheap"]);
}

#[test]
fn cooldown_after_more_than_allowed_fails() {
    // allowed_fails 1 per 60 s window, cooldown 5 s. "a" always 500 after 100 ms,
    // fallback "b" answers in 1000 ms. Arrivals 0, 1, 2, 3, 10 s.
    // 0 s: a fails (1 ≤ 1) → b. 1 s: a fails (2 > 1 → cooldown until 1.1 + 5 = 6.1 s) → b.
    // 2 s and 3 s: a skipped (cooldown) → b only. 10 s: a tried again, fails → b.
    let ds = dataset(
        &["a", "b"],
        &[0.0, 1.0, 2.0, 3.0, 10.0],
        &["x"; 5],
        vec![vec![err(500, 100.0), ok(1000.0)]; 5],
    );
    let t = simulate(
        &ds,
        "[gateway]\ncooldown = { allowed_fails = 1, window_s = 60, cooldown_s = 5 }\n[default]\nroute.fallback = [\"a\", \"b\"]\n",
    );
    let attempts: Vec<u16> = rows(&t).iter().map(|r| r.attempts).collect();
    assert_eq!(attempts, vec![2, 2, 1, 1, 2]);
    let skip: Vec<bool> = rows(&t)
        .iter()
        .map(|r| r.has(flags::COOLDOWN_SKIP))
        .collect();
    assert_eq!(skip, vec![false, false, true, true, false]);
    let lat: Vec<f64> = rows(&t).iter().map(|r| r.latency_ms).collect();
    assert_eq!(lat, vec![1100.0, 1100.0, 1000.0, 1000.0, 1100.0]);
    assert!(
        rows(&t)
            .iter()
            .all(|r| r.status == Status::OK && t.model_name(r.model) == "b")
    );
}

#[test]
fn circuit_breaker_opens_and_half_open_probe_decides() {
    // Open when failures exceed 1; open for 5000 ms; one half-open probe; counts 5xx.
    // "a" per request: 500, 500, (500), 500, (ok), ok, ok — 100 ms each; "b" always ok.
    // r0 0 s: a fails (1). r1 1 s: a fails (2 > 1): open until 6.1 s → b.
    // r2 2 s: open → skip a → b. r3 7 s: half-open probe → a fails → open until 12.1 s → b.
    // r4 8 s: open → b. r5 13 s: probe succeeds → closed, a answers. r6 14 s: a.
    let a = [
        err(500, 100.0),
        err(500, 100.0),
        err(500, 100.0),
        err(500, 100.0),
        ok(100.0),
        ok(100.0),
        ok(100.0),
    ];
    let cells: Vec<Vec<Sample>> = a.iter().map(|s| vec![*s, ok(1000.0)]).collect();
    let ds = dataset(
        &["a", "b"],
        &[0.0, 1.0, 2.0, 7.0, 8.0, 13.0, 14.0],
        &["x"; 7],
        cells,
    );
    let t = simulate(
        &ds,
        "[gateway]\ncircuit_breaker = { failure_threshold = 1, cooldown_ms = 5000, half_open_probes = 1, on = [\"5xx\"] }\n[default]\nroute.fallback = [\"a\", \"b\"]\n",
    );
    let m: Vec<&str> = rows(&t).iter().map(|r| t.model_name(r.model)).collect();
    assert_eq!(m, vec!["b", "b", "b", "b", "b", "a", "a"]);
    let skipped: Vec<bool> = rows(&t)
        .iter()
        .map(|r| r.has(flags::BREAKER_SKIP))
        .collect();
    assert_eq!(skipped, vec![false, false, true, false, true, false, false]);
    assert_eq!(
        models_tried(&t, 3),
        vec![("a".into(), Status(500)), ("b".into(), Status::OK)]
    );
}

#[test]
fn breaker_is_bypassed_when_every_target_is_open() {
    // Portkey: with all targets open, the breaker is bypassed and targets are tried.
    let ds = dataset(
        &["a"],
        &[0.0, 1.0, 2.0],
        &["x"; 3],
        vec![
            vec![err(500, 100.0)],
            vec![err(500, 100.0)],
            vec![ok(100.0)],
        ],
    );
    let t = simulate(
        &ds,
        "[gateway]\ncircuit_breaker = { failure_threshold = 1, cooldown_ms = 60000 }\n[default]\nroute = \"a\"\n",
    );
    assert_eq!(
        rows(&t)[2].status,
        Status::OK,
        "a single open target is still tried"
    );
}

#[test]
fn rpm_limit_gives_local_429_until_the_next_minute() {
    // rpm 2 on "a": arrivals 0, 10, 20, 30 s (minute [0, 60)) and 61 s.
    // r2 and r3 get a local 429 (0 ms, free) and fall back to "b"; r4 is a new minute.
    let ds = dataset(
        &["a", "b"],
        &[0.0, 10.0, 20.0, 30.0, 61.0],
        &["x"; 5],
        vec![vec![ok(500.0), ok(800.0)]; 5],
    );
    let t = simulate(
        &ds,
        "[models]\na = { model = \"a\", rpm = 2 }\n[default]\nroute.fallback = [\"a\", \"b\"]\n",
    );
    let m: Vec<&str> = rows(&t).iter().map(|r| t.model_name(r.model)).collect();
    assert_eq!(m, vec!["a", "a", "b", "b", "a"]);
    assert_eq!(
        models_tried(&t, 2),
        vec![("a".into(), Status(429)), ("b".into(), Status::OK)]
    );
    assert_eq!(rows(&t)[2].latency_ms, 800.0);
    assert!(rows(&t)[2].has(flags::LOCAL_429));
}

#[test]
fn tpm_limit_counts_prompt_and_completion_tokens() {
    // tpm 250 on "a"; each call: 100 prompt tokens at admission, 50 completion tokens
    // when it ends. 0 s: 0+100 ≤ 250 (then 150). 2 s: 150+100 = 250 ≤ 250 (then 300).
    // 4 s: 300+100 > 250 → local 429 → b. 61 s: new minute → a.
    let ds = dataset(
        &["a", "b"],
        &[0.0, 2.0, 4.0, 61.0],
        &["x"; 4],
        vec![vec![ok(1000.0), ok(800.0)]; 4],
    );
    let t = simulate(
        &ds,
        "[models]\na = { model = \"a\", tpm = 250 }\n[default]\nroute.fallback = [\"a\", \"b\"]\n",
    );
    let m: Vec<&str> = rows(&t).iter().map(|r| t.model_name(r.model)).collect();
    assert_eq!(m, vec!["a", "a", "b", "a"]);
}

#[test]
fn concurrency_limit_queues_fifo_in_virtual_time() {
    // max_concurrency 1 on "a", each call 1000 ms. Arrivals 0, 0.2, 0.5, 5 s.
    // r0 runs 0–1000. r1 waits 800 → 1000–2000 (latency 1800). r2 waits 1500 →
    // 2000–3000 (latency 2500). r3 runs at once.
    let ds = dataset(
        &["a"],
        &[0.0, 0.2, 0.5, 5.0],
        &["x"; 4],
        vec![vec![ok(1000.0)]; 4],
    );
    let t = simulate(
        &ds,
        "[models]\na = { model = \"a\", max_concurrency = 1 }\n[default]\nroute = \"a\"\n",
    );
    let q: Vec<(f64, f64)> = rows(&t)
        .iter()
        .map(|r| (f64::from(r.queue_ms), r.latency_ms))
        .collect();
    assert_eq!(
        q,
        vec![
            (0.0, 1000.0),
            (800.0, 1800.0),
            (1500.0, 2500.0),
            (0.0, 1000.0)
        ]
    );
    assert!(rows(&t)[1].has(flags::QUEUED) && !rows(&t)[3].has(flags::QUEUED));
}

#[test]
fn exponential_backoff_honours_retry_after() {
    // retries 2, backoff 500 ms × 2. Samples of "a": 429 with retry-after 2000 (100 ms),
    // 429 without (100 ms), ok (1000 ms).
    // 0–100 fail; wait max(500, 2000) = 2000; 2100–2200 fail; wait 1000; 3200–4200 ok.
    let mut ds = dataset(
        &["a"],
        &[0.0],
        &["x"],
        vec![vec![Sample {
            retry_after_ms: 2000.0,
            ..err(429, 100.0)
        }]],
    );
    ds.extra_offsets = vec![0, 2];
    ds.extra = vec![err(429, 100.0), ok(1000.0)];
    for policy in [
        "[gateway]\nretries = { max = 2, backoff_ms = 500, multiplier = 2 }\n[default]\nroute = \"a\"\n",
        // The same through the virtual-time engine (a cooldown makes it stateful).
        "[gateway]\nretries = { max = 2, backoff_ms = 500, multiplier = 2 }\ncooldown = { allowed_fails = 100 }\n[default]\nroute = \"a\"\n",
    ] {
        let t = simulate(&ds, policy);
        let r = rows(&t)[0];
        assert_eq!(
            (r.status, r.attempts, r.latency_ms),
            (Status::OK, 3, 4200.0),
            "{policy}"
        );
        let starts: Vec<f32> = t.attempts.iter().map(|a| a.start_ms).collect();
        assert_eq!(starts, vec![0.0, 2100.0, 3200.0]);
    }
}

#[test]
fn lowest_latency_converges_to_the_faster_model() {
    // "fast" answers in 200 ms, "slow" in 2000 ms (same tokens); one request per second.
    let n = 100;
    let at: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let ds = dataset(
        &["fast", "slow"],
        &at,
        &vec!["x"; n],
        vec![vec![ok(200.0), ok(2000.0)]; n],
    );
    let t = simulate(
        &ds,
        "[default]\nroute.lowest_latency = { candidates = [\"fast\", \"slow\"], window = 5 }\n",
    );
    let fast_after_warmup = rows(&t)[10..]
        .iter()
        .filter(|r| t.model_name(r.model) == "fast")
        .count();
    assert_eq!(
        fast_after_warmup,
        n - 10,
        "once both are measured, the faster one wins"
    );
}

#[test]
fn least_busy_spreads_concurrent_calls() {
    // Three requests at the same instant, two models, each call 1 s: the second goes to
    // the model with fewer calls in flight, the third to either.
    let ds = dataset(
        &["a", "b"],
        &[0.0, 0.0, 5.0],
        &["x"; 3],
        vec![vec![ok(1000.0), ok(1000.0)]; 3],
    );
    let t = simulate(&ds, "[default]\nroute.least_busy = true\n");
    assert_ne!(rows(&t)[0].model, rows(&t)[1].model);
}

#[test]
fn each_lowest_latency_route_reads_its_own_window_and_statistic() {
    // Five warm-up calls per model (routed by text), per-token latencies (50 output
    // tokens): a = 1,1,1,1,10 ms (mean 2.8, p95 8.2), b = 3 ms each (mean 3, p95 3).
    // Then "p95 …" goes through a p95 route (b is better) and "mean …" through a mean
    // route (a is better); buffer 0, so the choice is deterministic.
    let mut at = Vec::new();
    let mut inputs = Vec::new();
    let mut cells = Vec::new();
    for i in 0..5 {
        let a_ms = if i == 4 { 500.0 } else { 50.0 };
        at.push(i as f64 * 10.0);
        inputs.push("warm a");
        cells.push(vec![ok(a_ms), ok(150.0)]);
        at.push(i as f64 * 10.0 + 5.0);
        inputs.push("warm b");
        cells.push(vec![ok(50.0), ok(150.0)]);
    }
    at.extend([100.0, 101.0]);
    inputs.extend(["p95 route", "mean route"]);
    cells.extend([vec![ok(50.0), ok(150.0)], vec![ok(50.0), ok(150.0)]]);
    let ds = dataset(&["a", "b"], &at, &inputs, cells);
    let t = simulate(
        &ds,
        "[[rule]]\nname = \"wa\"\nwhen = { input = \"warm a\" }\nroute = \"a\"\n\
         [[rule]]\nname = \"wb\"\nwhen = { input = \"warm b\" }\nroute = \"b\"\n\
         [[rule]]\nname = \"p95\"\nwhen = { input = \"p95\" }\nroute.lowest_latency = { candidates = [\"a\", \"b\"], window = 5, stat = \"p95\", buffer = 0 }\n\
         [default]\nroute.lowest_latency = { candidates = [\"a\", \"b\"], window = 5, stat = \"mean\", buffer = 0 }\n",
    );
    let m = |r: usize| t.model_name(rows(&t)[r].model).to_string();
    assert_eq!((m(10), m(11)), ("b".to_string(), "a".to_string()));
}

#[test]
fn lowest_latency_fallbacks_stay_in_latency_order_after_the_random_pick() {
    // Warm-up (one call each, window 1): per token a = 1 ms, b = 2 ms, c = 3 ms. With a
    // large buffer all three are eligible and one is picked at random; the others
    // follow best first. Every later request fails on c (500): when c was picked, the
    // fallback must be a (the best), not b.
    let mut at = vec![0.0, 1.0, 2.0];
    let mut inputs = vec!["warm a", "warm b", "warm c"];
    let mut cells = vec![vec![ok(50.0), ok(100.0), ok(150.0)]; 3];
    for i in 0..30 {
        at.push(10.0 + i as f64);
        inputs.push("go");
        cells.push(vec![ok(50.0), ok(100.0), err(500, 10.0)]);
    }
    let ds = dataset(&["a", "b", "c"], &at, &inputs, cells);
    let t = simulate(
        &ds,
        "[[rule]]\nname = \"wa\"\nwhen = { input = \"warm a\" }\nroute = \"a\"\n\
         [[rule]]\nname = \"wb\"\nwhen = { input = \"warm b\" }\nroute = \"b\"\n\
         [[rule]]\nname = \"wc\"\nwhen = { input = \"warm c\" }\nroute = \"c\"\n\
         [default]\nroute.lowest_latency = { candidates = [\"a\", \"b\", \"c\"], window = 1, buffer = 10 }\n",
    );
    let mut picked_c = 0;
    for r in 3..33 {
        let tried = models_tried(&t, r);
        if tried[0].0 == "c" {
            picked_c += 1;
            assert_eq!(tried[1].0, "a", "request {r}: {tried:?}");
        }
    }
    assert!(picked_c > 0, "the random pick chose c at least once");
}

#[test]
fn a_retry_after_a_local_429_reads_the_first_recorded_answer() {
    // rpm 1 on a. r0 (0 s) uses the minute's call; r1 (1 s) gets a local 429, waits
    // 60 s (backoff) and calls a in the next minute. No call was made for r1 before,
    // so it reads r1's first recorded sample (quality 0.9), not its second (0.1).
    let mut ds = dataset(
        &["a"],
        &[0.0, 1.0],
        &["x", "y"],
        vec![vec![ok(100.0)], vec![ok(100.0)]],
    );
    ds.cells[1].quality = 0.9;
    // Cell r1×a gets a second sample (what a retry after a real call would read).
    ds.extra_offsets = vec![0, 0, 1];
    ds.extra = vec![Sample {
        quality: 0.1,
        ..ok(100.0)
    }];
    let t = simulate(
        &ds,
        "[models]\nx = { model = \"a\", rpm = 1 }\n[gateway]\nretries = { max = 1, backoff_ms = 60000, on = [\"429\"] }\n[default]\nroute = \"x\"\n",
    );
    let r1 = rows(&t)[1];
    assert!(r1.has(flags::LOCAL_429) && r1.has(flags::RETRIED));
    assert_eq!((r1.status, r1.quality, r1.attempts), (Status::OK, 0.9, 1));
}

#[test]
fn a_woken_request_beaten_to_the_slot_keeps_its_place_in_line() {
    // a: one call at a time, 1 s calls. r0 (0 s) takes a until 1 s. rx (0 s) tries b,
    // which fails at 1 s, and falls back to a. r1 (0.1 s) and r2 (0.2 s) queue for a.
    // At 1 s a's completion wakes r1, but rx's fallback (an earlier event at the same
    // instant) takes the slot first; r1 goes back to the head of the line: r1 runs
    // 2–3 s (2.9 s end to end), r2 3–4 s (3.8 s).
    let ds = dataset(
        &["a", "b"],
        &[0.0, 0.0, 0.1, 0.2],
        &["r0", "fb", "r1", "r2"],
        vec![
            vec![ok(1000.0), ok(1000.0)],
            vec![ok(1000.0), err(500, 1000.0)],
            vec![ok(1000.0), ok(1000.0)],
            vec![ok(1000.0), ok(1000.0)],
        ],
    );
    let t = simulate(
        &ds,
        "[models]\nx = { model = \"a\", max_concurrency = 1 }\n[[rule]]\nname = \"fb\"\nwhen = { input = \"fb\" }\nroute.fallback = [\"b\", \"x\"]\n[default]\nroute = \"x\"\n",
    );
    let lat: Vec<f64> = rows(&t).iter().map(|r| r.latency_ms).collect();
    assert_eq!(lat, vec![1000.0, 2000.0, 2900.0, 3800.0]);
}
