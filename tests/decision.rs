//! `routesim diff`, `routesim explain` and the rule findings on the hand-worked
//! fixture (tests/fixtures/hand: 5 requests × 3 models; every cell and its cost is
//! listed at the top of tests/hand_worked.rs) with the policies of
//! tests/fixtures/decision. Every figure below is worked out by hand in the comments.

mod common;

use routesim::dataset::{LoadOptions, load};
use routesim::policy::load_all;
use routesim::pricing::PriceBook;
use routesim::sim::{SimOptions, Simulation};
use serde_json::Value;
use std::process::{Command, Output};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repository root (paths in the output are as given).
fn routesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

const A: &str = "tests/fixtures/decision/a.toml";
const B: &str = "tests/fixtures/decision/b.toml";
const GUARDED: &str = "tests/fixtures/decision/guarded.toml";
const HAND: &str = "tests/fixtures/hand";

/// (requests, compared, model_changed, Δcost, Δquality, Δlatency) of a group.
type Figures = (u64, u64, u64, f64, f64, f64);

/// A finding: rule, kind, earlier rules with their request counts.
type Found = (String, String, Vec<(String, u64)>);

/// The [`Figures`] of a JSON group.
fn figures(v: &Value) -> Figures {
    (
        v["requests"].as_u64().unwrap(),
        v["compared"].as_u64().unwrap(),
        v["model_changed"].as_u64().unwrap(),
        v["d_cost_usd"].as_f64().unwrap(),
        v["d_quality"].as_f64().unwrap(),
        v["d_latency_ms"].as_f64().unwrap(),
    )
}

fn close(a: Figures, b: Figures, what: &str) {
    assert_eq!((a.0, a.1, a.2), (b.0, b.1, b.2), "{what}: counts");
    for (x, y, name) in [
        (a.3, b.3, "cost"),
        (a.4, b.4, "quality"),
        (a.5, b.5, "latency"),
    ] {
        assert!((x - y).abs() < 1e-9, "{what}: Δ{name} {x} != {y}");
    }
}

/// Policy A: short (< 30 chars) → cheap, coding → premium, default mid.
/// Policy B: simple/reasoning → cheap, "explain" → fallback [premium, mid],
/// "summarize" → premium, default mid. No retries, no timeout: a failure is final
/// (quality 0, cost 0 — nothing recorded).
///
/// | req | chars | task      | plan       | A: rule → outcome                  | B: rule → outcome                                  |
/// |-----|-------|-----------|------------|------------------------------------|----------------------------------------------------|
/// | q1  | 8     | simple    | free       | short → cheap ok .0002, 400, .6    | simple → cheap (same)                              |
/// | q2  | 51    | analysis  | pro        | default → mid ok .00136, 1200, .7  | explain → premium 503 (300) → mid ok: .00136, 1500, .7 |
/// | q3  | 52    | coding    | enterprise | coding → premium 500: 0, 400, 0    | default → mid ok .0022, 1500, .8                   |
/// | q4  | 55    | creative  | free       | default → mid timeout: 0, 30000, 0 | summaries → premium ok .0085, 1800, .85            |
/// | q5  | 20    | reasoning | pro        | short → cheap ok .00058, 300, .9   | simple → cheap (same)                              |
///
/// Groups (B − A): short→simple {q1, q5}: 0, 0, 0; coding→default {q3}: +.0022,
/// +.8, +1100 ms (model premium → mid); default→explain {q2}: 0, 0, +300 ms (mid
/// both times); default→summaries {q4}: +.0085, +.85, −28200 ms (mid → premium).
/// Total: 2 model changes, +.0107, +1.65, −26800 ms. By meta.plan: enterprise {q3},
/// free {q1, q4}: +.0085, +.85, −28200; pro {q2, q5}: 0, 0, +300.
#[test]
fn diff_groups_and_deltas_are_hand_worked_and_add_up() {
    let out = routesim(&["diff", A, B, "-d", HAND, "--by", "plan", "--json"]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["a"]["policy"], "a");
    assert_eq!(v["b"]["policy"], "b");
    let total = figures(&v["total"]);
    close(total, (5, 5, 2, 0.0107, 1.65, -26800.0), "total");
    let groups: Vec<(String, String, Figures)> = v["by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["rule_a"].as_str().unwrap().to_string(),
                g["rule_b"].as_str().unwrap().to_string(),
                figures(g),
            )
        })
        .collect();
    let want = [
        ("short", "simple", (2, 2, 0, 0.0, 0.0, 0.0)),
        ("coding", "default", (1, 1, 1, 0.0022, 0.8, 1100.0)),
        ("default", "explain", (1, 1, 0, 0.0, 0.0, 300.0)),
        ("default", "summaries", (1, 1, 1, 0.0085, 0.85, -28200.0)),
    ];
    assert_eq!(groups.len(), want.len(), "{groups:?}");
    for (g, w) in groups.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1.as_str()), (w.0, w.1));
        close(g.2, w.2, &format!("{} → {}", w.0, w.1));
    }
    // The groups of each table add up to the total.
    for table in ["by_rule", "by_segment"] {
        let gs = v[table].as_array().unwrap();
        let sum = gs
            .iter()
            .map(figures)
            .fold((0, 0, 0, 0.0, 0.0, 0.0), |s, g| {
                (
                    s.0 + g.0,
                    s.1 + g.1,
                    s.2 + g.2,
                    s.3 + g.3,
                    s.4 + g.4,
                    s.5 + g.5,
                )
            });
        close(sum, total, table);
    }
    let segs: Vec<(&str, Figures)> = v["by_segment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["key"], "meta.plan");
            (g["value"].as_str().unwrap(), figures(g))
        })
        .collect();
    let want = [
        ("enterprise", (1, 1, 1, 0.0022, 0.8, 1100.0)),
        ("free", (2, 2, 1, 0.0085, 0.85, -28200.0)),
        ("pro", (2, 2, 0, 0.0, 0.0, 300.0)),
    ];
    for (s, w) in segs.iter().zip(want) {
        assert_eq!(s.0, w.0);
        close(s.1, w.1, w.0);
    }
    let changes: Vec<(&str, &str, u64)> = v["model_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap(),
                c["to"].as_str().unwrap(),
                c["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes, [("mid", "premium", 1), ("premium", "mid", 1)]);
}

/// The text table shows the same figures as the JSON.
#[test]
fn diff_text_shows_the_json_figures() {
    let text = ok(&routesim(&["diff", A, B, "-d", HAND, "--by", "meta.plan"]));
    for line in [
        "short → simple              2         2             2              0   $0.000000      0.000       0 ms",
        "coding → default            1         1             1              1  +$0.002200     +0.800   +1100 ms",
        "default → explain           1         1             1              0   $0.000000      0.000    +300 ms",
        "default → summaries         1         1             1              1  +$0.008500     +0.850  -28200 ms",
        "total                       5         5             5              2  +$0.010700     +1.650  -26800 ms",
        "free                 2         2             2              1  +$0.008500     +0.850  -28200 ms",
        "final model changes (2 requests): mid → premium 1, premium → mid 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

/// a.toml: "tiny" (< 10 chars) is implied by "short" (< 30): shadowed whatever the
/// data. "enterprise" holds for q3 only, which "coding" takes: shadowed on the data.
/// "multimodal" holds for no request. b.toml: "simple-again" (task = simple) is
/// implied by "simple" (task in [simple, reasoning]).
#[test]
fn dead_and_shadowed_rules_are_found() {
    let v: Value =
        serde_json::from_str(&ok(&routesim(&["diff", A, B, "-d", HAND, "--json"]))).unwrap();
    let kinds = |side: &str| -> Vec<Found> {
        v[side]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["kind"].as_str().unwrap().to_string(),
                    f["by"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| {
                            (
                                b["rule"].as_str().unwrap().to_string(),
                                b["requests"].as_u64().unwrap(),
                            )
                        })
                        .collect(),
                )
            })
            .collect()
    };
    let s = |x: &str| x.to_string();
    assert_eq!(
        kinds("a"),
        [
            (s("tiny"), s("shadowed_static"), vec![(s("short"), 0)]),
            (s("enterprise"), s("shadowed"), vec![(s("coding"), 1)]),
            (s("multimodal"), s("never_matches"), vec![]),
        ]
    );
    assert_eq!(
        kinds("b"),
        [(
            s("simple-again"),
            s("shadowed_static"),
            vec![(s("simple"), 0)]
        )]
    );
    // validate shows them too: statically without a dataset, all with one.
    let plain = ok(&routesim(&["validate", A, B]));
    assert!(plain.contains("rule \"tiny\" can never fire"), "{plain}");
    assert!(!plain.contains("multimodal"), "needs the data: {plain}");
    let with = ok(&routesim(&["validate", A, B, "-d", HAND]));
    for f in [
        "rule \"tiny\" can never fire: every request its condition holds for also meets the earlier rule \"short\"'s",
        "rule \"enterprise\" never fires: earlier rules take the one request its condition holds for on hand (\"coding\" 1)",
        "rule \"multimodal\" never fires: its condition holds for no request of hand",
        "rule \"simple-again\" can never fire",
    ] {
        assert!(with.contains(f), "missing {f:?} in:\n{with}");
    }
}

/// A policy diffed with itself changes nothing (same name, same random streams).
#[test]
fn a_policy_against_itself_changes_nothing() {
    let split = "tests/fixtures/hand/policies/split.toml";
    let v: Value = serde_json::from_str(&ok(&routesim(&[
        "diff", split, split, "-d", HAND, "--json",
    ])))
    .unwrap();
    close(figures(&v["total"]), (5, 5, 0, 0.0, 0.0, 0.0), "self");
    assert_eq!(v["by_rule"].as_array().unwrap().len(), 1);
    assert_eq!(v["by_rule"][0]["rule_a"], "default");
}

/// The snapshot: q3 under guarded.toml falls back twice. Clock: q1 arrives at 0 s,
/// q2 at 60 s, q3 at 120 s. q1 ("hi there", 8 chars) goes to cheap by rule short
/// (ok, $0.0002). q2 tries premium: 503 (first failure of premium in the 600 s
/// cooldown window; breaker 1 failure in 1 call), falls back to cheap: ok $0.0004.
/// So at q3's arrival the budget has $0.0006 spent; the cache holds nothing for q3's
/// text. q3: premium (1 failure counted, 1 allowed) answers 500 in 400 ms — the
/// second failure, so premium cools down for 30 s from 120.4 s (until 150.4 s) and
/// its breaker counts 2 failures in 2 calls (opens above 5); falls back to cheap at
/// +400 ms (its breaker: 0 failures in 2 calls, q1 and q2): 429 in 100 ms (neither
/// cooldown nor breaker count 429s here), falls back to mid at +500 ms: the minute
/// from 120 s has 0 of 10 rpm and 0 of 100000 tpm, 0 of 4 calls in flight; ok in
/// 1500 ms, $0.0022 (300 × 2 + 200 × 8 µ$), quality 0.8; the minute then counts 1
/// call and 500 tokens (300 in + 200 out). Outcome: 3 calls, latency 400 + 100 +
/// 1500 = 2000 ms.
#[test]
fn explain_snapshot_of_a_request_that_falls_back_twice() {
    let text = ok(&routesim(&[
        "explain",
        "-p",
        GUARDED,
        "-d",
        HAND,
        "--request",
        "q3",
    ]));
    let want = std::fs::read_to_string(common::fixture("decision/explain-guarded-q3.txt")).unwrap();
    assert_eq!(text, want, "explain output changed:\n{text}");
}

/// The JSON of explain carries the text's figures, and its outcome is the row of a
/// normal run of the same policy.
#[test]
fn explain_json_matches_the_text_and_the_normal_run() {
    let v: Value = serde_json::from_str(&ok(&routesim(&[
        "explain",
        "-p",
        GUARDED,
        "-d",
        HAND,
        "--request",
        "q3",
        "--json",
    ])))
    .unwrap();
    assert_eq!(v["request"]["id"], "q3");
    assert_eq!(v["rule"], "default");
    assert_eq!(v["strategy"], "fallback");
    assert_eq!(v["rules"][0]["conditions"][0]["value"], 52.0);
    assert_eq!(v["rules"][0]["conditions"][0]["test"], "< 30");
    assert_eq!(v["rules"][0]["conditions"][0]["result"], false);
    let calls: Vec<(&str, &str, f64, &str)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "call")
        .map(|s| {
            (
                s["model"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
                s["latency_ms"].as_f64().unwrap(),
                s["next"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("premium", "500", 400.0, "fallback"),
            ("cheap", "429", 100.0, "fallback"),
            ("mid", "ok", 1500.0, "done"),
        ]
    );
    let first = &v["steps"][2];
    assert_eq!(first["kind"], "admit");
    assert_eq!(first["state"]["cooldown"]["fails"], 1);
    assert_eq!(first["state"]["breaker"]["state"], "closed");
    let after = &v["steps"][3]["state_after"];
    assert_eq!(after["cooldown"]["cooling_until_ms"], 150400.0);
    assert_eq!(v["steps"][0]["budgets"][0]["spent_usd"], 0.0006);
    // The outcome is the normal run's row.
    let ds = load(&common::fixture("hand"), &LoadOptions::default()).unwrap();
    let prices = PriceBook::load(&ds.pricing_files, 0)
        .unwrap()
        .resolve(&ds.models)
        .unwrap();
    let pols = load_all(&[root().join(GUARDED)]).unwrap();
    let t = routesim::sim::run(&ds, &prices, &pols, &SimOptions::default())
        .unwrap_or_else(|_| panic!("simulates"));
    let row = t.policy_rows(0)[2];
    let o = &v["outcome"];
    assert_eq!(o["status"], "ok");
    assert_eq!(o["model"], "mid");
    assert_eq!(o["calls"], row.attempts);
    assert!((o["cost_usd"].as_f64().unwrap() - row.cost_usd).abs() < 1e-12);
    assert_eq!(o["latency_ms"].as_f64().unwrap(), row.latency_ms);
    assert_eq!(row.latency_ms, 2000.0);
    assert_eq!(o["flags"], serde_json::json!(["fell_back"]));
    // And the text says the same.
    let text = ok(&routesim(&[
        "explain",
        "-p",
        GUARDED,
        "-d",
        HAND,
        "--request",
        "q3",
    ]));
    assert!(text.contains(
        "outcome: ok from mid after 3 calls; cost $0.002200; latency 2000 ms; quality 0.800; fell_back"
    ));
}

/// Watching a request changes nothing: for every fixture policy (stateless and
/// stateful) and every request, the explained row is the normal run's row, and the
/// calls listed are the row's calls.
#[test]
fn explained_rows_equal_the_normal_run_for_every_request() {
    let ds = load(&common::fixture("hand"), &LoadOptions::default()).unwrap();
    let prices = PriceBook::load(&ds.pricing_files, 0)
        .unwrap()
        .resolve(&ds.models)
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(common::fixture("hand/policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.push(root().join(GUARDED));
    files.push(root().join(A));
    let pols = load_all(&files).unwrap();
    let opts = SimOptions::default();
    let sim = Simulation::new(&ds, &prices, &pols, &opts).unwrap_or_else(|_| panic!("binds"));
    let all: Vec<usize> = (0..pols.len()).collect();
    let traces = sim.run(&all).unwrap_or_else(|_| panic!("runs"));
    let mut stateful = 0;
    for (p, t) in traces.iter().enumerate() {
        stateful += usize::from(sim.bound(p).stateful);
        for r in 0..ds.n_requests() {
            let e = sim.explain(p, r).unwrap_or_else(|_| panic!("explains"));
            // Debug text: NaN (no TTFT) equals NaN.
            assert_eq!(
                format!("{:?}", e.row),
                format!("{:?}", t.rows[r]),
                "{} request {r}",
                pols[p].name
            );
            let calls = e
                .events
                .iter()
                .filter(|ev| {
                    matches!(ev, routesim::sim::probe::ProbeEvent::CallEnd { call, .. } if call.admitted)
                })
                .count();
            assert_eq!(
                calls, e.row.attempts as usize,
                "{} request {r}",
                pols[p].name
            );
        }
    }
    assert!(stateful >= 1, "a stateful policy is among them");
}

#[test]
fn explain_and_diff_refuse_bad_input_clearly() {
    let out = routesim(&["explain", "-p", GUARDED, "-d", HAND, "--request", "q9"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "--request: no request with id \"q9\" in hand (5 requests; ids like q1, q2, q3, q4, q5)"
        ),
        "{err}"
    );
    let out = routesim(&["diff", A, "tests/fixtures/decision/nope.toml", "-d", HAND]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.toml"), "{err}");
    let out = routesim(&["diff", A, B, "-d", HAND, "--by", "meta.colour"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--by: the dataset has no field \"meta.colour\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = routesim(&["diff", A, B, "-d", HAND, "--missing", "live"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--missing live"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() })]
    /// For any two threshold policies on the hand data, the diff's groups add up to
    /// its total, and the total is the plain difference of the two runs' sums.
    #[test]
    fn diff_groups_always_add_up_to_the_plain_difference(
        x in 0u32..80, y in 0u32..600, ma in 0usize..3, mb in 0usize..3,
        ta in proptest::bool::ANY,
    ) {
        let models = ["cheap", "mid", "premium"];
        let a = format!(
            "name = \"a\"\n[[rule]]\nname = \"short\"\nwhen = {{ input_chars = {{ lt = {x} }} }}\nroute = \"{}\"\n[[rule]]\nname = \"free\"\nwhen = {{ meta.plan = \"free\" }}\nroute.fallback = [\"mid\", \"premium\"]\n[default]\nroute = \"{}\"\n",
            models[ma], models[(ma + 1) % 3]
        );
        let b = format!(
            "name = \"b\"\n[gateway]\n{}\n[[rule]]\nname = \"small\"\nwhen = {{ input_tokens = {{ le = {y} }} }}\nroute = \"{}\"\n[default]\nroute.split = {{ cheap = 1, premium = 1 }}\n",
            if ta { "timeout_ms = 1000" } else { "" },
            models[mb]
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), a).unwrap();
        std::fs::write(dir.path().join("b.toml"), b).unwrap();
        let ds = load(&common::fixture("hand"), &LoadOptions::default()).unwrap();
        let prices = PriceBook::load(&ds.pricing_files, 0).unwrap().resolve(&ds.models).unwrap();
        let pols = load_all(&[dir.path().join("a.toml"), dir.path().join("b.toml")]).unwrap();
        let sim = Simulation::new(&ds, &prices, &pols, &SimOptions::default()).unwrap_or_else(|_| panic!("binds"));
        let t = sim.run(&[0, 1]).unwrap_or_else(|_| panic!("runs"));
        let infos = sim.policy_infos();
        let side = |i: usize| routesim::decision::diff::Side { rows: &t[i].rows, rules: &infos[i].rules };
        let by = vec!["meta.plan".to_string(), "meta.task".to_string()];
        let d = routesim::decision::diff::diff(&ds, &side(0), &side(1), &by).unwrap();
        // Plain sums, written again: B − A over requests both cover.
        let (mut cost, mut lat, mut changed) = (0.0, 0.0, 0usize);
        for r in 0..ds.n_requests() {
            let (ra, rb) = (&t[0].rows[r], &t[1].rows[r]);
            cost += rb.cost_usd - ra.cost_usd;
            lat += rb.latency_ms - ra.latency_ms;
            changed += usize::from(ra.model != rb.model);
        }
        proptest::prop_assert!((d.total.cost.value() - cost).abs() < 1e-12);
        proptest::prop_assert!((d.total.latency.value() - lat).abs() < 1e-6);
        proptest::prop_assert_eq!(d.total.model_changed, changed);
        let n: usize = d.by_rule.iter().map(|g| g.sums.requests).sum();
        proptest::prop_assert_eq!(n, 5);
        let seg_cost: f64 = d.by_segment.iter().filter(|g| g.key == "meta.task").map(|g| g.sums.cost.value()).sum();
        proptest::prop_assert!((seg_cost - cost).abs() < 1e-12);
    }
}

/// A cache hit and a local rate-limit refusal, explained. Three requests a second
/// apart: r1 and r2 ask the same thing, r3 something else. `a` allows 1 call a
/// minute. r1: a answers in 100 ms (cached until 100 ms + 1 h). r2: served from the
/// cache, no call. r3: a has used its 1 rpm this minute → refused locally (429, no
/// call, free) → falls back to b, which answers.
#[test]
fn explain_shows_a_cache_hit_and_a_local_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let w = |f: &str, t: &str| std::fs::write(dir.path().join(f), t).unwrap();
    w(
        "dataset.toml",
        "name = \"tiny\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n",
    );
    w(
        "requests.csv",
        "id,ts,input,input_tokens\nr1,1000,same question,10\nr2,1001,same question,10\nr3,1002,other question,10\n",
    );
    w(
        "responses.csv",
        "request_id,model,status,output_tokens,latency_ms,quality\nr1,a,ok,10,100,1\nr2,a,ok,10,100,1\nr3,a,ok,10,100,1\nr1,b,ok,10,200,0.5\nr2,b,ok,10,200,0.5\nr3,b,ok,10,200,0.5\n",
    );
    w(
        "pricing.toml",
        "[models.a]\ninput_per_mtok = 1\noutput_per_mtok = 1\n[models.b]\ninput_per_mtok = 1\noutput_per_mtok = 1\n",
    );
    w(
        "p.toml",
        "name = \"p\"\n[models]\nfast = { model = \"a\", rpm = 1 }\n[gateway]\ncache = { kind = \"exact\", ttl_s = 3600, hit_latency_ms = 5 }\n[default]\nroute.fallback = [\"fast\", \"b\"]\n",
    );
    let d = dir.path().to_str().unwrap().to_string();
    let p = dir.path().join("p.toml").to_str().unwrap().to_string();
    let r2 = ok(&routesim(&[
        "explain",
        "-p",
        &p,
        "-d",
        &d,
        "--request",
        "r2",
    ]));
    assert!(
        r2.contains("at arrival: cache hit (answer of a stored until 3600.100 s)"),
        "{r2}"
    );
    assert!(
        r2.contains("outcome: ok from a after 0 calls; cost $0.000000; latency 5 ms; quality 1.000; cache_hit"),
        "{r2}"
    );
    let r3 = ok(&routesim(&[
        "explain",
        "-p",
        &p,
        "-d",
        &d,
        "--request",
        "r3",
    ]));
    for line in [
        "at arrival: cache miss (nothing stored for this input)",
        "+0 ms a: minute from 0.000 s: 1 of 1 rpm → refused by the gateway (429, rate limit)",
        "a → 429 without a call → fall back to the next model",
        "+0 ms b: no gateway state → call",
        "outcome: ok from b after 1 call; cost $0.000020; latency 200 ms; quality 0.500; fell_back, local_429",
    ] {
        assert!(r3.contains(line), "missing {line:?} in:\n{r3}");
    }
}
