//! PriceBook against the real catalogs in ../shared/data/pricing.
mod common;

use routesim::pricing::genai::{GenaiData, Usage, calc_price};
use routesim::pricing::{PriceBook, today_days};

use serde_json::Value;

/// genai-prices ships `usages.json`: real provider `usage` objects with the input and
/// output prices genai-prices computes for each provider. For every case whose provider
/// our PriceBook supports (every provider in `data.json`), our extraction must give the
/// same usage and our price the same figures (relative error < 1e-9).
#[test]
fn genai_usages_oracle_matches() {
    let Some(dir) = common::shared_data("pricing/genai-prices") else {
        return;
    };
    let raw = std::fs::read_to_string(dir.join("data.json")).unwrap();
    let data: Value = serde_json::from_str(&raw).unwrap();
    let mut absent_models = 0;
    let mut known_skew = 0;
    let g = GenaiData::from_json(&data).unwrap();
    let usages: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("usages.json")).unwrap()).unwrap();
    // usages.json was generated before claude-sonnet-5's 2026-09-01 price change (its
    // expected prices use the earlier price), so price as of a date before that.
    let as_of = routesim::dataset::time::parse_ts_ms("2026-06-01").unwrap() / 86_400_000;
    // Units data.json prices, plus breakdowns of them that carry no price of their own
    // in this snapshot (reasoning and text tokens are part of output/input tokens).
    let known_units = [
        "input_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "output_tokens",
        "input_audio_tokens",
        "cache_audio_read_tokens",
        "output_audio_tokens",
        "output_reasoning_tokens",
        "input_text_tokens",
        "cache_text_read_tokens",
    ];
    let (mut priced, mut matched, mut extracted, mut extract_ok, mut unsupported, mut newer_units) =
        (0, 0, 0, 0, 0, 0);
    let mut extract_fail: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = Vec::new();
    for case in usages.as_array().unwrap() {
        let body = &case["body"];
        for group in case["extracted"].as_array().unwrap() {
            let expected_usage = Usage::from_json(&group["usage"]);
            // Usage units added to genai-prices after this data.json (image output,
            // separately priced reasoning) cannot be priced from it: counted, not compared.
            if group["usage"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| !known_units.contains(&k.as_str()))
            {
                newer_units += group["extractors"].as_array().unwrap().len();
                continue;
            }
            for ex in group["extractors"].as_array().unwrap() {
                let pid = ex["provider_id"].as_str().unwrap();
                let flavor = ex["api_flavor"].as_str().unwrap();
                let Some(provider) = g.provider(pid).filter(|p| p.id == pid) else {
                    unsupported += 1;
                    continue;
                };
                if let Some(e) = provider.extractors.iter().find(|e| e.api_flavor == flavor)
                    && !newer_extractor(pid, flavor, e, &expected_usage)
                {
                    extracted += 1;
                    match e.extract(body) {
                        Some((_, u)) if nonzero(&u) == nonzero(&expected_usage) => extract_ok += 1,
                        other => {
                            let n = extract_fail.entry(format!("{pid}/{flavor}")).or_default();
                            if *n == 0 {
                                failures.push(format!(
                                    "extract {pid}/{flavor}: {other:?} != {expected_usage:?}"
                                ));
                            }
                            *n += 1;
                        }
                    }
                }
                let (Some(ei), Some(eo)) = (ex.get("input_price"), ex.get("output_price")) else {
                    continue;
                };
                let ei: f64 = ei.as_str().unwrap().parse().unwrap();
                let eo: f64 = eo.as_str().unwrap().parse().unwrap();
                priced += 1;
                let model = body["model"]
                    .as_str()
                    .or(case["model"].as_str())
                    .unwrap_or("");
                let Some(m) = g.find_model(provider, model) else {
                    // Only models this data.json snapshot does not list at all.
                    assert!(
                        !raw.contains(&format!("\"{model}\"")),
                        "{pid}: {model} is in data.json but was not matched"
                    );
                    absent_models += 1;
                    priced -= 1;
                    continue;
                };
                let p = calc_price(
                    m.prices_at(as_of, 12 * 3600).expect("a price on the date"),
                    &expected_usage,
                )
                .unwrap();
                if common::rel_err(p.input, ei) < 1e-9 && common::rel_err(p.output, eo) < 1e-9 {
                    matched += 1;
                } else if model == "gemini-2.5-flash-image" && common::rel_err(p.input, ei) < 1e-9 {
                    // Known data skew: the genai-prices that produced usages.json prices
                    // this image model's *text* output at $2.5/M; our data.json snapshot
                    // has one output price ($30/M, for image tokens). Counted, not hidden.
                    known_skew += 1;
                } else {
                    failures.push(format!(
                        "{pid}/{model}: got in {} out {}, expected {ei} {eo}",
                        p.input, p.output
                    ));
                }
            }
        }
    }
    println!(
        "genai usages: {matched}/{priced} priced cases match; extraction {extract_ok}/{extracted}; {unsupported} cases name providers and {absent_models} models absent from data.json; {newer_units} use units newer than data.json; {known_skew} known price skew"
    );
    println!("extraction mismatches by provider/flavor: {extract_fail:?}");
    for f in failures.iter().take(30) {
        println!("  {f}");
    }
    assert!(priced > 2500, "{priced}");
    assert_eq!(
        matched + known_skew,
        priced,
        "{} mismatches",
        failures.len()
    );
    assert!(known_skew <= 1);
    assert!(extract_fail.is_empty(), "{extract_fail:?}");
    assert!(extract_ok > 16_000, "{extract_ok}/{extracted}");
}

/// The PriceBook prices the seed guide's models from the real catalogs.
#[test]
fn pricebook_prices_seed_models_from_catalogs() {
    let (Some(l), Some(g)) = (
        common::shared_data("pricing/litellm/model_prices_and_context_window.json"),
        common::shared_data("pricing/genai-prices/data.json"),
    ) else {
        return;
    };
    let book = PriceBook::load(&[l, g], today_days()).unwrap();
    let gpt4o = book.lookup("openai/gpt-4o").unwrap();
    assert!(gpt4o.source.contains("LiteLLM"), "{}", gpt4o.source);
    assert!((gpt4o.cost(&routesim::pricing::Usage::plain(1_000_000, 0)) - 2.5).abs() < 1e-9);
    let sonnet = book.lookup("anthropic/claude-3.5-sonnet").unwrap();
    assert!(
        sonnet
            .source
            .contains("genai-prices anthropic/claude-3-5-sonnet"),
        "{}",
        sonnet.source
    );
    assert!(
        (sonnet.cost(&routesim::pricing::Usage::plain(1_000_000, 1_000_000)) - 18.0).abs() < 1e-9
    );
    let pro = book.lookup("google/gemini-1.5-pro").unwrap();
    // Cliff tier above 128k prompt tokens: all tokens at the higher price.
    assert!((pro.cost(&routesim::pricing::Usage::plain(100_000, 0)) - 0.125).abs() < 1e-12);
    assert!((pro.cost(&routesim::pricing::Usage::plain(200_000, 0)) - 0.5).abs() < 1e-12);
    let err = book
        .resolve(&["openai/gpt-4o".into(), "acme/unknown-model".into()])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no price for model \"acme/unknown-model\""),
        "{err}"
    );
}

/// genai-prices omits zero counts from its extracted usage.
fn nonzero(u: &Usage) -> Usage {
    let z = |x: Option<u64>| x.filter(|&v| v != 0);
    Usage {
        input_tokens: z(u.input_tokens),
        cache_write_tokens: z(u.cache_write_tokens),
        cache_read_tokens: z(u.cache_read_tokens),
        output_tokens: z(u.output_tokens),
        input_audio_tokens: z(u.input_audio_tokens),
        cache_audio_read_tokens: z(u.cache_audio_read_tokens),
        output_audio_tokens: z(u.output_audio_tokens),
    }
}

/// usages.json was produced by a newer genai-prices than this data.json: skip the
/// extraction comparison where its extractor provably differs — the expected usage has
/// a field the snapshot's extractor never maps (cache writes for OpenAI-style chat), or
/// x-ai's chat extractor, which later added reasoning tokens to output tokens.
fn newer_extractor(
    pid: &str,
    flavor: &str,
    e: &routesim::pricing::genai::Extractor,
    u: &Usage,
) -> bool {
    if pid == "x-ai" && flavor == "chat" {
        return true;
    }
    let mapped = |d: &str| e.mappings.iter().any(|m| m.dest == d);
    let nz = nonzero(u);
    (nz.cache_write_tokens.is_some() && !mapped("cache_write_tokens"))
        || (nz.cache_read_tokens.is_some() && !mapped("cache_read_tokens"))
}
