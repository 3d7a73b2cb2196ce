//! `routesim import-config`: gateway configs → policies whose decisions on fixture
//! datasets match hand-worked expectations (rule, model, status, latency, attempts,
//! fallback and retry per request), the shared real-proxy and synthetic configs read
//! in place (skipped when ../shared/data is absent) with their exact policy text or
//! decisions and the exact list of settings not reproduced, errors with positions,
//! and a property test: random Portkey conditions decide as the gateway's
//! `conditionalRouter.ts` does (a second, plain implementation of it below).

mod common;

use routesim::app::{ConfigGateway, ImportConfigOptions, import_text};
use routesim::dataset::{LoadOptions, Status, load};
use routesim::pricing::PriceBook;
use routesim::sim::trace::{DEFAULT_RULE, Trace, flags};
use routesim::sim::{SimOptions, run};
use std::path::Path;
use std::process::Command;

fn opts(gw: ConfigGateway, file: &Path, dataset: Option<&Path>) -> ImportConfigOptions {
    ImportConfigOptions {
        gateway: gw,
        file: file.to_path_buf(),
        out: None,
        dataset: dataset.map(Path::to_path_buf),
        pricing_out: None,
        name: Some("imported".into()),
        strict: false,
    }
}

/// The imported policy's text and its listing (one line per setting).
fn import(gw: ConfigGateway, file: &Path, dataset: Option<&Path>) -> (String, Vec<String>) {
    let (imp, text) = import_text(&opts(gw, file, dataset)).unwrap_or_else(|e| panic!("{e:#}"));
    (
        text,
        imp.policy.unmapped.iter().map(|u| u.to_string()).collect(),
    )
}

/// Simulate `text` (a policy) on the dataset folder.
fn simulate(text: &str, dir: &Path) -> Trace {
    let ds = load(dir, &LoadOptions::default()).expect("fixture loads");
    let book = PriceBook::load(&ds.pricing_files, 0).unwrap();
    let prices = book.resolve(&ds.models).unwrap();
    let p = routesim::policy::parse("imported.toml", text, "imported").unwrap();
    run(&ds, &prices, &[p], &SimOptions::default()).unwrap_or_else(|_| panic!("simulation"))
}

/// (request, rule, model, status, latency ms, attempts, fell back, retried)
type Want<'a> = (&'a str, &'a str, &'a str, Status, f64, u16, bool, bool);

fn check(trace: &Trace, want: &[Want]) {
    let rows = trace.policy_rows(0);
    assert_eq!(rows.len(), want.len());
    for (row, w) in rows.iter().zip(want) {
        let ctx = w.0;
        assert_eq!(trace.rule_name(0, row.rule), w.1, "{ctx} rule");
        assert_eq!(trace.model_name(row.model), w.2, "{ctx} model");
        assert_eq!(row.status, w.3, "{ctx} status");
        assert_eq!(row.latency_ms, w.4, "{ctx} latency");
        assert_eq!(row.attempts, w.5, "{ctx} attempts");
        assert_eq!(row.has(flags::FELL_BACK), w.6, "{ctx} fell_back");
        assert_eq!(row.has(flags::RETRIED), w.7, "{ctx} retried");
    }
}

const OK: Status = Status::OK;

#[test]
fn litellm_fallbacks_retries_timeouts_and_aliases_decide_as_worked_out() {
    // tests/fixtures/config_import/litellm/config.yaml: groups fast (own timeout 2 s),
    // smart (fallbacks: backup), backup, long (fast's context-window fallback);
    // num_retries 2, retry_after 1 s, alias gpt-4 → smart. Every group has one
    // deployment and the router has fallbacks, so a 429 is not retried (LiteLLM's
    // should_retry_this_error): retries.on = 5xx, timeout, error.
    let dir = common::fixture("config_import/litellm");
    let (text, _) = import(ConfigGateway::Litellm, &dir.join("config.yaml"), Some(&dir));
    let t = simulate(&text, &dir);
    let to = Status::TIMEOUT;
    check(
        &t,
        &[
            // r1: fast answers in 500 ms.
            ("r1", "fast", "fast", OK, 500.0, 1, false, false),
            // r2: fast takes 3 s, cut at its own 2 s timeout; timeouts are retried twice
            //     after 1 s each: 2000+1000+2000+1000+2000 = 8000; a timeout is not a
            //     context-window error, so no fallback to long.
            ("r2", "fast", "fast", to, 8000.0, 3, false, true),
            // r3: fast 10 ms context_length → not retried → long 1500: 1510.
            ("r3", "fast", "long", OK, 1510.0, 2, true, false),
            // r4: smart 429 (100 ms, retry-after 5 s) → no retry → backup 800: 900.
            ("r4", "smart", "backup", OK, 900.0, 2, true, false),
            // r5: asks gpt-4 (alias of smart); smart 500 three times with 1 s waits,
            //     then backup: 200+1000+200+1000+200+800 = 3400.
            ("r5", "smart", "backup", OK, 3400.0, 4, true, true),
            // r6: an unknown group goes to [default] = fast's route.
            ("r6", "default", "fast", OK, 400.0, 1, false, false),
            // r7: smart 429 (100) → backup 503 (50) retried twice after 1 s:
            //     100+50+1000+50+1000+50 = 2250, and the chain ends: 503.
            ("r7", "smart", "backup", Status(503), 2250.0, 4, true, true),
        ],
    );
}

#[test]
fn portkey_conditional_with_nested_fallback_decides_as_worked_out() {
    // tests/fixtures/config_import/portkey_conditional/config.json: paid → premium
    // (fallback anthropic → openai on 429/503), free or max_tokens < 100 → budget,
    // default budget; retry 1 attempt on 429 after 1 s.
    let dir = common::fixture("config_import/portkey_conditional");
    let (text, listing) = import(ConfigGateway::Portkey, &dir.join("config.json"), Some(&dir));
    assert_eq!(
        listing,
        [
            "approx   targets[0].strategy.on_status_codes: 5xx covers every 5xx, Portkey only 503",
            "ignored  targets[0].targets[0].api_key: not a routing setting",
            "ignored  targets[0].targets[1].api_key: not a routing setting",
            "ignored  targets[1].api_key: not a routing setting",
        ]
    );
    let t = simulate(&text, &dir);
    let (claude, gpt4o, mini) = (
        "anthropic/claude-3-5-sonnet-20240620",
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
    );
    let _ = claude;
    check(
        &t,
        &[
            // c1 paid: claude 503 (400 ms) is not retried (retry only on 429), falls
            //    back (503 listed) to gpt-4o 700: 1100.
            ("c1", "premium", gpt4o, OK, 1100.0, 2, true, false),
            // c2 free → budget.
            ("c2", "budget", mini, OK, 300.0, 1, false, false),
            // c3 no plan, max_tokens 50 < 100 → budget ($or, second branch).
            ("c3", "budget", mini, OK, 300.0, 1, false, false),
            // c4 "Paid" (case-sensitive), max_tokens 500 → default.
            ("c4", "default", mini, OK, 300.0, 1, false, false),
            // c5 paid: claude 429 (100) + 1 s + 429 again (100) → gpt-4o 700: 1900.
            ("c5", "premium", gpt4o, OK, 1900.0, 3, true, true),
            // c6 nothing set → default ($lt on an absent value is false).
            ("c6", "default", mini, OK, 300.0, 1, false, false),
        ],
    );
}

#[test]
fn shared_portkey_cookbook_conditional_decides_as_worked_out() {
    let Some(file) =
        common::shared_data("gateway-samples/portkey/cookbook_config_conditional.json")
    else {
        return;
    };
    let dir = common::fixture("config_import/portkey_conditional");
    let (text, _) = import(ConfigGateway::Portkey, &file, Some(&dir));
    let t = simulate(&text, &dir);
    let (claude, gpt4o) = ("anthropic/claude-3-5-sonnet-20240620", "openai/gpt-4o");
    // No retry and no fallback in the cookbook config: claude's 503 and 429 stand.
    check(
        &t,
        &[
            (
                "c1",
                "anthropic-claude",
                claude,
                Status(503),
                400.0,
                1,
                false,
                false,
            ),
            ("c2", "openai-gpt-4", gpt4o, OK, 700.0, 1, false, false),
            ("c3", "default", gpt4o, OK, 700.0, 1, false, false),
            ("c4", "default", gpt4o, OK, 700.0, 1, false, false),
            (
                "c5",
                "anthropic-claude",
                claude,
                Status(429),
                100.0,
                1,
                false,
                false,
            ),
            ("c6", "default", gpt4o, OK, 700.0, 1, false, false),
        ],
    );
}

#[test]
fn shared_real_proxy_config_has_this_exact_policy_and_decides_as_worked_out() {
    let Some(file) = common::shared_data("gateway-samples/litellm/real-proxy/config.yaml") else {
        return;
    };
    let dir = common::fixture("config_import/real_proxy");
    let (text, _) = import(ConfigGateway::Litellm, &file, Some(&dir));
    let want = REAL_PROXY_POLICY.replace("{file}", &file.to_string_lossy());
    assert_eq!(text, want, "got:\n{text}");
    let t = simulate(&text, &dir);
    check(
        &t,
        &[
            ("a", "gpt-4o-mini", "gpt-4o-mini", OK, 60.0, 1, false, false),
            ("b", "gpt-4o", "gpt-4o", OK, 210.0, 1, false, false),
            (
                "c",
                "claude-3-5-sonnet",
                "claude-3-5-sonnet",
                OK,
                320.0,
                1,
                false,
                false,
            ),
            // flaky-429: 429 (30 ms), not retried (single deployment, the router has
            // fallbacks) → gpt-4o-mini 60: 90.
            ("d", "flaky-429", "gpt-4o-mini", OK, 90.0, 2, true, false),
            // broken-500: 500 (20), retried once at once (retry_after 0), 500 again
            // (its one recorded sample), no fallback: 40 ms, 500.
            (
                "e",
                "broken-500",
                "broken-500",
                Status(500),
                40.0,
                2,
                false,
                true,
            ),
        ],
    );
}

const REAL_PROXY_POLICY: &str = r#"# Imported by `routesim import-config litellm` from {file}.
# 5 model groups, 5 deployments; one rule per group on meta.asked_model (the model the request asked for).
# 10 settings not reproduced exactly (approx = mapped with the difference given,
# unmapped = not reproduced, ignored = not a routing setting or never used):
#   approx   router_settings.num_retries = 1: LiteLLM retries only while the group has a healthy deployment (none cooling down) and not 4xx other than 408/409/429 (408 is a timeout here; 409 is not retried); routesim retries regardless of cooldowns
#   approx   router_settings.fallbacks: LiteLLM does not retry a 429 of a group without another healthy deployment when the router has fallbacks: every group has one deployment, so 429 is left out of retries
#   approx   (requests for a model no group serves): LiteLLM answers 400 Invalid model name; routesim sends them to the first group (gpt-4o-mini)
#   unmapped router_settings.allowed_fails: LiteLLM's default cooldown (a 429 on a group of several deployments, more than 50% failures in a minute, a non-retryable error; single-deployment groups mostly exempt) has no routesim equivalent: no cooldown
#   ignored  general_settings.master_key: proxy server setting, not routing
#   ignored  litellm_settings.callbacks = "custom_callbacks.proxy_handler_instance": not a routing setting
#   ignored  litellm_settings.drop_params = true: not a routing setting
#   ignored  model_list[].litellm_params.api_key: connection setting, not routing (5 deployments)
#   ignored  model_list[].litellm_params.mock_delay: test double: the dataset's recorded answers stand in for it (3 deployments)
#   ignored  model_list[].litellm_params.mock_response: test double: the dataset's recorded answers stand in for it (5 deployments)

name = "imported"
description = "LiteLLM router imported from {file}"

[models]
gpt-4o-mini = "gpt-4o-mini"  # openai/gpt-4o-mini
gpt-4o = "gpt-4o"  # openai/gpt-4o
claude-3-5-sonnet = "claude-3-5-sonnet"  # anthropic/claude-3-5-sonnet-20241022
flaky-429 = "flaky-429"  # openai/gpt-4o
broken-500 = "broken-500"  # openai/gpt-4o-mini

[gateway]
timeout_ms = 30000
retries = { max = 1, backoff_ms = 0, multiplier = 1, max_backoff_ms = 60000, on = ["5xx", "timeout", "error"], honor_retry_after = true }

[[rule]]
name = "gpt-4o-mini"
when = { meta.asked_model = "gpt-4o-mini" }
route = "gpt-4o-mini"

[[rule]]
name = "gpt-4o"
when = { meta.asked_model = "gpt-4o" }
route = "gpt-4o"

[[rule]]
name = "claude-3-5-sonnet"
when = { meta.asked_model = "claude-3-5-sonnet" }
route = "claude-3-5-sonnet"

[[rule]]
name = "flaky-429"
when = { meta.asked_model = "flaky-429" }
route = { model = "flaky-429", fallbacks = ["gpt-4o-mini"], fallback_on = ["429", "5xx", "4xx", "timeout", "error", "gateway"] }

[[rule]]
name = "broken-500"
when = { meta.asked_model = "broken-500" }
route = "broken-500"

# requests asking for no known group: LiteLLM refuses them (400); here the first group, gpt-4o-mini
[default]
route = "gpt-4o-mini"
"#;

#[test]
fn shared_synthetic_portkey_config_decides_as_worked_out() {
    let Some(file) =
        common::shared_data("gateway-samples/synthetic/portkey/config_all_features_synthetic.json")
    else {
        return;
    };
    let dir = common::fixture("config_import/portkey_all");
    let (text, listing) = import(ConfigGateway::Portkey, &file, Some(&dir));
    assert_eq!(
        listing,
        [
            "approx   config.retry.on_status_codes: 5xx covers every 5xx, Portkey only 500, 502, 503, 504",
            "approx   config.retry.use_retry_after_header = true: Portkey waits a 429's retry-after instead of its backoff, and stops retrying when the waits would pass 60 s; routesim waits the longer of the two and keeps retrying",
            "approx   targets[1].strategy.on_status_codes: 5xx covers every 5xx, Portkey only 500, 503",
            "approx   targets[1].targets[0].retry.on_status_codes: 5xx covers every 5xx, Portkey only 500, 502, 503, 504",
            "approx   targets[2].targets[0]: this target has no override_params.model: it sends the request's own model; one rule per model the dataset's requests ask for (meta.asked_model), and requests without one go to the target's other models",
            "unmapped override_params.max_tokens: set on some targets only (targets[3] (512)): routesim's output cap is the gateway's, so none is applied",
            "ignored  targets[0].api_key: not a routing setting",
            "ignored  targets[1].targets[0].api_key: not a routing setting",
            "ignored  targets[1].targets[1].api_key: not a routing setting",
            "ignored  targets[2].targets[2].weight = 0: a target of weight 0 is never picked",
            "ignored  targets[2].targets[1].api_key: not a routing setting",
            "ignored  targets[3].api_key: not a routing setting",
        ]
    );
    // The per-target settings the policy language needed: the anthropic target's own
    // retry (1 attempt, no retry-after) and the openai target's 60 s timeout.
    for line in [
        "\"anthropic/claude-sonnet-4-20250514\" = { model = \"anthropic/claude-sonnet-4-20250514\", retries = { max = 1, backoff_ms = 1000, multiplier = 2, max_backoff_ms = 512000, on = [\"429\", \"5xx\"], honor_retry_after = false } }",
        "\"openai/gpt-4o\" = { model = \"openai/gpt-4o\", timeout_ms = 60000 }",
        "retries = { max = 3, backoff_ms = 1000, multiplier = 2, max_backoff_ms = 512000, on = [\"429\", \"5xx\"], honor_retry_after = true }",
        "when = { meta.asked_model = { not_in = [\"gpt-4o\", \"claude-sonnet\"] }, meta.tier = { ne = \"blocked\" } }",
    ] {
        assert!(text.contains(line), "missing {line}\nin:\n{text}");
    }
    let t = simulate(&text, &dir);
    let (mini, emb, claude, mistral) = (
        "openai/gpt-4o-mini",
        "openai/text-embedding-3-small",
        "anthropic/claude-sonnet-4-20250514",
        "mistral-ai/mistral-large-latest",
    );
    let rows = t.policy_rows(0);
    // p3 asks gpt-4o in the EU: the eu-pool split (azure 0.7 / mistral 0.3); which arm
    // is drawn is random — its latency must be that arm's (1200 / 1100 ms).
    let p3 = &rows[2];
    let p3_model = t.model_name(p3.model).to_string();
    let p3_latency = match p3_model.as_str() {
        "azure-openai/gpt-4o" => 1200.0,
        "mistral-ai/mistral-large-latest" => 1100.0,
        other => panic!("p3 went to {other}"),
    };
    check(
        &t,
        &[
            // p1 /v1/embeddings matches "embeddings$".
            ("p1", "embed", emb, OK, 80.0, 1, false, false),
            // p2 paid, max_tokens 2000 > 1000: anthropic 429 (300 ms, retry-after 5 s
            //    ignored: its own retry does not honour it) + 1000 + 429 (300) → falls
            //    back on 429 to gpt-4o, 45 s: under its own 60 s timeout (the
            //    gateway's 30 s would cut it): 300+1000+300+45000 = 46600.
            (
                "p2",
                "smart-with-fallback",
                "openai/gpt-4o",
                OK,
                46_600.0,
                3,
                true,
                true,
            ),
            (
                "p3",
                "eu-pool gpt-4o",
                &p3_model,
                OK,
                p3_latency,
                1,
                false,
                false,
            ),
            // p4 temperature 0.95 ≥ 0.9, no asked model: the pool's other target.
            ("p4", "eu-pool", mistral, OK, 1000.0, 1, false, false),
            // p5 asks gpt-4o ($nin fails) → default (cheap).
            ("p5", "default", mini, OK, 600.0, 1, false, false),
            // p6 nothing set: $nin and $ne hold on undefined → cheap.
            ("p6", "cheap", mini, OK, 500.0, 1, false, false),
            // p7 tier blocked → default.
            ("p7", "default", mini, OK, 550.0, 1, false, false),
            // p8 max_tokens "1500" (text) > 1000 as parseFloat reads it → anthropic ok.
            (
                "p8",
                "smart-with-fallback",
                claude,
                OK,
                2500.0,
                1,
                false,
                false,
            ),
        ],
    );
}

#[test]
fn every_shared_sample_config_imports_to_a_policy_that_parses() {
    // Round trip: every config of the shared samples imports, and the text parses
    // (import_text also parses it, and fails loudly if it does not) — except the two
    // Portkey cookbook configs whose targets name no model, which need a dataset.
    let Some(root) = common::shared_data("gateway-samples") else {
        return;
    };
    let configs: &[(&str, ConfigGateway, Option<&str>)] = &[
        (
            "litellm/real-proxy/config.yaml",
            ConfigGateway::Litellm,
            None,
        ),
        (
            "litellm/proxy_server_config.yaml",
            ConfigGateway::Litellm,
            None,
        ),
        (
            "litellm/docs_configs_load_balancing.yaml",
            ConfigGateway::Litellm,
            None,
        ),
        (
            "litellm/docs_load_balancing_deployment_ordering.yaml",
            ConfigGateway::Litellm,
            None,
        ),
        (
            "litellm/docs_load_balancing_enforce_rate_limits.yaml",
            ConfigGateway::Litellm,
            None,
        ),
        (
            "synthetic/litellm/config_router_full_synthetic.yaml",
            ConfigGateway::Litellm,
            None,
        ),
        (
            "portkey/cookbook_config_conditional.json",
            ConfigGateway::Portkey,
            None,
        ),
        (
            "synthetic/portkey/config_all_features_synthetic.json",
            ConfigGateway::Portkey,
            None,
        ),
        (
            "portkey/cookbook_config_retry.json",
            ConfigGateway::Portkey,
            Some("config names no model (no override_params.model)"),
        ),
        (
            "portkey/cookbook_config_loadbalance_nested_fallback.json",
            ConfigGateway::Portkey,
            Some("targets[1].targets[0] names no model (no override_params.model)"),
        ),
    ];
    for (rel, gw, err) in configs {
        let file = root.join(rel);
        match (import_text(&opts(*gw, &file, None)), err) {
            (Ok((_, text)), None) => {
                routesim::policy::parse("p.toml", &text, "p")
                    .unwrap_or_else(|e| panic!("{rel}: {e}\n{text}"));
            }
            (Err(e), Some(want)) => {
                let e = format!("{e:#}");
                assert!(e.contains(want), "{rel}: {e}");
            }
            (Ok(_), Some(_)) => panic!("{rel}: imported without a dataset"),
            (Err(e), None) => panic!("{rel}: {e:#}"),
        }
    }
}

#[test]
fn shared_synthetic_litellm_config_maps_every_router_setting() {
    let Some(file) =
        common::shared_data("gateway-samples/synthetic/litellm/config_router_full_synthetic.yaml")
    else {
        return;
    };
    let (text, listing) = import(ConfigGateway::Litellm, &file, None);
    for line in [
        // fast: order 1 (azure, with enable_pre_call_checks) first; its context-window
        // fallback on context errors only; its openai deployment shares the column.
        "route = { model = \"fast#deploy-azure-eastus-1\", fallbacks = [\"long-context\"], fallback_on = [\"context_length\"] }",
        // smart (alias gpt-4): fallbacks smart-backup, then smart-backup's own (the
        // default fallbacks: fast), then its context-window fallback long-context.
        "when = { meta.asked_model = { in = [\"smart\", \"gpt-4\"] } }",
        "route = { model = \"smart\", fallbacks = [\"smart-backup\", \"fast#deploy-azure-eastus-1\", \"long-context\"], fallback_on = [\"any\"] }",
        "smart = { model = \"smart\", max_concurrency = 10 }  # anthropic/claude-sonnet-4-20250514",
        // num_retries 2 (router) over 3 (litellm), raised to 3 by RateLimitErrorRetries;
        // the retry policy covers 429, so 429 stays retried despite the fallbacks.
        "retries = { max = 3, backoff_ms = 0, multiplier = 1, max_backoff_ms = 60000, on = [\"429\", \"5xx\", \"timeout\", \"error\"], honor_retry_after = true }",
        // allowed_fails_policy set → LiteLLM's per-minute count (allowed_fails 3, 30 s).
        "cooldown = { allowed_fails = 3, window_s = 60, cooldown_s = 30, on = [\"429\", \"5xx\", \"timeout\", \"4xx\", \"error\"] }",
        "cache = { kind = \"exact\", ttl_s = 600 }",
        "timeout_ms = 30000",
    ] {
        assert!(text.contains(line), "missing {line}\nin:\n{text}");
    }
    let keys: Vec<&str> = listing
        .iter()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "approx   model_list (group fast)",
            "approx   router_settings.routing_strategy = \"simple-shuffle\"",
            "approx   router_settings.retry_policy",
            "approx   router_settings.num_retries = 2",
            "approx   router_settings.num_retries = 2",
            "approx   router_settings.allowed_fails_policy = {RateLimitErrorAllowedFails",
            "approx   model_list (group fast).order",
            "approx   router_settings.context_window_fallbacks",
            "approx   (requests for a model no group serves)",
            "unmapped model_list[0].litellm_params.stream_timeout = 10",
            "unmapped model_list[0].litellm_params.tags = [\"free\", \"default\"]",
            "unmapped router_settings.enable_tag_filtering = true",
            "unmapped router_settings.routing_strategy_args.ttl = 3600",
            "unmapped router_settings.content_policy_fallbacks = [{smart",
            "unmapped model_list[2].litellm_params.input_cost_per_token",
            "ignored  litellm_settings.num_retries = 3",
            "ignored  litellm_settings.request_timeout = 600",
            "ignored  litellm_settings.cache_params.type = \"redis\"",
            "ignored  model_list[].litellm_params.api_base",
            "ignored  model_list[].litellm_params.api_key",
            "ignored  model_list[].model_info.base_model",
        ],
        "{listing:#?}"
    );
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_routesim"))
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn cli_writes_a_policy_that_validates_against_the_dataset() {
    let dir = common::fixture("config_import/litellm");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("p.toml");
    let pricing = tmp.path().join("pricing.toml");
    let o = bin()
        .args(["import-config", "litellm"])
        .arg(dir.join("config.yaml"))
        .arg("-o")
        .arg(&out)
        .arg("-d")
        .arg(&dir)
        .arg("--pricing-out")
        .arg(&pricing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "6 settings not reproduced exactly (5 approximated or unmapped, 1 not routing)"
        ),
        "{}",
        stderr(&o)
    );
    let p = std::fs::read_to_string(&pricing).unwrap();
    assert!(
        p.contains("[aliases]\nfast = \"openai/gpt-4o-mini\"\n"),
        "{p}"
    );
    let v = bin()
        .arg("validate")
        .arg(&out)
        .arg("-d")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    // --strict refuses, writing nothing.
    let strict = tmp.path().join("strict.toml");
    let o = bin()
        .args(["import-config", "litellm", "--strict"])
        .arg(dir.join("config.yaml"))
        .arg("-o")
        .arg(&strict)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--strict: 5 routing settings are not reproduced exactly"),
        "{}",
        stderr(&o)
    );
    assert!(!strict.exists());
}

/// Write `text` as `name` in a temp dir and import it; (exit code, stderr, out exists).
fn import_bad(
    gw: &str,
    name: &str,
    text: &str,
    dataset: Option<&Path>,
) -> (Option<i32>, String, bool) {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join(name);
    std::fs::write(&f, text).unwrap();
    let out = tmp.path().join("out.toml");
    let mut c = bin();
    c.args(["import-config", gw]).arg(&f).arg("-o").arg(&out);
    if let Some(d) = dataset {
        c.arg("-d").arg(d);
    }
    let o = c.output().unwrap();
    let err = stderr(&o).replace(&*f.to_string_lossy(), name);
    assert!(!err.contains("panicked"), "{err}");
    (o.status.code(), err, out.exists())
}

#[test]
fn bad_configs_are_errors_with_file_line_and_column() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "litellm",
            "c.yaml",
            "model_list:\n  - model_name: a\n    litellm_params: {model: x\n",
            "c.yaml:4:1: invalid YAML:",
        ),
        (
            "litellm",
            "c.yaml",
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\nrouter_settings:\n  routing_strategy: fastest\n",
            "c.yaml:6:21: router_settings.routing_strategy: expected one of simple-shuffle, least-busy, usage-based-routing, usage-based-routing-v2, latency-based-routing, cost-based-routing, provider-budget-routing, found \"fastest\"",
        ),
        (
            "litellm",
            "c.yaml",
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\nrouter_settings:\n  num_retries: many\n",
            "c.yaml:6:16: router_settings.num_retries: expected a number, found a string",
        ),
        (
            "litellm",
            "c.yaml",
            "model_list:\n  - model_name: a\n",
            "c.yaml:2:5: model_list[0]: missing litellm_params (with model: provider/model)",
        ),
        (
            "portkey",
            "c.json",
            "{\"strategy\": {\"mode\": \"conditional\", \"conditions\": [{\"query\": {\"metadata.a\": {\"$exists\": true}}, \"then\": \"x\"}], \"default\": \"x\"},\n \"targets\": [{\"name\": \"x\", \"provider\": \"openai\", \"override_params\": {\"model\": \"m\"}}]}",
            "c.json:1:79: config.strategy.conditions[0].query.metadata.a: unsupported operator \"$exists\"",
        ),
        (
            "portkey",
            "c.json",
            "{\"strategy\": {\"mode\": \"conditional\", \"conditions\": [{\"query\": {}, \"then\": \"y\"}], \"default\": \"x\"},\n \"targets\": [{\"name\": \"x\", \"provider\": \"openai\", \"override_params\": {\"model\": \"m\"}}]}",
            "c.json:1:75: config.strategy.conditions[0].then: no target is named \"y\" (Portkey fails the request); targets: x",
        ),
        (
            "portkey",
            "c.json",
            "{\"strategy\": {\"mode\": \"roundrobin\"}, \"targets\": [{}]}",
            "c.json:1:23: config.strategy.mode: expected single, fallback, loadbalance or conditional, found \"roundrobin\"",
        ),
        (
            "portkey",
            "c.json",
            "{\"retry\": {\"attempts\": 3}}",
            "c.json:1:1: config names no model (no override_params.model), so it sends each request's own model, and its route has no other",
        ),
        (
            "portkey",
            "c.json",
            "{\"a\": 1,}",
            "c.json:1:9: invalid JSON: expected a key in double quotes",
        ),
    ];
    for (gw, name, text, want) in cases {
        let (code, err, written) = import_bad(gw, name, text, None);
        assert_eq!(code, Some(1), "{text}\n{err}");
        assert!(err.contains(want), "want {want:?} in:\n{err}");
        assert!(!written, "{text}: an output file was written");
    }
    // A deployment the dataset has no column for.
    let dir = common::fixture("config_import/litellm");
    let (code, err, written) = import_bad(
        "litellm",
        "c.yaml",
        "model_list:\n  - model_name: nowhere\n    litellm_params:\n      model: openai/gpt-5\n",
        Some(&dir),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("c.yaml:2:5: model_list[0] (group nowhere, openai/gpt-5): the dataset has no column for this deployment; tried \"nowhere\", \"openai/gpt-5\", \"gpt-5\""),
        "{err}"
    );
    assert!(!written);
}

// ---------------------------------------------------------------------------------
// Property: random Portkey conditions decide as conditionalRouter.ts does.

use proptest::prelude::*;

/// A JSON value of a query literal, in the test's own representation.
#[derive(Debug, Clone, PartialEq)]
enum J {
    S(String),
    N(f64),
    B(bool),
    Null,
    L(Vec<J>),
}

impl J {
    fn json(&self) -> String {
        match self {
            J::S(s) => format!("{s:?}"),
            J::N(x) => format!("{x}"),
            J::B(b) => b.to_string(),
            J::Null => "null".into(),
            J::L(v) => format!("[{}]", v.iter().map(J::json).collect::<Vec<_>>().join(", ")),
        }
    }
}

#[derive(Debug, Clone)]
enum Q {
    /// key → bare literal
    Eq(usize, J),
    /// key → { op: literal, … }
    Ops(usize, Vec<(&'static str, J)>),
    And(Vec<Vec<Q>>),
    Or(Vec<Vec<Q>>),
}

/// Query keys: (key, dataset column, holds numbers).
const KEYS: [(&str, &str, bool); 6] = [
    ("metadata.a", "meta.a", false),
    ("metadata.b", "meta.b", false),
    ("params.n", "meta.param_n", true),
    ("params.model", "meta.asked_model", false),
    ("url.pathname", "meta.url_pathname", false),
    ("foo.bar", "", false),
];
const STRS: [&str; 5] = ["x", "y", "10", "2", "undefined"];
const NUMS: [f64; 4] = [1.0, 5.0, 10.0, 2.5];
const PATTERNS: [&str; 5] = ["^x", "10$", "undef", "^2", "."];

fn query_json(q: &[Q]) -> String {
    let mut parts = Vec::new();
    let mut used = Vec::new();
    for c in q {
        let (k, v) = match c {
            Q::Eq(k, v) => (KEYS[*k].0.to_string(), v.json()),
            Q::Ops(k, ops) => (
                KEYS[*k].0.to_string(),
                format!(
                    "{{{}}}",
                    ops.iter()
                        .map(|(o, v)| format!("\"{o}\": {}", v.json()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Q::And(v) | Q::Or(v) => (
                if matches!(c, Q::And(_)) {
                    "$and"
                } else {
                    "$or"
                }
                .to_string(),
                format!(
                    "[{}]",
                    v.iter()
                        .map(|x| query_json(x))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        };
        if used.contains(&k) {
            continue; // a key once per object
        }
        used.push(k.clone());
        parts.push(format!("\"{k}\": {v}"));
    }
    format!("{{{}}}", parts.join(", "))
}

/// A request's context: per key, its JSON value (None = undefined).
type Ctx = Vec<Option<J>>;

fn strict_eq(a: &Option<J>, b: &J) -> bool {
    match (a, b) {
        (Some(J::S(x)), J::S(y)) => x == y,
        (Some(J::N(x)), J::N(y)) => x == y,
        (Some(J::B(x)), J::B(y)) => x == y,
        _ => false, // undefined, null, lists: never strictly equal here
    }
}

fn js_string(v: &Option<J>) -> String {
    match v {
        None => "undefined".into(),
        Some(J::S(s)) => s.clone(),
        Some(J::N(x)) => format!("{x}"),
        Some(J::B(b)) => b.to_string(),
        Some(J::Null) => "null".into(),
        Some(J::L(_)) => unreachable!(),
    }
}

fn parse_float(v: &Option<J>) -> f64 {
    match v {
        Some(J::N(x)) => *x,
        Some(J::S(s)) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// conditionalRouter.ts `evaluateQuery`, written out plainly.
fn eval(q: &[Q], ctx: &Ctx) -> bool {
    let mut used = Vec::new();
    for c in q {
        let key = match c {
            Q::Eq(k, _) | Q::Ops(k, _) => KEYS[*k].0,
            Q::And(_) => "$and",
            Q::Or(_) => "$or",
        };
        if used.contains(&key) {
            continue;
        }
        used.push(key);
        match c {
            Q::Or(v) => return v.iter().any(|x| eval(x, ctx)),
            Q::And(v) => return v.iter().all(|x| eval(x, ctx)),
            Q::Eq(k, lit) => {
                if !strict_eq(&ctx[*k], lit) {
                    return false;
                }
            }
            Q::Ops(k, ops) => {
                let val = &ctx[*k];
                'ops: for (op, cmp) in ops {
                    let ok = match *op {
                        "$eq" => strict_eq(val, cmp),
                        "$ne" => !strict_eq(val, cmp),
                        "$gt" => parse_float(val) > parse_float(&Some(cmp.clone())),
                        "$gte" => parse_float(val) >= parse_float(&Some(cmp.clone())),
                        "$lt" => parse_float(val) < parse_float(&Some(cmp.clone())),
                        "$lte" => parse_float(val) <= parse_float(&Some(cmp.clone())),
                        "$in" => matches!(cmp, J::L(l) if l.iter().any(|x| strict_eq(val, x))),
                        "$nin" => matches!(cmp, J::L(l) if !l.iter().any(|x| strict_eq(val, x))),
                        "$regex" => {
                            let J::S(p) = cmp else { unreachable!() };
                            let r = regex::Regex::new(p).unwrap().is_match(&js_string(val));
                            if !r {
                                return false;
                            }
                            break 'ops; // returns at once
                        }
                        _ => unreachable!(),
                    };
                    if !ok {
                        return false;
                    }
                }
            }
        }
    }
    true
}

fn lit(numeric_key: bool) -> BoxedStrategy<J> {
    if numeric_key {
        // Request parameters are numbers here; a string literal would compare a
        // number with its text, which routesim cannot tell apart (documented).
        prop_oneof![
            prop::sample::select(NUMS.to_vec()).prop_map(J::N),
            Just(J::Null)
        ]
        .boxed()
    } else {
        prop_oneof![
            4 => prop::sample::select(STRS.to_vec()).prop_map(|s| J::S(s.into())),
            1 => prop::sample::select(NUMS.to_vec()).prop_map(J::N),
            1 => any::<bool>().prop_map(J::B),
            1 => Just(J::Null),
        ]
        .boxed()
    }
}

fn op(numeric_key: bool) -> BoxedStrategy<(&'static str, J)> {
    let l = lit(numeric_key);
    let cmp_num = prop_oneof![
        prop::sample::select(NUMS.to_vec()).prop_map(J::N),
        prop::sample::select(vec!["5", "2", "x"]).prop_map(|s| J::S(s.into())),
    ];
    prop_oneof![
        (prop::sample::select(vec!["$eq", "$ne"]), l.clone()).prop_map(|(o, v)| (o, v)),
        (
            prop::sample::select(vec!["$gt", "$gte", "$lt", "$lte"]),
            cmp_num
        )
            .prop_map(|(o, v)| (o, v)),
        (
            prop::sample::select(vec!["$in", "$nin"]),
            prop_oneof![
                3 => prop::collection::vec(l.clone(), 0..3).prop_map(J::L),
                1 => l,
            ]
        )
            .prop_map(|(o, v)| (o, v)),
        prop::sample::select(PATTERNS.to_vec()).prop_map(|p| ("$regex", J::S(p.into()))),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Q> {
    (0..KEYS.len())
        .prop_flat_map(|k| {
            let numeric = KEYS[k].2;
            prop_oneof![
                lit(numeric).prop_map(move |v| Q::Eq(k, v)),
                prop::collection::vec(op(numeric), 0..3).prop_map(move |ops| {
                    let mut seen = Vec::new();
                    let ops: Vec<_> = ops
                        .into_iter()
                        .filter(|(o, _)| {
                            let fresh = !seen.contains(o);
                            seen.push(*o);
                            fresh
                        })
                        .collect();
                    Q::Ops(k, ops)
                }),
            ]
        })
        .boxed()
}

fn query() -> impl Strategy<Value = Vec<Q>> {
    let inner = prop::collection::vec(leaf(), 1..3);
    prop::collection::vec(
        prop_oneof![
            4 => leaf(),
            1 => prop::collection::vec(inner.clone(), 0..3).prop_map(Q::And),
            1 => prop::collection::vec(inner, 0..3).prop_map(Q::Or),
        ],
        1..4,
    )
}

fn context() -> impl Strategy<Value = Ctx> {
    (
        prop::option::of(prop::sample::select(STRS.to_vec())),
        prop::option::of(prop::sample::select(STRS.to_vec())),
        prop::option::of(prop::sample::select(NUMS.to_vec())),
        prop::option::of(prop::sample::select(vec!["m1", "x"])),
        prop::option::of(prop::sample::select(vec!["/v1/embeddings", "x10"])),
    )
        .prop_map(|(a, b, n, m, u)| {
            vec![
                a.map(|s| J::S(s.into())),
                b.map(|s| J::S(s.into())),
                n.map(J::N),
                m.map(|s| J::S(s.into())),
                u.map(|s| J::S(s.into())),
                None,
            ]
        })
}

fn decide(q1: &[Q], q2: &[Q], ctxs: &[Ctx]) -> (Vec<String>, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut req = String::from(
        "id,ts,input,input_tokens,meta.a,meta.b,meta.param_n,meta.asked_model,meta.url_pathname\n",
    );
    let mut resp = String::from("request_id,model,sample,status,output_tokens,latency_ms\n");
    for (i, c) in ctxs.iter().enumerate() {
        let cell = |v: &Option<J>| match v {
            None => String::new(),
            Some(J::S(s)) => s.clone(),
            Some(J::N(x)) => format!("{x}"),
            _ => unreachable!(),
        };
        req.push_str(&format!(
            "q{i},2025-01-06T10:00:{:02}Z,text {i},10,{},{},{},{},{}\n",
            i % 60,
            cell(&c[0]),
            cell(&c[1]),
            cell(&c[2]),
            cell(&c[3]),
            cell(&c[4])
        ));
        for m in ["p/a", "p/b", "p/c"] {
            resp.push_str(&format!("q{i},{m},0,ok,5,100\n"));
        }
    }
    std::fs::write(d.join("requests.csv"), req).unwrap();
    std::fs::write(d.join("responses.csv"), resp).unwrap();
    std::fs::write(
        d.join("dataset.toml"),
        "name = \"prop\"\nrequests = \"requests.csv\"\nresponses = [\"responses.csv\"]\npricing = [\"pricing.toml\"]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pricing.toml"),
        "[models.\"p/a\"]\ninput_per_mtok = 1\noutput_per_mtok = 1\n[models.\"p/b\"]\ninput_per_mtok = 1\noutput_per_mtok = 1\n[models.\"p/c\"]\ninput_per_mtok = 1\noutput_per_mtok = 1\n",
    )
    .unwrap();
    let config = format!(
        "{{\"strategy\": {{\"mode\": \"conditional\", \"conditions\": [{{\"query\": {}, \"then\": \"A\"}}, {{\"query\": {}, \"then\": \"B\"}}], \"default\": \"C\"}},\n\"targets\": [{{\"name\": \"A\", \"provider\": \"p\", \"override_params\": {{\"model\": \"a\"}}}}, {{\"name\": \"B\", \"provider\": \"p\", \"override_params\": {{\"model\": \"b\"}}}}, {{\"name\": \"C\", \"provider\": \"p\", \"override_params\": {{\"model\": \"c\"}}}}]}}",
        query_json(q1),
        query_json(q2)
    );
    let cfile = d.join("config.json");
    std::fs::write(&cfile, &config).unwrap();
    let (text, _) = import(ConfigGateway::Portkey, &cfile, Some(d));
    let t = simulate(&text, d);
    let got: Vec<String> = t
        .policy_rows(0)
        .iter()
        .map(|r| match r.rule {
            DEFAULT_RULE => "default".to_string(),
            i => t.rule_name(0, i).to_string(),
        })
        .collect();
    let want: Vec<String> = ctxs
        .iter()
        .map(|c| {
            if eval(q1, c) {
                "A".to_string()
            } else if eval(q2, c) {
                "B".to_string()
            } else {
                "default".to_string()
            }
        })
        .collect();
    (got, want)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn portkey_conditions_decide_as_the_gateway_does(
        q1 in query(),
        q2 in query(),
        ctxs in prop::collection::vec(context(), 1..12),
    ) {
        let (got, want) = decide(&q1, &q2, &ctxs);
        prop_assert_eq!(
            got,
            want,
            "queries {} / {}\ncontexts {:?}",
            query_json(&q1),
            query_json(&q2),
            ctxs
        );
    }
}
