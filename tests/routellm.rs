//! RouteLLM metrics end to end: a hand-worked two-model fixture (every figure worked
//! out in the comments), and RouteLLM's own GSM8K responses (`../shared/data`, skipped
//! when absent): random routing's APGR is ½ up to sampling noise and the optimal curve
//! lies above every point and curve.
mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn run(dataset: &Path, args: &[&str], out: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .arg("run")
        .arg("-d")
        .arg(dataset)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn routers(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("routellm.json")).unwrap()).unwrap()
}

fn router<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["routers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["router"] == name)
        .unwrap_or_else(|| panic!("no router {name} in {v:#}"))
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}

/// The fixture (tests/fixtures/routellm): four requests, 0/1 quality.
///
/// ```text
///              r1   r2   r3   r4
///   small       1    0    0    0     weak   w = 0.25
///   big         1    1    1    0     strong s = 0.75   (gap 0.5)
///   score      .9   .7   .2   .5
/// ```
///
/// The router sends a request to `big` when its score is ≥ T. Swept over T = 1, .8,
/// .6, .3, .1 its points are (strong share, quality): (0, .25), (.25, .25), (.5, .5),
/// (.75, .5), (1, .75) — PGR 0, 0, .5, .5, 1. APGR by trapezoids of width ¼:
/// (0 + .0625 + .125 + .1875) = .375. CPT(50 %): PGR reaches .5 first at share .5;
/// CPT(80 %): between (.75, .5) and (1, 1) at .75 + (.3 / .5) × .25 = .9.
///
/// Optimal: big gains on r2 and r3, so quality climbs .25 per request sent there:
/// (0, .25) → (.5, .75), then flat; PGR = min(2x, 1): APGR .25 + .5 = .75, CPT(50 %)
/// .25, CPT(80 %) .4. The hindsight oracle baseline (ties to the cheaper `small`)
/// sends r2 and r3 to big: the point (.5, .75), on the optimal curve; anchored at
/// (0, .25) and (1, .75) it has the same APGR and CPTs. Random routing's line:
/// APGR .5, CPT(50 %) .5, CPT(80 %) .8.
#[test]
fn hand_worked_two_model_fixture() {
    let ds = common::fixture("routellm");
    let pol = common::fixture("routellm/router.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let stdout = run(
        &ds,
        &[
            "-p",
            pol.to_str().unwrap(),
            "--sweep",
            "router:rule.strong.when.meta.score.ge=1,0.8,0.6,0.3,0.1",
            "-q",
        ],
        &out,
    );
    let v = routers(&out);
    assert_eq!(v["strong"], "big");
    assert_eq!(v["weak"], "small");
    close(&v["strong_quality"], 0.75);
    close(&v["weak_quality"], 0.25);
    assert_eq!(v["requests"], 4);

    let r = router(&v, "router");
    assert_eq!(r["kind"], "sweep");
    let pts: Vec<(f64, f64)> = r["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["strong_share"].as_f64().unwrap(),
                p["quality"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pts,
        [
            (0.0, 0.25),
            (0.25, 0.25),
            (0.5, 0.5),
            (0.75, 0.5),
            (1.0, 0.75)
        ]
    );
    close(&r["apgr"], 0.375);
    close(&r["cpt50"], 0.5);
    close(&r["cpt80"], 0.9);

    let o = router(&v, "optimal");
    close(&o["apgr"], 0.75);
    close(&o["cpt50"], 0.25);
    close(&o["cpt80"], 0.4);
    let b = router(&v, "oracle");
    assert_eq!(b["kind"], "baseline");
    close(&b["points"][0]["strong_share"], 0.5);
    close(&b["points"][0]["quality"], 0.75);
    close(&b["apgr"], 0.75);
    let l = router(&v, "random (expected)");
    close(&l["apgr"], 0.5);
    close(&l["cpt50"], 0.5);
    close(&l["cpt80"], 0.8);
    // Optimal quality at each point: at share .25 the optimal has sent r2 (q .5).
    close(&r["points"][1]["optimal_quality"], 0.5);

    // The same figures in routellm.csv, the report and the terminal.
    let csv = std::fs::read_to_string(out.join("routellm.csv")).unwrap();
    assert!(
        csv.contains("router,sweep,5,0.0000,1.0000,0.2500,0.7500,0.5000,0.9000,0.3750\n"),
        "{csv}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Two-model routing (RouteLLM metrics)"));
    assert!(
        md.contains(
            "| router | sweep | 5 | 0.0% – 100.0% | 0.250 – 0.750 | 50.0% | 90.0% | 0.375 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("![Quality vs share of strong-model calls (RouteLLM)](charts/routellm.png)")
    );
    assert!(out.join("charts/routellm.png").is_file());
    assert!(
        stdout.contains("RouteLLM metrics: Strong big (quality 0.750), weak small (quality 0.250)")
    );

    // Only T = .6 and .3: anchored at both ends, PGR 0, .5, .5, 1 over widths .5,
    // .25, .25: APGR .125 + .125 + .1875 = .4375; CPTs as before (.5 and .9).
    let out2 = dir.path().join("out2");
    run(
        &ds,
        &[
            "-p",
            pol.to_str().unwrap(),
            "--sweep",
            "router:rule.strong.when.meta.score.ge=0.6,0.3",
            "-q",
        ],
        &out2,
    );
    let v2 = routers(&out2);
    let r = router(&v2, "router");
    close(&r["apgr"], 0.4375);
    close(&r["cpt50"], 0.5);
    close(&r["cpt80"], 0.9);

    // The unswept router is one point, (.5, .5): anchored, it is random's line (½).
    let out3 = dir.path().join("out3");
    run(&ds, &["-p", pol.to_str().unwrap(), "-q"], &out3);
    let v3 = routers(&out3);
    let r = router(&v3, "router");
    assert_eq!(r["kind"], "policy");
    close(&r["apgr"], 0.5);

    // --strong / --weak name the pair (here the other way round: the figures follow
    // the same definitions, with a negative gap).
    let out4 = dir.path().join("out4");
    run(
        &ds,
        &[
            "-p",
            pol.to_str().unwrap(),
            "--strong",
            "small",
            "--weak",
            "big",
            "-q",
        ],
        &out4,
    );
    let v = routers(&out4);
    assert_eq!(v["strong"], "small");
    assert_eq!(v["chosen"], "--strong / --weak");
}

#[test]
fn strong_and_weak_must_be_two_dataset_models() {
    let ds = common::fixture("routellm");
    let pol = common::fixture("routellm/router.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "-d"])
        .arg(&ds)
        .arg("-p")
        .arg(&pol)
        .args(["--strong", "huge", "--weak", "small", "--no-report", "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--strong: \"huge\" is not a model of the dataset; models: "),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "-d"])
        .arg(&ds)
        .arg("-p")
        .arg(&pol)
        .args(["--strong", "big", "--no-report", "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "--strong needs --weak");
}

/// RouteLLM's GSM8K responses (1,319 questions, Mixtral-8x7B weak, GPT-4 strong, 0/1
/// correctness). Random routing, as a policy sending the requests whose id hashes
/// below `lt` to GPT-4 and swept over lt = 10…100, has an APGR within ±0.05 of ½ (its
/// points are random routing's, so only sampling noise separates it from the line).
/// The optimal curve, recomputed here from the CSV with RouteLLM's
/// `get_optimal_accuracy` — weak-correct + min(x·n, weak-wrong & strong-right) — lies
/// above every point and every curve, and its APGR is the closed form of that curve's
/// area: with b the share of weak-wrong & strong-right questions, ∫ PGR = (b − b²/2)
/// / (s − w).
#[test]
fn gsm8k_random_routing_apgr_is_one_half_and_the_optimal_curve_is_above_all() {
    let Some(csv) = common::shared_data("routellm/gsm8k_responses.csv") else {
        return;
    };
    // Independent counts from the CSV.
    let mut r = csv::Reader::from_path(&csv).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let (wi, si) = (
        h.iter()
            .position(|c| c == "mistralai/Mixtral-8x7B-Instruct-v0.1")
            .unwrap(),
        h.iter().position(|c| c == "gpt-4-1106-preview").unwrap(),
    );
    let (mut n, mut weak_ok, mut strong_ok, mut bonus) = (0f64, 0f64, 0f64, 0f64);
    for rec in r.records() {
        let rec = rec.unwrap();
        let (w, s) = (&rec[wi] == "True", &rec[si] == "True");
        n += 1.0;
        weak_ok += w as u8 as f64;
        strong_ok += s as u8 as f64;
        bonus += (!w && s) as u8 as f64;
    }
    assert_eq!(n, 1319.0);
    let (w, s, b) = (weak_ok / n, strong_ok / n, bonus / n);
    let optimal = |x: f64| (weak_ok + (x * n).min(bonus)) / n;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pol = common::fixture("routellm/gsm8k-random.toml");
    run(
        &csv,
        &[
            "-p",
            pol.to_str().unwrap(),
            "--sweep",
            "random-split:rule.strong.when.bucket.lt=10:100:10",
            "--unpriced",
            "-q",
        ],
        &out,
    );
    let v = routers(&out);
    assert_eq!(v["strong"], "gpt-4-1106-preview");
    close(&v["weak_quality"], w);
    close(&v["strong_quality"], s);
    let random = router(&v, "random-split");
    assert_eq!(random["points"].as_array().unwrap().len(), 10);
    let apgr = random["apgr"].as_f64().unwrap();
    assert!((apgr - 0.5).abs() <= 0.05, "random routing's APGR {apgr}");
    let opt = router(&v, "optimal");
    close(&opt["apgr"], (b - b * b / 2.0) / (s - w));
    for r in v["routers"].as_array().unwrap() {
        for p in r["points"].as_array().unwrap() {
            let (x, q) = (
                p["strong_share"].as_f64().unwrap(),
                p["quality"].as_f64().unwrap(),
            );
            assert!(
                q <= optimal(x) + 1e-12,
                "{}: {q} above {}",
                p["policy"],
                optimal(x)
            );
        }
        for c in r["curve"].as_array().unwrap() {
            let (x, q) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            assert!(q <= optimal(x) + 1e-12, "{}: curve at {x}", r["router"]);
        }
        if r["router"] != "optimal" {
            assert!(r["apgr"].as_f64().unwrap() <= opt["apgr"].as_f64().unwrap());
        }
    }
}
