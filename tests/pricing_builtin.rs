//! The built-in catalog end to end: `routesim run` on RouteLLM's own GSM8K file with
//! no price file (the ranked question for Mixtral, then the figures with an alias),
//! `routesim prices`, `--no-builtin-prices`, and the manifest's provenance.
mod common;

use serde_json::Value;
use std::process::{Command, Output};

fn routesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const MIXTRAL: &str = "mistralai/Mixtral-8x7B-Instruct-v0.1";

#[test]
fn routellm_gsm8k_asks_which_mixtral_then_prices_it_as_told() {
    let Some(csv) = common::shared_data("routellm/gsm8k_responses.csv") else {
        return;
    };
    let csv = csv.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // No price file: gpt-4-1106-preview is LiteLLM's own key; Mixtral is sold by
    // several hosts at several prices, so the run stops and asks.
    let out = routesim(&[
        "run",
        "-q",
        "-d",
        csv,
        "-o",
        dir.path().join("r0").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "\"{MIXTRAL}\" matches 7 catalog entries at 7 different prices (level 4, same model at another host"
        )),
        "{err}"
    );
    // Ranked: same id (anyscale, deepinfra, together ×2), case differs (replicate),
    // org differs (ovhcloud ×2); each with its price per million tokens.
    let ranked = [
        (
            "litellm:anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1",
            "0.15",
            "0.15",
        ),
        (
            "litellm:deepinfra/mistralai/Mixtral-8x7B-Instruct-v0.1",
            "0.4",
            "0.4",
        ),
        (
            "litellm:together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1",
            "0.6",
            "0.6",
        ),
        (
            "genai-prices:together/mistralai/Mixtral-8x7B-Instruct-v0.1",
            "0.9",
            "0.9",
        ),
        (
            "litellm:replicate/mistralai/mixtral-8x7b-instruct-v0.1",
            "0.3",
            "1",
        ),
        (
            "litellm:ovhcloud/Mixtral-8x7B-Instruct-v0.1",
            "0.63",
            "0.63",
        ),
        (
            "genai-prices:ovhcloud/Mixtral-8x7B-Instruct-v0.1",
            "0.7",
            "0.7",
        ),
    ];
    let mut at = 0;
    for (i, (entry, pin, pout)) in ranked.iter().enumerate() {
        let line = err
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(entry))
            .unwrap_or_else(|| panic!("{entry} not listed:\n{err}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[0], (i + 1).to_string(), "{line}");
        assert_eq!((f[2], f[3]), (*pin, *pout), "{line}");
        let pos = err.find(line).unwrap();
        assert!(pos > at, "rank order: {entry}");
        at = pos;
    }
    assert!(err.contains(&format!(
        "fix: add to a pricing.toml  [aliases] \"{MIXTRAL}\" = \"{}\"",
        ranked[0].0
    )));
    assert!(
        !dir.path().join("r0").exists(),
        "no report on an input error"
    );

    // With the alias the run goes through. Deepinfra's price: 0.40 / 0.40 $/Mtok.
    let report = dir.path().join("r1");
    let alias = format!("{MIXTRAL}=litellm:deepinfra/{MIXTRAL}");
    let out = routesim(&[
        "run",
        "-q",
        "--bootstrap",
        "20",
        "--pricing-date",
        "2026-12-03",
        "-d",
        csv,
        "--price-as",
        &alias,
        "-o",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "note: priced \"{MIXTRAL}\" as litellm:deepinfra/{MIXTRAL} (named entry; alias from --price-as {alias}), built-in LiteLLM 1.106.2 (2026-10-21): $0.4 / $0.4 per Mtok"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: priced \"gpt-4-1106-preview\" as litellm:gpt-4-1106-preview (exact key), built-in LiteLLM 1.106.2 (2026-10-21): $10 / $30 per Mtok; deprecated since 2026-10-23 (LiteLLM)"),
        "{stdout}"
    );

    // Independent cost: every row, tokens estimated as ceil(chars / 4) of the prompt
    // and of each model's response, at the catalog's prices.
    let mut rdr = csv::Reader::from_path(csv).unwrap();
    let h: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (p, rm, rg) = (
        col("prompt"),
        col(&format!("{MIXTRAL}_response")),
        col("gpt-4-1106-preview_response"),
    );
    let tok = |s: &str| s.chars().count().div_ceil(4) as f64;
    let (mut mixtral, mut gpt4, mut n) = (0.0, 0.0, 0);
    for r in rdr.records() {
        let r = r.unwrap();
        let input = tok(&r[p]);
        mixtral += input * 0.4e-6 + tok(&r[rm]) * 0.4e-6;
        gpt4 += input * 10e-6 + tok(&r[rg]) * 30e-6;
        n += 1;
    }
    assert_eq!(n, 1319);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let cost = |policy: &str| {
        summary
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["policy"] == policy)
            .unwrap_or_else(|| panic!("{policy}"))["cost_total_usd"]
            .as_f64()
            .unwrap()
    };
    let got_m = cost(&format!("always:{MIXTRAL}"));
    let got_g = cost("always:gpt-4-1106-preview");
    assert!(
        common::rel_err(got_m, mixtral) < 1e-9,
        "{got_m} vs {mixtral}"
    );
    assert!(common::rel_err(got_g, gpt4) < 1e-9, "{got_g} vs {gpt4}");

    // The manifest says where both prices came from.
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("manifest.json")).unwrap())
            .unwrap();
    let b = &m["pricing"]["builtin"];
    assert_eq!(b["asked"], true);
    assert_eq!(b["catalogs"][0]["version"], "1.106.2");
    assert_eq!(
        b["catalogs"][0]["sha256"],
        "66970be01c88f94618f9f69c1a1d29e400474f2d7b89973de7e373c110f455c2"
    );
    assert_eq!(b["catalogs"][1]["package"], "genai-prices");
    let matches = m["pricing"]["matches"].as_array().unwrap();
    let mx = matches.iter().find(|x| x["model"] == MIXTRAL).unwrap();
    assert_eq!(mx["entry"], format!("litellm:deepinfra/{MIXTRAL}"));
    assert_eq!(mx["snapshot"], "LiteLLM 1.106.2 (2026-10-21)");
    assert_eq!(mx["alias"], format!("--price-as {alias}"));
    let g = matches
        .iter()
        .find(|x| x["model"] == "gpt-4-1106-preview")
        .unwrap();
    assert_eq!(
        (g["level"].as_u64(), g["exact"].as_bool()),
        (Some(1), Some(true))
    );
}

#[test]
fn the_builtin_litellm_snapshot_is_the_shared_file() {
    // Read in place: the shared copy is the same litellm 1.106.2 release.
    let Some(f) = common::shared_data("pricing/litellm/model_prices_and_context_window.json")
    else {
        return;
    };
    let shared = std::fs::read(f).unwrap();
    let (embedded, _) = routesim::pricing::builtin::raw();
    assert!(
        embedded == shared,
        "the embedded LiteLLM bytes differ from the shared file"
    );
}

#[test]
fn no_builtin_prices_keeps_no_price_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    std::fs::write(
        &csv,
        "request_id,model,input,output,quality\nr1,gpt-4o,abcd,abcdefgh,1\nr2,gpt-4o,abcdefgh,abcd,0\n",
    )
    .unwrap();
    let c = csv.to_str().unwrap();
    let out = routesim(&["run", "-q", "--no-report", "-d", c, "--no-builtin-prices"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no price for model \"gpt-4o\" (no pricing files were given, and the built-in catalog was not asked)"),
        "{err}"
    );
    // With the catalog: LiteLLM's gpt-4o at 2.5 / 10 $/Mtok. Tokens: r1 1 in + 2 out,
    // r2 2 in + 1 out → (3 × 2.5 + 3 × 10) / 1e6 = $0.0000375 for 2 requests,
    // $0.01875 per 1k.
    let out = routesim(&[
        "run",
        "-q",
        "--no-report",
        "-d",
        c,
        "--pricing-date",
        "2026-12-03",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    let row = s
        .lines()
        .find(|l| l.starts_with("always:gpt-4o "))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(row.contains("$0.01875"), "{row}");
}

#[test]
fn prices_shows_the_verdict_and_the_rows() {
    let out = routesim(&["prices", "gpt-4-1106-preview", "--date", "2026-12-03"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("MATCH — level 1 (own name): litellm:gpt-4-1106-preview — $10 / $30 per Mtok, context 128000"),
        "{s}"
    );
    assert!(
        s.contains("note: deprecated since 2026-10-23 (LiteLLM)"),
        "{s}"
    );
    // Rows: LiteLLM's own and Azure's key, genai's gpt-4-turbo that lists the name.
    for entry in [
        "litellm:gpt-4-1106-preview ",
        "litellm:azure/gpt-4-1106-preview ",
        "genai-prices:openai/gpt-4-turbo ",
    ] {
        assert!(s.lines().any(|l| l.starts_with(entry)), "{entry}\n{s}");
    }
    assert!(s.contains(
        "built-in catalog: LiteLLM 1.106.2 (2026-10-21), genai-prices 0.1.4 (2026-08-19)"
    ));

    // The question, and JSON for scripts.
    let out = routesim(&["prices", MIXTRAL, "--json", "--date", "2026-12-03"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["verdict"], "ambiguous");
    assert_eq!(v["run"]["candidates"].as_array().unwrap().len(), 7);
    assert_eq!(
        v["run"]["candidates"][1]["entry"],
        format!("litellm:deepinfra/{MIXTRAL}")
    );
    assert_eq!(v["run"]["candidates"][1]["price"]["input_per_mtok"], 0.4);

    // A glob: no verdict, only rows; every row's entry matches.
    let out = routesim(&["prices", "*mixtral-8x7b*", "--json", "--limit", "0"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["run"].is_null());
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.len() >= 10, "{}", rows.len());
    assert_eq!(rows.len() as u64, v["rows_total"].as_u64().unwrap());
    assert!(rows.iter().any(
        |r| r["entry"] == "litellm:ollama/mixtral-8x7B-Instruct-v0.1"
            && r["notes"][0] == "$0 (local): matched by its exact key only"
    ));

    // Bad input: a clear error, exit 1.
    let out = routesim(&["prices", "x", "--date", "tomorrow"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--date: expected YYYY-MM-DD, found \"tomorrow\""));
}

#[test]
fn bad_price_as_is_an_input_error() {
    let out = routesim(&["run", "--example", "--no-report", "--price-as", "gpt-4o"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("--price-as: expected NAME=TARGET"),
        "{}",
        text(&out)
    );
}
