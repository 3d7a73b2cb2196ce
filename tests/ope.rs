//! Off-policy evaluation (issue 13): validated by simulation — logs drawn from a known
//! randomized router over a full-information dataset, 200 seeded repetitions, the 95%
//! intervals of IPS, SNIPS and DR cover the true value at least 90% of the time and
//! DR's mean error is below IPS's — and end to end: a LiteLLM log with propensities
//! and fallbacks, run against a policy, gives the figures worked out here again from
//! the generated lines.

use routesim::analysis::ope::{Estimates, LoggedActions, evaluate};
use routesim::util::rng::Rng;
use std::process::Command;

/// One full-information draw: every request's outcome on every model.
struct World {
    segment: Vec<u32>,
    /// `reward[m][i]`.
    reward: [Vec<f64>; 3],
}

/// The logging router's probabilities per segment (rows) and model (columns): the
/// target's pick in segment 3 is logged only 10% of the time (large weights).
const LOGGING: [[f64; 3]; 4] = [
    [0.6, 0.3, 0.1],
    [0.2, 0.5, 0.3],
    [0.34, 0.33, 0.33],
    [0.45, 0.45, 0.1],
];
/// Success probability per segment and model.
const MU: [[f64; 3]; 4] = [
    [0.55, 0.75, 0.9],
    [0.35, 0.6, 0.8],
    [0.7, 0.72, 0.74],
    [0.2, 0.5, 0.95],
];

/// The target policy: the best model of each segment but the first (where it
/// picks the middle one).
fn target(s: u32) -> u16 {
    match s {
        0 => 1,
        _ => 2,
    }
}

fn world(rng: &mut Rng, n: usize) -> World {
    let segment: Vec<u32> = (0..n).map(|_| rng.below(4) as u32).collect();
    let reward = std::array::from_fn(|m| {
        segment
            .iter()
            .map(|&s| {
                // A success (Bernoulli) plus a small continuous part (a graded answer).
                let ok = rng.chance(MU[s as usize][m]) as u8 as f64;
                0.8 * ok + 0.2 * rng.f64()
            })
            .collect()
    });
    World { segment, reward }
}

fn pick(rng: &mut Rng, s: u32) -> (u16, f64) {
    let p = LOGGING[s as usize];
    let u = rng.f64();
    let mut acc = 0.0;
    for (m, &pm) in p.iter().enumerate() {
        acc += pm;
        if u < acc || m == 2 {
            return (m as u16, pm);
        }
    }
    unreachable!()
}

#[test]
fn intervals_cover_the_true_value_over_200_seeded_logs_and_dr_beats_ips() {
    const REPS: usize = 200;
    const N: usize = 2000;
    // The population value: Σ_s P(s) · E[reward | s, target(s)] (segments uniform).
    let population: f64 = (0..4)
        .map(|s| 0.25 * (0.8 * MU[s][target(s as u32) as usize] + 0.1))
        .sum();
    let mut cover = [[0usize; 3]; 2];
    let mut abs_err = [0.0f64; 3];
    for rep in 0..REPS {
        let mut rng = Rng::new(1000 + rep as u64);
        let w = world(&mut rng, N);
        let (mut a, mut p, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..N {
            let (ai, pi) = pick(&mut rng, w.segment[i]);
            a.push(ai);
            p.push(pi);
            r.push(w.reward[ai as usize][i]);
        }
        let t: Vec<u16> = w.segment.iter().map(|&s| target(s)).collect();
        // The value on this dataset: every request's outcome under the target's pick,
        // read from the full-information draw.
        let truth = (0..N).map(|i| w.reward[t[i] as usize][i]).sum::<f64>() / N as f64;
        let log = LoggedActions {
            action: &a,
            propensity: &p,
            segment: &w.segment,
        };
        let e: Estimates = evaluate(&log, &t, &r)
            .result
            .unwrap_or_else(|why| panic!("refused: {why}"));
        for (k, iv) in [e.ips, e.snips, e.dr].iter().enumerate() {
            cover[0][k] += iv.covers(truth) as usize;
            cover[1][k] += iv.covers(population) as usize;
            abs_err[k] += (iv.value - truth).abs() / REPS as f64;
        }
    }
    let share = |c: usize| c as f64 / REPS as f64;
    eprintln!(
        "coverage of the dataset value: IPS {:.3} SNIPS {:.3} DR {:.3}; of the population value: IPS {:.3} SNIPS {:.3} DR {:.3}; mean absolute error: IPS {:.4} SNIPS {:.4} DR {:.4}",
        share(cover[0][0]),
        share(cover[0][1]),
        share(cover[0][2]),
        share(cover[1][0]),
        share(cover[1][1]),
        share(cover[1][2]),
        abs_err[0],
        abs_err[1],
        abs_err[2]
    );
    for (k, name) in ["IPS", "SNIPS", "DR"].iter().enumerate() {
        assert!(
            share(cover[0][k]) >= 0.90,
            "{name} covers the dataset value"
        );
        assert!(
            share(cover[1][k]) >= 0.90,
            "{name} covers the population value"
        );
    }
    assert!(abs_err[2] < abs_err[0], "DR's mean error is below IPS's");
}

/// A log where production knew nothing better than a fixed split: every estimate is
/// refused for a policy that picks a model production never picked, and the
/// intervals are honest about a target that equals the logging policy's pick.
#[test]
fn a_target_outside_the_log_is_refused_with_the_reason() {
    let mut rng = Rng::new(3);
    let n = 500;
    let s = vec![0u32; n];
    let a: Vec<u16> = (0..n).map(|_| rng.below(2) as u16).collect();
    let p = vec![0.5; n];
    let r: Vec<f64> = a.iter().map(|&m| m as f64).collect();
    let log = LoggedActions {
        action: &a,
        propensity: &p,
        segment: &s,
    };
    let e = evaluate(&log, &vec![2u16; n], &r);
    assert_eq!(e.overlap.unsupported, 1.0);
    let why = e.result.unwrap_err();
    assert!(why.contains("never picked"), "{why}");
    // Always model 1: value 1, every estimator close (SNIPS and DR exactly 1).
    let e = evaluate(&log, &vec![1u16; n], &r).result.unwrap();
    assert_eq!(e.snips.value, 1.0);
    assert!((e.dr.value - 1.0).abs() < 1e-12);
    assert!(e.ips.covers(1.0), "{:?}", e.ips);
}

// ---------------------------------------------------------------------------------
// End to end: a LiteLLM log of a randomized router.

/// One generated request: what the log says and what the full-information world
/// would have given the other pick.
struct Req {
    tier: &'static str,
    picked: usize,
    propensity: f64,
    /// Final status ok, summed cost, span latency (ms) as logged.
    ok: bool,
    cost: f64,
    latency: f64,
    fell_back: bool,
    /// Outcome under each first pick (full information): (ok, cost).
    under: [(bool, f64); 2],
}

const GROUPS: [&str; 2] = ["small", "big"];
const MODELS: [&str; 2] = ["openai/gpt-4o-mini", "openai/gpt-4o"];

/// Write `n` requests of a randomized router (P(big) = 0.3 on the free tier, 0.7 on
/// pro) as LiteLLM StandardLoggingPayload lines; a failed pick falls back to the other
/// group on a coin flip (a second line sharing the trace id).
fn write_log(path: &std::path::Path, n: usize) -> Vec<Req> {
    let mut rng = Rng::new(42);
    let mut lines = Vec::new();
    let mut reqs = Vec::new();
    for i in 0..n {
        let tier = if rng.chance(0.5) { "free" } else { "pro" };
        let p_big = if tier == "free" { 0.3 } else { 0.7 };
        let picked = rng.chance(p_big) as usize;
        let propensity = if picked == 1 { p_big } else { 1.0 - p_big };
        // Full information: each group's answer (ok, cost, latency) and the coin.
        let success = [
            if tier == "free" { 0.85 } else { 0.6 },
            if tier == "free" { 0.9 } else { 0.95 },
        ];
        let call: Vec<(bool, f64, f64)> = (0..2)
            .map(|m| {
                let ok = rng.chance(success[m]);
                let tokens = 100 + rng.below(400);
                let cost = if ok {
                    tokens as f64 * if m == 1 { 1e-5 } else { 1e-6 }
                } else {
                    0.0
                };
                let lat = (200 + rng.below(800)) as f64 * if m == 1 { 2.0 } else { 1.0 };
                (ok, cost, lat)
            })
            .collect();
        let coin = rng.chance(0.5);
        let under = [0, 1].map(|first| {
            let (ok, cost, _) = call[first];
            if !ok && coin {
                let (ok2, cost2, _) = call[1 - first];
                (ok2, cost + cost2)
            } else {
                (ok, cost)
            }
        });
        let start = 1_000_000.0 + i as f64 * 10.0;
        let mut line = |m: usize, k: usize, t0: f64| -> f64 {
            let (ok, cost, lat) = call[m];
            let t1 = t0 + lat / 1000.0;
            lines.push(serde_json::json!({
                "id": format!("c{i}-{k}"),
                "trace_id": format!("t{i}"),
                "call_type": "acompletion",
                "status": if ok { "success" } else { "failure" },
                "startTime": t0,
                "endTime": t1,
                "model": MODELS[m],
                "model_group": GROUPS[m],
                "model_id": format!("d-{}", GROUPS[m]),
                "response_cost": cost,
                "prompt_tokens": if ok { 50 } else { 0 },
                "completion_tokens": if ok { 20 } else { 0 },
                "messages": [{"role": "user", "content": format!("question {i}")}],
                "metadata": {"spend_logs_metadata": {"tier": tier, "propensity": propensity}},
                "error_information": if ok {
                    serde_json::json!({"error_code": "", "error_class": ""})
                } else {
                    serde_json::json!({"error_code": "500", "error_class": "InternalServerError"})
                },
            }).to_string());
            t1
        };
        let end1 = line(picked, 0, start);
        let (ok1, cost1, _) = call[picked];
        let fell_back = !ok1 && coin;
        let (ok, cost, latency) = if fell_back {
            let end2 = line(1 - picked, 1, end1 + 0.05);
            let (ok2, cost2, _) = call[1 - picked];
            (ok2, cost1 + cost2, (end2 - start) * 1000.0)
        } else {
            (ok1, cost1, (end1 - start) * 1000.0)
        };
        reqs.push(Req {
            tier,
            picked,
            propensity,
            ok,
            cost,
            latency,
            fell_back,
            under,
        });
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    reqs
}

/// The ope.csv row of a policy, metric and estimator: (estimate, lo, hi, se).
fn ope_row(csv: &str, policy: &str, metric: &str, est: &str) -> Vec<String> {
    let mut rdr = ::csv::Reader::from_reader(csv.as_bytes());
    let h: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if rec.get(0) == Some(policy) && rec.get(1) == Some(metric) && rec.get(2) == Some(est) {
            return h
                .iter()
                .zip(rec.iter())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
        }
    }
    panic!("no row {policy} {metric} {est} in\n{csv}");
}

fn field(row: &[String], k: &str) -> String {
    row.iter()
        .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {k} in {row:?}"))
}

fn num(row: &[String], k: &str) -> f64 {
    field(row, k)
        .parse()
        .unwrap_or_else(|_| panic!("{k} not a number in {row:?}"))
}

type Reward = Box<dyn Fn(&Req) -> f64>;

#[test]
fn a_randomized_litellm_log_gives_off_policy_estimates_worked_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("proxy.jsonl");
    let n = 1200;
    let reqs = write_log(&log, n);
    let fell_back = reqs.iter().filter(|r| r.fell_back).count();
    assert!(fell_back >= 10, "the log has fallbacks ({fell_back})");
    let pol = dir.path().join("tiered.toml");
    std::fs::write(
        &pol,
        "name = \"tiered\"\n\n[[rule]]\nname = \"pro\"\nwhen = { meta.tier = \"pro\" }\nroute = \"big\"\n\n[default]\nroute = \"small\"\n",
    )
    .unwrap();
    let out = dir.path().join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args([
            "run",
            "-d",
            log.to_str().unwrap(),
            "-p",
            pol.to_str().unwrap(),
        ])
        .args(["-o", out.to_str().unwrap(), "--by", "meta.tier"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout
            .contains("off-policy estimates from the logged propensities, 1 policy (doubly robust"),
        "{stdout}"
    );
    assert!(stdout.contains("  tiered success rate: "), "{stdout}");
    assert!(
        stdout.contains("  tiered cost per request, USD: "),
        "{stdout}"
    );
    // The log has no quality labels: refused, with the reason.
    assert!(
        stdout.contains(
            "  tiered quality: refused: 1089 of 1200 logged requests have no value of this outcome"
        ),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("ope.csv")).unwrap();
    let target = |r: &Req| (r.tier == "pro") as usize;
    // IPS and SNIPS worked out again from the generated lines: the logged pick is the
    // first call (a fallback's answer is not what production picked).
    let metrics: [(&str, Reward, f64); 3] = [
        ("success_rate", Box::new(|r: &Req| r.ok as u8 as f64), 1e-6),
        ("cost_per_request_usd", Box::new(|r: &Req| r.cost), 1e-8),
        ("latency_mean_ms", Box::new(|r: &Req| r.latency), 1e-3),
    ];
    for (metric, reward, tol) in &metrics {
        let w: Vec<f64> = reqs
            .iter()
            .map(|r| (target(r) == r.picked) as u8 as f64 / r.propensity)
            .collect();
        let ips = reqs.iter().zip(&w).map(|(r, w)| w * reward(r)).sum::<f64>() / n as f64;
        let snips =
            reqs.iter().zip(&w).map(|(r, w)| w * reward(r)).sum::<f64>() / w.iter().sum::<f64>();
        let row = ope_row(&csv, "tiered", metric, "ips");
        assert!(
            (num(&row, "estimate") - ips).abs() <= *tol,
            "{metric} IPS {row:?} vs {ips}"
        );
        let row = ope_row(&csv, "tiered", metric, "snips");
        assert!(
            (num(&row, "estimate") - snips).abs() <= *tol,
            "{metric} SNIPS {row:?} vs {snips}"
        );
        let matched = w.iter().filter(|&&x| x > 0.0).count();
        assert_eq!(num(&row, "matched") as usize, matched);
        let ess = w.iter().sum::<f64>().powi(2) / w.iter().map(|x| x * x).sum::<f64>();
        assert!((num(&row, "ess") - ess).abs() < 0.006, "{row:?} vs {ess}");
        assert_eq!(field(&row, "refused"), "");
    }
    // DR against the full-information truth of this log's requests (the outcome had
    // production picked what the policy picks, its fallbacks unchanged): within three
    // standard errors.
    let truth_ok = reqs
        .iter()
        .map(|r| r.under[target(r)].0 as u8 as f64)
        .sum::<f64>()
        / n as f64;
    let truth_cost = reqs.iter().map(|r| r.under[target(r)].1).sum::<f64>() / n as f64;
    for (metric, truth) in [
        ("success_rate", truth_ok),
        ("cost_per_request_usd", truth_cost),
    ] {
        let row = ope_row(&csv, "tiered", metric, "dr");
        let (v, se) = (num(&row, "estimate"), num(&row, "se"));
        assert!(
            (v - truth).abs() < 3.0 * se,
            "{metric}: DR {v} ± {se} vs truth {truth}"
        );
    }
    // The single-model baselines are estimated too (in ope.csv).
    ope_row(&csv, "always:big", "success_rate", "dr");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Counterfactuals: off-policy estimates"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<table id=\"ope\">"));
    // Re-rendering the report folder (propensities from requests.parquet) gives the
    // same estimates.
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["report", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(out.join("ope.csv")).unwrap(), csv);
}
