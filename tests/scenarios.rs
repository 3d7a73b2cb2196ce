//! What-if scenarios on the shipped example data, and the virtual-time engine's
//! promise never to use information from the future.
mod common;

use routesim::dataset::{Dataset, LoadOptions, Status, load};
use routesim::policy::parse::parse;
use routesim::pricing::{ModelPrice, PriceBook};
use routesim::sim::{SimOptions, arrivals, run};
use routesim::synth::{SynthConfig, calibrate, generate};

fn example() -> (Dataset, Vec<ModelPrice>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/example");
    let ds = load(&dir, &LoadOptions::default()).unwrap();
    let prices = PriceBook::load(&ds.pricing_files, 0)
        .unwrap()
        .resolve(&ds.models)
        .unwrap();
    (ds, prices)
}

const OUTAGE: &str = "\n[[scenario]]\noutage = { model = \"anthropic/claude-3.5-sonnet\", from = 36000, to = 43200 }\n";

#[test]
fn outage_single_model_loses_exactly_the_window_and_fallback_chain_keeps_success() {
    let (ds, prices) = example();
    let chain = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/fallback-chain.toml"),
    )
    .unwrap();
    let single = "name = \"single\"\n[default]\nroute = \"anthropic/claude-3.5-sonnet\"\n";
    let policies = vec![
        parse("chain.toml", &chain, "chain").unwrap(),
        parse(
            "chain-outage.toml",
            &chain
                .replace("name = \"fallback-chain\"", "name = \"chain-outage\"")
                .replace("\n[default]", &format!("{OUTAGE}\n[default]")),
            "x",
        )
        .unwrap(),
        parse("single.toml", single, "single").unwrap(),
        parse(
            "single-outage.toml",
            &format!(
                "{}{OUTAGE}",
                single.replace("\"single\"", "\"single-outage\"")
            ),
            "x",
        )
        .unwrap(),
    ];
    let t = run(&ds, &prices, &policies, &SimOptions::default()).unwrap_or_else(|_| panic!());
    let arr = arrivals(&ds, &routesim::sim::Arrival::Recorded, 1.0, 7);
    let in_window: Vec<bool> = arr
        .iter()
        .map(|&a| (36_000_000.0..43_200_000.0).contains(&a))
        .collect();
    let n_window = in_window.iter().filter(|&&w| w).count();
    assert!(
        n_window > 50,
        "the window holds a real share of the day: {n_window}"
    );
    let ok = |p: usize| t.policy_rows(p).iter().filter(|r| r.status.is_ok()).count();

    // Single model: every request of the window fails with 503; the rest is unchanged.
    let (base, out) = (t.policy_rows(2), t.policy_rows(3));
    for (r, w) in in_window.iter().enumerate() {
        if *w {
            assert_eq!(out[r].status, Status(503));
        } else {
            assert_eq!(format!("{:?}", out[r]), format!("{:?}", base[r]));
        }
    }
    let lost_in_window = (0..ds.n_requests())
        .filter(|&r| in_window[r] && base[r].status.is_ok())
        .count();
    assert_eq!(ok(2) - ok(3), lost_in_window);
    println!(
        "single model: success {} → {} (window: {n_window} of {} requests)",
        ok(2),
        ok(3),
        ds.n_requests()
    );

    // Fallback chain: requests in the window are answered by the next models.
    let (cb, co) = (t.policy_rows(0), t.policy_rows(1));
    assert!(
        ok(1) + 2 >= ok(0),
        "chain keeps its success rate: {} vs {}",
        ok(1),
        ok(0)
    );
    for r in 0..ds.n_requests() {
        if in_window[r] && co[r].status.is_ok() {
            assert_ne!(t.model_name(co[r].model), "anthropic/claude-3.5-sonnet");
        }
        if !in_window[r] {
            assert_eq!(cb[r].model, co[r].model);
        }
    }
    println!("fallback chain: success {} → {}", ok(0), ok(1));
}

#[test]
fn latency_and_price_scenarios_scale_one_model() {
    let (ds, prices) = example();
    let base = "name = \"b\"\n[default]\nroute = \"openai/gpt-4o\"\n";
    let what_if = "name = \"w\"\n[[scenario]]\nlatency = { model = \"openai/gpt-4o\", factor = 2 }\n[[scenario]]\nprice = { model = \"openai/gpt-4o\", factor = 0.5 }\n[default]\nroute = \"openai/gpt-4o\"\n";
    let pols = vec![
        parse("b", base, "b").unwrap(),
        parse("w", what_if, "w").unwrap(),
    ];
    let t = run(&ds, &prices, &pols, &SimOptions::default()).unwrap_or_else(|_| panic!());
    for (a, b) in t.policy_rows(0).iter().zip(t.policy_rows(1)) {
        assert_eq!(b.latency_ms, a.latency_ms * 2.0);
        assert!((b.cost_usd - a.cost_usd * 0.5).abs() < 1e-15);
    }
}

#[test]
fn routing_decisions_never_use_calls_still_in_flight() {
    // Make every call that ends after time T three times slower. Decisions taken at or
    // before T (first model of requests arriving by T) must not change: the router
    // only learns a latency when that call has completed.
    let cal = calibrate(None);
    let mut cfg = SynthConfig::new(400, 8, 11);
    cfg.days = 400.0 / 2.0 / 86_400.0; // two requests per second: many calls overlap
    let d1 = generate(&cfg, &cal);
    let arr = arrivals(&d1, &routesim::sim::Arrival::Recorded, 1.0, 7);
    let policy = parse(
        "ll.toml",
        "name = \"ll\"\n[default]\nroute.lowest_latency = { candidates = [\"openai/gpt-4o\", \"anthropic/claude-3.5-sonnet\", \"google/gemini-1.5-pro\"], window = 5, buffer = 0.05 }\n",
        "ll",
    )
    .unwrap();
    for k in [50, 200, 350] {
        let t_cut = arr[k];
        let mut d2 = d1.clone();
        let nm = d2.n_models();
        for (r, &at) in arr.iter().enumerate() {
            for m in 0..nm {
                let c = d2.cell_mut(r, m as u16);
                if at + c.latency_ms as f64 > t_cut {
                    c.latency_ms *= 3.0;
                }
            }
        }
        let a = run(
            &d1,
            &cal.prices,
            std::slice::from_ref(&policy),
            &SimOptions::default(),
        )
        .unwrap_or_else(|_| panic!());
        let b = run(
            &d2,
            &cal.prices,
            std::slice::from_ref(&policy),
            &SimOptions::default(),
        )
        .unwrap_or_else(|_| panic!());
        let first = |t: &routesim::sim::trace::Trace, r: usize| {
            t.attempts
                .iter()
                .find(|x| x.row as usize == r)
                .map(|x| x.model)
        };
        let mut later_differs = false;
        for (r, &at) in arr.iter().enumerate() {
            if at <= t_cut {
                assert_eq!(
                    first(&a, r),
                    first(&b, r),
                    "request {r} decided at {at} ≤ T = {t_cut}"
                );
            } else if first(&a, r) != first(&b, r) {
                later_differs = true;
            }
        }
        // The change is visible to later decisions, so the test can tell.
        assert!(
            later_differs || k == 350,
            "slower completions change decisions after T"
        );
    }
}

/// `--scenario` on the command line applies the what-if to every policy and baseline:
/// the single-model baseline loses exactly its successes inside the window (counted
/// here from the dataset's cells), the fallback chain keeps every request.
#[test]
fn command_line_outage_applies_to_every_policy_and_baseline() {
    let (ds, _) = example();
    let sonnet = ds.model_id("anthropic/claude-3.5-sonnet").unwrap();
    let arr = arrivals(&ds, &routesim::sim::Arrival::Recorded, 1.0, 7);
    let expected_ok = (0..ds.n_requests())
        .filter(|&r| {
            ds.cell(r, sonnet).status.is_ok() && !(36_000_000.0..43_200_000.0).contains(&arr[r])
        })
        .count();
    let out = tempfile::tempdir().unwrap();
    let scenario = "outage = { model = \"anthropic/claude-3.5-sonnet\", from = 36000, to = 43200 }";
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_routesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--example",
            "--bootstrap",
            "0",
            "--scenario",
            scenario,
            "-o",
        ])
        .arg(out.path().join("r"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("r/summary.json")).unwrap()).unwrap();
    let rate = |name: &str| {
        summary
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"] == name)
            .unwrap_or_else(|| panic!("{name}"))["success_rate"]
            .as_f64()
            .unwrap()
    };
    assert!(
        expected_ok < 900,
        "the window holds enough requests to matter"
    );
    assert_eq!(
        rate("always:anthropic/claude-3.5-sonnet"),
        expected_ok as f64 / ds.n_requests() as f64
    );
    assert_eq!(rate("fallback-chain"), 1.0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("r/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["options"]["scenarios"][0], scenario);

    // A model the dataset lacks: located inside the option's text, exit 1, no report.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_routesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--example",
            "--scenario",
            "traffic = { factor = 2 }",
            "--scenario",
            "latency = { model = \"gpt-5\", factor = 2 }",
            "-o",
        ])
        .arg(out.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--scenario 2:1:21: unknown model \"gpt-5\": expected a dataset model"),
        "{err}"
    );
    assert!(!out.path().join("bad").exists());
}

/// An outage given as timestamps is placed on the dataset's own clock; with another
/// arrival model it cannot be, and both a policy file and `--scenario` say so where
/// the outage is written — and an equivalent outage in offsets runs.
#[test]
fn timestamped_outage_needs_the_recorded_clock() {
    let (ds, prices) = example();
    let text = "name = \"p\"\n[[scenario]]\noutage = { model = \"openai/gpt-4o\", from = \"2024-06-03T10:00:00Z\", to = \"2024-06-03T12:00:00Z\" }\n[default]\nroute = \"openai/gpt-4o\"\n";
    let policy = parse("p.toml", text, "p").unwrap_or_else(|e| panic!("{e}"));
    let recorded = run(
        &ds,
        &prices,
        std::slice::from_ref(&policy),
        &SimOptions::default(),
    );
    assert!(recorded.is_ok(), "the recorded clock takes timestamps");
    let uniform = SimOptions {
        arrival: routesim::sim::Arrival::Uniform(1.0),
        ..SimOptions::default()
    };
    match run(&ds, &prices, &[policy], &uniform) {
        Err(routesim::sim::SimError::Input(e)) => {
            let msg = e.to_string();
            assert!(
                msg.contains(
                    "p.toml:3:20: an outage given as timestamps needs the recorded arrival clock"
                ),
                "{msg}"
            );
        }
        _ => panic!("expected an input error"),
    }

    let out = tempfile::tempdir().unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_routesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--example",
            "--arrival",
            "uniform:2",
            "--scenario",
            "outage = { model = \"openai/gpt-4o\", from = \"2024-06-03T10:00:00Z\", to = \"2024-06-03T12:00:00Z\" }",
            "-o",
        ])
        .arg(out.path().join("r"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--scenario 1:1:20: an outage given as timestamps needs request timestamps and --arrival recorded"),
        "{err}"
    );
    assert!(!out.path().join("r").exists());
}
