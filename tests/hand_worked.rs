//! A hand-worked fixture: 5 requests × 3 models (tests/fixtures/hand), one policy per
//! shipped strategy. Every expected figure below is worked out by hand from the
//! fixture files; the comments show the arithmetic.
//!
//! Prices ($/Mtok in/out): cheap 1/2, mid 2/8, premium 10/50. Cost of an answer =
//! input_tokens × in + output_tokens × out. Input tokens: q1 100, q2 200, q3 300,
//! q4 400, q5 500. Recorded cells (status, output tokens, latency ms, quality) and
//! their costs:
//!
//! | req | cheap                    | mid                        | premium                                  |
//! |-----|--------------------------|----------------------------|------------------------------------------|
//! | q1  | ok 50 400 .6  → .0002    | ok 60 800 .8   → .00068    | ok 70 1500 .9   → .001+.0035 = .0045     |
//! | q2  | ok 100 600 .4 → .0004    | ok 120 1200 .7 → .00136    | 503 300 (s0); ok 150 2000 .95 (s1) → .0095 |
//! | q3  | 429 100 (retry-after 1s) | ok 200 1500 .8 → .0022     | 500 400 (one sample: retries repeat it)  |
//! | q4  | ok 80 500 .5  → .00056   | timeout 30000              | ok 90 1800 .85  → .004+.0045 = .0085     |
//! | q5  | ok 40 300 .9  → .00058   | ok 45 700 .9   → .00136    | ok 60 1200 1.0  → .005+.003 = .008       |
//!
//! Failed requests count quality 0 (gateway `failure_quality`), cost 0 (errors are free
//! unless a cost is recorded).

mod common;

use routesim::dataset::{LoadOptions, Status, load};
use routesim::policy::load_all;
use routesim::pricing::PriceBook;
use routesim::sim::trace::{Trace, flags};
use routesim::sim::{SimOptions, run};

/// (model, status, cost, latency, quality, attempts, fell_back, retried, escalated)
type Want = (&'static str, Status, f64, f64, f64, u16, bool, bool, bool);

fn simulate() -> Trace {
    let dir = common::fixture("hand");
    let ds = load(&dir, &LoadOptions::default()).expect("fixture loads");
    let book = PriceBook::load(&ds.pricing_files, 0).unwrap();
    let prices = book.resolve(&ds.models).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let policies = load_all(&files).unwrap();
    run(&ds, &prices, &policies, &SimOptions::default()).unwrap_or_else(|_| panic!("simulation"))
}

fn check(trace: &Trace, policy: &str, want: [Want; 5]) {
    let p = trace.policy_index(policy).unwrap();
    for (r, (row, w)) in trace.policy_rows(p).iter().zip(want.iter()).enumerate() {
        let ctx = format!("{policy} q{}", r + 1);
        assert_eq!(trace.model_name(row.model), w.0, "{ctx} model");
        assert_eq!(row.status, w.1, "{ctx} status");
        assert!(
            (row.cost_usd - w.2).abs() < 1e-12,
            "{ctx} cost {} != {}",
            row.cost_usd,
            w.2
        );
        assert_eq!(row.latency_ms, w.3, "{ctx} latency");
        assert!(
            (row.quality - w.4).abs() < 1e-12,
            "{ctx} quality {} != {}",
            row.quality,
            w.4
        );
        assert_eq!(row.attempts, w.5, "{ctx} attempts");
        assert_eq!(row.has(flags::FELL_BACK), w.6, "{ctx} fell_back");
        assert_eq!(row.has(flags::RETRIED), w.7, "{ctx} retried");
        assert_eq!(row.has(flags::ESCALATED), w.8, "{ctx} escalated");
    }
}

const OK: Status = Status::OK;

#[test]
fn fallback_chain_with_retries() {
    // premium → mid → cheap; 1 retry on 429/5xx after 500 ms; timeout 20 s.
    // q2: premium 503 (300) + wait 500 + retry gets sample 1, ok (2000) = 2800 ms, 2 calls.
    // q3: premium 500 (400) + 500 + 500 again (400, one sample) → fall back to mid
    //     ok 1500: 400+500+400+1500 = 2800 ms, 3 calls, cost .0022.
    let t = simulate();
    check(
        &t,
        "fallback",
        [
            ("premium", OK, 0.0045, 1500.0, 0.9, 1, false, false, false),
            ("premium", OK, 0.0095, 2800.0, 0.95, 2, false, true, false),
            ("mid", OK, 0.0022, 2800.0, 0.8, 3, true, true, false),
            ("premium", OK, 0.0085, 1800.0, 0.85, 1, false, false, false),
            ("premium", OK, 0.008, 1200.0, 1.0, 1, false, false, false),
        ],
    );
}

#[test]
fn cost_routing_by_complexity() {
    // Seed classifier: < 50 chars simple → cheap; "explain"/"analyze" → premium; else mid.
    // q1 (8 chars) simple; q2 (51, "explain") complex; q3 (52) medium; q4 (55) medium;
    // q5 (20) simple. No retries: q2 premium 503 fails (300 ms); q4 mid timeout (30 s).
    let t = simulate();
    check(
        &t,
        "complexity",
        [
            ("cheap", OK, 0.0002, 400.0, 0.6, 1, false, false, false),
            (
                "premium",
                Status(503),
                0.0,
                300.0,
                0.0,
                1,
                false,
                false,
                false,
            ),
            ("mid", OK, 0.0022, 1500.0, 0.8, 1, false, false, false),
            (
                "mid",
                Status::TIMEOUT,
                0.0,
                30000.0,
                0.0,
                1,
                false,
                false,
                false,
            ),
            ("cheap", OK, 0.00058, 300.0, 0.9, 1, false, false, false),
        ],
    );
}

#[test]
fn cost_tiers_by_plan() {
    // free → cheap tier, pro → balanced (mid), enterprise → premium; one member each.
    // q3 enterprise → premium 500, no retries: fails after 400 ms.
    let t = simulate();
    check(
        &t,
        "tiers",
        [
            ("cheap", OK, 0.0002, 400.0, 0.6, 1, false, false, false),
            ("mid", OK, 0.00136, 1200.0, 0.7, 1, false, false, false),
            (
                "premium",
                Status(500),
                0.0,
                400.0,
                0.0,
                1,
                false,
                false,
                false,
            ),
            ("cheap", OK, 0.00056, 500.0, 0.5, 1, false, false, false),
            ("mid", OK, 0.00136, 700.0, 0.9, 1, false, false, false),
        ],
    );
}

#[test]
fn task_based_with_route_fallbacks() {
    // coding → premium with fallbacks [mid]; reasoning → mid; simple → cheap; else mid.
    // q3 coding: premium 500 (400) → mid ok 1500: 1900 ms, 2 calls, fell back.
    // q4 creative → default mid: timeout, no fallbacks: fails at 30 s.
    let t = simulate();
    check(
        &t,
        "task",
        [
            ("cheap", OK, 0.0002, 400.0, 0.6, 1, false, false, false),
            ("mid", OK, 0.00136, 1200.0, 0.7, 1, false, false, false),
            ("mid", OK, 0.0022, 1900.0, 0.8, 2, true, false, false),
            (
                "mid",
                Status::TIMEOUT,
                0.0,
                30000.0,
                0.0,
                1,
                false,
                false,
                false,
            ),
            ("mid", OK, 0.00136, 700.0, 0.9, 1, false, false, false),
        ],
    );
}

#[test]
fn hybrid_best_under_cost_and_latency_limits_leave_one_out() {
    // best quality among models whose estimated mean cost ≤ $0.003 and mean latency
    // ≤ 1000 ms, estimated on the OTHER four requests (successful answers only).
    // premium: every successful answer costs ≥ .0045 → never eligible.
    // mid latencies: q1 800, q2 1200, q3 1500, q5 700 (q4 timed out).
    //   q1: (1200+1500+700)/3 = 1133 > 1000 → mid out → cheap
    //   q2: (800+1500+700)/3 = 1000 ≤ 1000 → mid (its own 1200 would have excluded it)
    //   q3: (800+1200+700)/3 = 900 → mid;  q4: (800+1200+1500+700)/4 = 1050 → cheap
    //   q5: (800+1200+1500)/3 = 1167 → cheap
    // mid's quality beats cheap's whenever mid is eligible (.8/.83 vs ≤ .67).
    let t = simulate();
    check(
        &t,
        "hybrid",
        [
            ("cheap", OK, 0.0002, 400.0, 0.6, 1, false, false, false),
            ("mid", OK, 0.00136, 1200.0, 0.7, 1, false, false, false),
            ("mid", OK, 0.0022, 1500.0, 0.8, 1, false, false, false),
            ("cheap", OK, 0.00056, 500.0, 0.5, 1, false, false, false),
            ("cheap", OK, 0.00058, 300.0, 0.9, 1, false, false, false),
        ],
    );
}

#[test]
fn cascade_escalates_and_adds_costs() {
    // cheap → mid → premium; accept quality ≥ 0.7; the last model is always accepted.
    // q1: cheap .6 → escalate; mid .8 ok: .0002+.00068 = .00088, 400+800 = 1200 ms.
    // q2: cheap .4 → mid .7 (≥ .7): .0004+.00136 = .00176, 600+1200 = 1800 ms.
    // q3: cheap 429 (100 ms) → fall back to mid .8: .0022, 1600 ms.
    // q4: cheap .5 → escalate; mid timeout (30 s) → fall back; premium .85:
    //     .00056+0+.0085 = .00906, 500+30000+1800 = 32300 ms, 3 calls.
    // q5: cheap .9 accepted: .00058, 300 ms.
    let t = simulate();
    check(
        &t,
        "cascade",
        [
            ("mid", OK, 0.00088, 1200.0, 0.8, 2, false, false, true),
            ("mid", OK, 0.00176, 1800.0, 0.7, 2, false, false, true),
            ("mid", OK, 0.0022, 1600.0, 0.8, 2, true, false, false),
            ("premium", OK, 0.00906, 32300.0, 0.85, 3, true, false, true),
            ("cheap", OK, 0.00058, 300.0, 0.9, 1, false, false, false),
        ],
    );
}

/// The documented sticky hash, written again from its description (FNV-1a 64 over
/// "salt\0value", SplitMix64 finaliser, top 53 bits as a uniform in [0, 1)).
fn sticky_unit(salt: &str, value: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain([0u8]).chain(value.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn ab_split_is_sticky_per_user() {
    // 50/50 cheap vs premium, sticky by meta.user_id (u1: q1 q3, u2: q2 q5, u3: q4).
    // Per request, the outcome on each arm (no retries):
    //   q1 cheap ok .0002 400 .6      | premium ok .0045 1500 .9
    //   q2 cheap ok .0004 600 .4      | premium 503 fails 300
    //   q3 cheap 429 fails 100        | premium 500 fails 400
    //   q4 cheap ok .00056 500 .5     | premium ok .0085 1800 .85
    //   q5 cheap ok .00058 300 .9     | premium ok .008 1200 1.0
    let cheap: [Want; 5] = [
        ("cheap", OK, 0.0002, 400.0, 0.6, 1, false, false, false),
        ("cheap", OK, 0.0004, 600.0, 0.4, 1, false, false, false),
        (
            "cheap",
            Status(429),
            0.0,
            100.0,
            0.0,
            1,
            false,
            false,
            false,
        ),
        ("cheap", OK, 0.00056, 500.0, 0.5, 1, false, false, false),
        ("cheap", OK, 0.00058, 300.0, 0.9, 1, false, false, false),
    ];
    let premium: [Want; 5] = [
        ("premium", OK, 0.0045, 1500.0, 0.9, 1, false, false, false),
        (
            "premium",
            Status(503),
            0.0,
            300.0,
            0.0,
            1,
            false,
            false,
            false,
        ),
        (
            "premium",
            Status(500),
            0.0,
            400.0,
            0.0,
            1,
            false,
            false,
            false,
        ),
        ("premium", OK, 0.0085, 1800.0, 0.85, 1, false, false, false),
        ("premium", OK, 0.008, 1200.0, 1.0, 1, false, false, false),
    ];
    let users = ["u1", "u2", "u1", "u3", "u2"];
    let want: Vec<Want> = (0..5)
        .map(|i| {
            if sticky_unit("split", users[i]) < 0.5 {
                cheap[i]
            } else {
                premium[i]
            }
        })
        .collect();
    let t = simulate();
    check(&t, "split", want.try_into().unwrap());
}

#[test]
fn summary_figures_match_the_hand_totals() {
    use routesim::analysis::{RunTable, SummaryOptions, summarize};
    let dir = common::fixture("hand");
    let ds = load(&dir, &LoadOptions::default()).unwrap();
    let t = simulate();
    let s = summarize(
        &RunTable::of_run(&t, &ds),
        &SummaryOptions {
            bootstrap: 200,
            seed: 1,
        },
    );
    let c = s.iter().find(|x| x.policy == "cascade").unwrap();
    // cost .00088+.00176+.0022+.00906+.00058 = .01448; quality (.8+.7+.8+.85+.9)/5 = .81
    assert!((c.cost_total - 0.01448).abs() < 1e-12);
    assert!((c.cost_per_1k - 2.896).abs() < 1e-9);
    assert!((c.quality_mean - 0.81).abs() < 1e-12);
    // latencies sorted: 300 1200 1600 1800 32300 → p50 1600; p95 at 3.8 → 1800 + .8 × 30500
    assert_eq!(c.latency_p50, 1600.0);
    assert!((c.latency_p95 - 26200.0).abs() < 1e-9);
    // escalated q1 q2 q4; fell back q3 q4; calls 2+2+2+3+1 = 10
    assert!((c.escalation_rate - 0.6).abs() < 1e-12);
    assert!((c.fallback_rate - 0.4).abs() < 1e-12);
    assert!((c.attempts_mean - 2.0).abs() < 1e-12);
    assert_eq!(c.model_mix[0], ("mid".to_string(), 0.6));
    let cx = s.iter().find(|x| x.policy == "complexity").unwrap();
    // successes q1 q3 q5; cost .0002+.0022+.00058 = .00298 → per success .000993…
    assert!((cx.success_rate - 0.6).abs() < 1e-12);
    assert!((cx.cost_per_success - 0.00298 / 3.0).abs() < 1e-15);
    let task = s.iter().find(|x| x.policy == "task").unwrap();
    let hits: Vec<(String, u64)> = task.rule_hits.clone();
    assert!(hits.contains(&("coding".into(), 1)));
    assert!(hits.contains(&("default".into(), 2)));
    assert!(
        hits.contains(&("never".into(), 0)),
        "a rule that never fires shows 0 hits"
    );
}
