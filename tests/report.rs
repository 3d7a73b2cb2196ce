//! Report statistics against hand-worked and analytic values; report files.
mod common;

use routesim::analysis::stats::{
    aiq, bootstrap_mean_ci, hull_at, mcnemar, nondecreasing_hull, pareto_frontier,
};
use std::path::Path;
use std::process::Command;

#[test]
fn convex_hull_and_aiq_hand_worked() {
    // Points (cost, quality): A(1, .5) B(2, .6) C(3, .9) D(4, .85) E(5, 1.0)
    // Pareto (non-decreasing): A B C E (D is dominated by C).
    // Upper hull of A B C E: B lies below A→C (at x=2 the line gives .7 > .6) → dropped.
    // Hull: A(1,.5) C(3,.9) E(5,1.0).
    // AIQ over [1, 5]: area = (3−1)(.5+.9)/2 + (5−3)(.9+1.0)/2 = 1.4 + 1.9 = 3.3; / 4 = 0.825.
    let pts = [(1.0, 0.5), (2.0, 0.6), (3.0, 0.9), (4.0, 0.85), (5.0, 1.0)];
    assert_eq!(pareto_frontier(&pts), vec![0, 1, 2, 4]);
    assert_eq!(
        nondecreasing_hull(&pts),
        vec![(1.0, 0.5), (3.0, 0.9), (5.0, 1.0)]
    );
    assert!((aiq(&pts, 1.0, 5.0) - 0.825).abs() < 1e-12);
    // Over [1, 6] the hull stays flat at 1.0 after E: area 3.3 + 1.0 = 4.3; / 5 = 0.86.
    assert!((aiq(&pts, 1.0, 6.0) - 0.86).abs() < 1e-12);
    assert!((hull_at(&nondecreasing_hull(&pts), 2.0) - 0.7).abs() < 1e-12);
}

#[test]
fn bootstrap_ci_of_a_bernoulli_sample_matches_the_analytic_interval() {
    // 1000 draws with 300 ones: p = .3, Wald 95% half-width 1.959964·√(.3·.7/1000) = .028403.
    let values: Vec<f64> = (0..1000)
        .map(|i| if i % 10 < 3 { 1.0 } else { 0.0 })
        .collect();
    let half = 1.959_964 * (0.3f64 * 0.7 / 1000.0).sqrt();
    let (lo, hi) = bootstrap_mean_ci(&values, 4000, 0.95, 42);
    assert!((lo - (0.3 - half)).abs() < 0.004, "{lo}");
    assert!((hi - (0.3 + half)).abs() < 0.004, "{hi}");
}

#[test]
fn mcnemar_hand_worked() {
    // b = 15 (A right, B wrong), c = 5: b + c = 20 < 25 → exact binomial:
    // p = 2·P(X ≤ 5 | n = 20, ½) = 2·(1+20+190+1140+4845+15504)/2^20 = 2·21700/1048576 = .041389.
    let (_, p) = mcnemar(15, 5);
    assert!((p - 43_400.0 / 1_048_576.0).abs() < 1e-9, "{p}");
    // b = 40, c = 20: χ² = (|40−20|−1)²/60 = 361/60 = 6.0167; p = erfc(√(χ²/2)) = .014171.
    let (chi2, p) = mcnemar(40, 20);
    assert!((chi2 - 361.0 / 60.0).abs() < 1e-12);
    assert!((p - 0.014_171).abs() < 2e-5, "{p}");
    assert_eq!(mcnemar(0, 0).1, 1.0);
}

fn run_example(out: &Path, extra: &[&str]) {
    let st = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(["run", "--example", "--bootstrap", "300", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

#[test]
fn example_report_is_complete_deterministic_and_re_renderable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_example(&a, &[]);
    run_example(&b, &[]);
    for f in ["summary.csv", "segments.csv", "report.md", "summary.json"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    for f in [
        "index.html",
        "manifest.json",
        "requests.parquet",
        "trace/policy-000.parquet",
    ] {
        assert!(a.join(f).is_file(), "{f}");
    }
    // Charts: valid PNG and SVG at 1600×1000.
    for c in [
        "cost_quality",
        "latency_cdf",
        "model_mix",
        "cost_over_time",
        "quality_by_segment",
    ] {
        let png = std::fs::read(a.join("charts").join(format!("{c}.png"))).unwrap();
        assert_eq!(png_size(&png), (1600, 1000), "{c}.png");
        let svg = std::fs::read_to_string(a.join("charts").join(format!("{c}.svg"))).unwrap();
        assert!(
            svg.contains("<svg")
                && svg.contains("width=\"1600\"")
                && svg.contains("height=\"1000\"")
                && svg.trim_end().ends_with("</svg>"),
            "{c}.svg"
        );
    }
    // The HTML is self-contained: no network references, charts inlined, one inline
    // script (the tooltips) and nothing loaded by it.
    let html = std::fs::read_to_string(a.join("index.html")).unwrap();
    let no_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !no_ns.contains("http://")
            && !no_ns.contains("https://")
            && !no_ns.contains("src=")
            && !no_ns.contains("fetch(")
            && !no_ns.contains("XMLHttpRequest")
            && !no_ns.contains("import("),
        "self-contained"
    );
    assert_eq!(html.matches("<script").count(), 1, "one inline script");
    assert!(
        html.contains("<script>(function(){"),
        "inline, no attributes"
    );
    // Every chart has hover targets for its policies.
    for c in [
        "cost_quality",
        "latency_cdf",
        "model_mix",
        "cost_over_time",
        "quality_by_segment",
    ] {
        let at = html.find(&format!("id=\"chart-{c}\"")).expect(c);
        let chart = &html[at..at + html[at..].find("</svg>").unwrap()];
        assert!(
            chart.contains("<g class=\"hot\">") && chart.contains("data-policy=\"hybrid\""),
            "{c}"
        );
    }
    assert_eq!(html.matches("<svg").count(), 5);
    // Re-rendering from the trace folder reproduces the tables byte for byte.
    let before = std::fs::read(a.join("summary.csv")).unwrap();
    let st = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .arg("report")
        .arg(&a)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(std::fs::read(a.join("summary.csv")).unwrap(), before);
    assert_eq!(
        std::fs::read(a.join("report.md")).unwrap(),
        std::fs::read(b.join("report.md")).unwrap()
    );
    // A different seed changes the random baseline.
    let c = dir.path().join("c");
    run_example(&c, &["--seed", "8"]);
    assert_ne!(std::fs::read(c.join("summary.csv")).unwrap(), before);
}

#[test]
fn compare_two_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_example(&a, &[]);
    run_example(&b, &["--missing", "impute"]);
    let out = dir.path().join("cmp");
    let st = Command::new(env!("CARGO_BIN_EXE_routesim"))
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    // Same data and policies: every policy is present and unchanged (Δ = 0).
    assert!(md.contains("| hybrid | 1000 |"), "{md}");
    assert!(md.contains("| 0.000 [0.000, 0.000] |"), "{md}");
    assert!(out.join("compare.html").is_file());
}
