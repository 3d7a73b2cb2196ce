//! LiteLLM proxy `config.yaml` → policy. Semantics follow LiteLLM's router (the
//! README table "Importing a gateway config" gives each setting's mapping):
//! a model group (`model_name`) becomes a rule on `meta.asked_model`; its
//! deployments are `[models]` aliases routed by `routing_strategy`; `fallbacks`
//! (and `default_fallbacks`, the `"*"` entry) are expanded the way LiteLLM recurses
//! through them (each fallback group's own fallbacks follow it, the group itself is
//! skipped, at most `max_fallbacks` deep); `num_retries`, `retry_policy`,
//! `retry_after`, `timeout`, cooldown settings and the cache go to `[gateway]`.
//! `router_settings` win over `litellm_settings`.

use super::emit::{
    CondOut, Kind, ModelOut, PolicyOut, RetriesOut, RouteOut, RuleOut, StratOut, Unmapped, ValOut,
    num,
};
use super::tree::{Doc, Node, Value};
use super::{ImportOptions, Imported, is_secret};
use crate::error::InputError;
use crate::policy::route::MAX_PLAN;
use std::collections::BTreeMap;

/// LiteLLM's `openai.DEFAULT_MAX_RETRIES`, used when `num_retries` is not set.
const DEFAULT_NUM_RETRIES: u64 = 2;
/// `DEFAULT_ALLOWED_FAILS`.
const DEFAULT_ALLOWED_FAILS: u64 = 3;
/// `DEFAULT_COOLDOWN_TIME_SECONDS`.
const DEFAULT_COOLDOWN_S: f64 = 5.0;
/// `ROUTER_MAX_FALLBACKS`.
const DEFAULT_MAX_FALLBACKS: u64 = 5;
/// `litellm.request_timeout` default, seconds.
const DEFAULT_TIMEOUT_S: f64 = 6000.0;

const STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
    "provider-budget-routing",
];

/// Connection settings of a deployment: not routing.
const CONNECTION: &[&str] = &[
    "api_key",
    "api_base",
    "base_url",
    "api_version",
    "custom_llm_provider",
    "region_name",
    "organization",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_region_name",
    "aws_session_token",
    "aws_profile_name",
    "aws_role_name",
    "vertex_project",
    "vertex_location",
    "vertex_credentials",
    "azure_ad_token",
    "tenant_id",
    "client_id",
    "client_secret",
    "use_in_pass_through",
    "drop_params",
    "extra_headers",
    "headers",
    "litellm_credential_name",
];

/// Test doubles of a deployment.
const MOCKS: &[&str] = &[
    "mock_response",
    "mock_delay",
    "mock_timeout",
    "mock_testing_fallbacks",
];

/// `litellm_settings` keys that are not routing.
const LITELLM_NOT_ROUTING: &[&str] = &[
    "callbacks",
    "success_callback",
    "failure_callback",
    "service_callback",
    "drop_params",
    "set_verbose",
    "json_logs",
    "turn_off_message_logging",
    "redact_user_api_key_info",
    "telemetry",
    "modify_params",
    "ssl_verify",
    "max_budget",
    "budget_duration",
    "default_team_settings",
    "upperbound_key_generate_params",
    "default_key_generate_params",
    "default_internal_user_params",
    "enable_preview_features",
    "force_ipv4",
    "cache_params",
    "num_retries",
    "request_timeout",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
    "allowed_fails",
    "cooldown_time",
    "cache",
    "retry_after",
    "max_fallbacks",
    "timeout",
    "disable_cooldowns",
    "retry_policy",
    "model_group_alias",
];

/// `router_settings` keys that are infrastructure, not routing.
const ROUTER_INFRA: &[&str] = &[
    "redis_host",
    "redis_port",
    "redis_password",
    "redis_url",
    "client_ttl",
    "cache_kwargs",
    "debug_level",
    "set_verbose",
    "polling_interval",
    "alerting_config",
    "router_general_settings",
];

/// Router settings this importer maps (read from either section).
const ROUTER_MAPPED: &[&str] = &[
    "routing_strategy",
    "routing_strategy_args",
    "num_retries",
    "retry_policy",
    "retry_after",
    "timeout",
    "request_timeout",
    "allowed_fails",
    "allowed_fails_policy",
    "cooldown_time",
    "disable_cooldowns",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
    "max_fallbacks",
    "enable_pre_call_checks",
    "optional_pre_call_checks",
    "model_group_alias",
    "default_max_parallel_requests",
    "cache",
    "cache_params",
];

/// One `model_list` entry.
#[derive(Debug, Clone)]
struct Dep {
    index: usize,
    alias: String,
    model: String,
    id: Option<String>,
    column: String,
    rpm: Option<u64>,
    tpm: Option<u64>,
    weight: Option<f64>,
    order: Option<i64>,
    max_parallel: Option<u64>,
    timeout_s: Option<f64>,
    price: Option<(f64, f64)>,
}

/// One model group: its deployments (indices into the list) in config order.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    deps: Vec<usize>,
}

struct Cx<'a> {
    doc: Doc,
    o: &'a ImportOptions,
    un: Vec<Unmapped>,
    /// Aggregated per-deployment listings: (kind, key, reason) → deployments.
    agg: BTreeMap<(Kind, String, String), usize>,
    router: Option<&'a Node>,
    litellm: Option<&'a Node>,
}

impl<'a> Cx<'a> {
    fn push(&mut self, kind: Kind, key: impl Into<String>, value: &str, reason: impl Into<String>) {
        let key = key.into();
        let value = if is_secret(&key) {
            String::new()
        } else {
            value.to_string()
        };
        self.un.push(Unmapped {
            kind,
            key,
            value,
            reason: reason.into(),
        });
    }

    fn push_node(
        &mut self,
        kind: Kind,
        key: impl Into<String>,
        n: &Node,
        reason: impl Into<String>,
    ) {
        let v = n.brief();
        self.push(kind, key, &v, reason);
    }

    /// A router setting: `router_settings` first, then `litellm_settings`.
    fn setting(&self, name: &str) -> Option<(&'static str, &'a Node)> {
        if let Some(n) = self.router.and_then(|r| r.get(name)) {
            return Some(("router_settings", n));
        }
        self.litellm
            .and_then(|r| r.get(name))
            .map(|n| ("litellm_settings", n))
    }

    /// A boolean setting (false when absent; a bad value is reported and counts as false).
    fn flag(&mut self, name: &str) -> bool {
        match self.setting(name) {
            Some((s, n)) => self.doc.boolean(n, &format!("{s}.{name}")).unwrap_or(false),
            None => false,
        }
    }
}

/// Import a LiteLLM `config.yaml`.
pub fn import(text: &str, o: &ImportOptions) -> Result<Imported, InputError> {
    let root = super::yaml::parse(&o.file, text)?;
    let mut cx = Cx {
        doc: Doc::new(&o.file),
        o,
        un: Vec::new(),
        agg: BTreeMap::new(),
        router: None,
        litellm: None,
    };
    let Some(top) = cx.doc.map(&root, "the config").map(|m| m.to_vec()) else {
        return Err(InputError::new(cx.doc.diags));
    };
    let mut model_list = None;
    for (k, v) in &top {
        match k.name.as_str() {
            "model_list" => model_list = Some(v),
            "router_settings" => {
                if cx.doc.map(v, "router_settings").is_some() {
                    cx.router = Some(root.get("router_settings").expect("present"));
                }
            }
            "litellm_settings" => {
                if cx.doc.map(v, "litellm_settings").is_some() {
                    cx.litellm = Some(root.get("litellm_settings").expect("present"));
                }
            }
            "general_settings" => {
                if let Some(m) = v.entries() {
                    for (gk, _) in m {
                        cx.push(
                            Kind::Ignored,
                            format!("general_settings.{}", gk.name),
                            "",
                            "proxy server setting, not routing",
                        );
                    }
                }
            }
            "environment_variables" => cx.push(
                Kind::Ignored,
                "environment_variables",
                "",
                "environment of the proxy, not routing",
            ),
            "finetune_settings"
            | "files_settings"
            | "assistant_settings"
            | "guardrails"
            | "mcp_servers"
            | "credential_list"
            | "vector_store_registry"
            | "search_tools" => cx.push(Kind::Ignored, k.name.clone(), "", "not a routing section"),
            other => cx.push_node(
                Kind::Unmapped,
                other,
                v,
                "not a LiteLLM config section routesim reads",
            ),
        }
    }
    if model_list.is_none() {
        let d = cx.doc.diag_at(
            1,
            1,
            "no model_list: a LiteLLM config lists its deployments under model_list",
        );
        return Err(InputError::one(d));
    }
    if let Some(cols) = &o.columns
        && !cols.meta_keys.iter().any(|k| k == "asked_model")
    {
        return Err(InputError::file(
            "--dataset",
            "the dataset has no meta.asked_model, and a LiteLLM router routes each request by the model group it asks for: import the dataset from a gateway log (routesim import), or add a meta.asked_model column",
        ));
    }
    let (deps, groups) = read_model_list(&mut cx, root.get("model_list").expect("present"));
    if !cx.doc.diags.is_empty() {
        return Err(InputError::new(cx.doc.diags));
    }
    if groups.is_empty() {
        cx.doc.err(
            root.get("model_list").expect("present"),
            "model_list: expected at least one deployment (model_name + litellm_params.model)",
        );
        return Err(InputError::new(cx.doc.diags));
    }
    let policy = build(&mut cx, &deps, &groups);
    if !cx.doc.diags.is_empty() {
        return Err(InputError::new(cx.doc.diags));
    }
    let pricing = pricing_text(&cx, &deps);
    if !o.pricing_out {
        for d in &deps {
            if let Some((i, p)) = d.price {
                cx.push(
                    Kind::Unmapped,
                    format!("model_list[{}].litellm_params.input_cost_per_token", d.index),
                    &format!("{} / {} per token", num(i), num(p)),
                    "a custom price is kept only in the pricing file: pass --pricing-out FILE (and --pricing FILE to run)",
                );
            }
        }
    }
    let Some(mut policy) = policy else {
        return Err(InputError::new(cx.doc.diags));
    };
    for ((kind, key, reason), n) in std::mem::take(&mut cx.agg) {
        let reason = if n == 1 {
            format!("{reason} (1 deployment)")
        } else {
            format!("{reason} ({n} deployments)")
        };
        cx.un.push(Unmapped {
            kind,
            key,
            value: String::new(),
            reason,
        });
    }
    let mut un = std::mem::take(&mut cx.un);
    un.sort_by_key(|u| u.kind);
    policy.unmapped = un;
    Ok(Imported { policy, pricing })
}

/// `model_list`: deployments and the groups they form, in config order.
fn read_model_list(cx: &mut Cx, ml: &Node) -> (Vec<Dep>, Vec<Group>) {
    let mut deps: Vec<Dep> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let Some(items) = cx.doc.seq(ml, "model_list") else {
        return (deps, groups);
    };
    for (i, e) in items.iter().enumerate() {
        let at = format!("model_list[{i}]");
        let Some(entries) = cx.doc.map(e, &at) else {
            continue;
        };
        let Some(name) = e.get("model_name") else {
            cx.doc.err(
                e,
                format!("{at}: missing model_name (the group clients ask for)"),
            );
            continue;
        };
        let Some(group) = cx
            .doc
            .string(name, &format!("{at}.model_name"))
            .map(str::to_string)
        else {
            continue;
        };
        let Some(lp) = e.get("litellm_params") else {
            cx.doc.err(
                e,
                format!("{at}: missing litellm_params (with model: provider/model)"),
            );
            continue;
        };
        if cx.doc.map(lp, &format!("{at}.litellm_params")).is_none() {
            continue;
        }
        let Some(model) = lp
            .get("model")
            .and_then(|m| cx.doc.string(m, &format!("{at}.litellm_params.model")))
            .map(str::to_string)
        else {
            if lp.get("model").is_none() {
                cx.doc.err(
                    lp,
                    format!("{at}.litellm_params: missing model (provider/model)"),
                );
            }
            continue;
        };
        let mut d = Dep {
            index: i,
            alias: String::new(),
            model,
            id: None,
            column: String::new(),
            rpm: None,
            tpm: None,
            weight: None,
            order: None,
            max_parallel: None,
            timeout_s: None,
            price: None,
        };
        // Entry-level keys.
        for (k, v) in entries {
            let key = format!("{at}.{}", k.name);
            match k.name.as_str() {
                "model_name" | "litellm_params" => {}
                "rpm" => d.rpm = cx.doc.count(v, &key),
                "tpm" => d.tpm = cx.doc.count(v, &key),
                "model_info" => read_model_info(cx, &at, v, &mut d),
                _ => cx.push_node(
                    Kind::Unmapped,
                    key,
                    v,
                    "not a deployment setting routesim reads",
                ),
            }
        }
        let mut in_cost = None;
        let mut out_cost = None;
        for (k, v) in lp.entries().unwrap_or(&[]) {
            let key = format!("{at}.litellm_params.{}", k.name);
            let kn = k.name.as_str();
            match kn {
                "model" => {}
                "rpm" => d.rpm = cx.doc.count(v, &key).or(d.rpm),
                "tpm" => d.tpm = cx.doc.count(v, &key).or(d.tpm),
                "weight" => d.weight = cx.doc.non_negative(v, &key),
                "order" => {
                    d.order = cx.doc.number(v, &key).map(|x| x as i64);
                }
                "max_parallel_requests" => d.max_parallel = cx.doc.count(v, &key),
                "timeout" => d.timeout_s = cx.doc.non_negative(v, &key),
                "input_cost_per_token" => in_cost = cx.doc.non_negative(v, &key),
                "output_cost_per_token" => out_cost = cx.doc.non_negative(v, &key),
                "stream_timeout" => cx.push_node(
                    Kind::Unmapped,
                    key,
                    v,
                    "routesim has one timeout per deployment, for streamed and plain calls alike (timeout is used)",
                ),
                "tags" | "tag_regex" => cx.push_node(
                    Kind::Unmapped,
                    key,
                    v,
                    "tag-based routing is not reproduced (requests are routed by their group alone)",
                ),
                "max_retries" => cx.push_node(
                    Kind::Unmapped,
                    key,
                    v,
                    "SDK-level retries inside one router attempt are not modelled",
                ),
                _ if MOCKS.contains(&kn) => {
                    *cx.agg
                        .entry((
                            Kind::Ignored,
                            format!("model_list[].litellm_params.{kn}"),
                            "test double: the dataset's recorded answers stand in for it".into(),
                        ))
                        .or_default() += 1;
                }
                _ if CONNECTION.contains(&kn) || is_secret(kn) => {
                    *cx.agg
                        .entry((
                            Kind::Ignored,
                            format!("model_list[].litellm_params.{kn}"),
                            "connection setting, not routing".into(),
                        ))
                        .or_default() += 1;
                }
                _ => cx.push_node(Kind::Unmapped, key, v, "not a deployment setting routesim reads"),
            }
        }
        match (in_cost, out_cost) {
            (Some(a), Some(b)) => d.price = Some((a, b)),
            (None, None) => {}
            _ => cx.push(
                Kind::Unmapped,
                format!("{at}.litellm_params.input_cost_per_token"),
                "",
                "a custom price needs both input_cost_per_token and output_cost_per_token",
            ),
        }
        if group == "*" || group.contains('*') || d.model.contains('*') {
            cx.push(
                Kind::Unmapped,
                format!("{at}.model_name"),
                &format!("{group:?}"),
                "wildcard deployment: it passes the asked model through, and routesim routes to dataset models by name; requests it would serve go to [default]",
            );
            continue;
        }
        match groups.iter_mut().find(|g| g.name == group) {
            Some(g) => g.deps.push(deps.len()),
            None => groups.push(Group {
                name: group,
                deps: vec![deps.len()],
            }),
        }
        deps.push(d);
    }
    // Aliases and dataset columns.
    for g in &groups {
        let single = g.deps.len() == 1;
        for (n, &di) in g.deps.iter().enumerate() {
            let d = &mut deps[di];
            d.alias = if single {
                g.name.clone()
            } else {
                match &d.id {
                    Some(id) => format!("{}#{id}", g.name),
                    None => format!("{}#{}", g.name, n + 1),
                }
            };
        }
    }
    let mut shared_warned = Vec::new();
    for g in &groups {
        let single = g.deps.len() == 1;
        for &di in &g.deps {
            let d = &deps[di];
            let mut cands = Vec::new();
            if let Some(id) = &d.id {
                cands.push(format!("{}@{id}", g.name));
            }
            cands.push(g.name.clone());
            cands.push(d.model.clone());
            if let Some((_, m)) = d.model.split_once('/') {
                cands.push(m.to_string());
            }
            let o = cx.o;
            let column = match &o.columns {
                None => g.name.clone(),
                Some(cols) => match cols.find(&cands) {
                    Some(c) => c,
                    None => {
                        let e = &ml.items().expect("list")[d.index];
                        let list = cands
                            .iter()
                            .map(|c| format!("\"{c}\""))
                            .collect::<Vec<_>>()
                            .join(", ");
                        cx.doc.err(
                            e,
                            format!(
                                "model_list[{}] (group {}, {}): the dataset has no column for this deployment; tried {list}",
                                d.index, g.name, d.model
                            ),
                        );
                        g.name.clone()
                    }
                },
            };
            deps[di].column = column;
        }
        if !single {
            let cols: Vec<&str> = g.deps.iter().map(|&i| deps[i].column.as_str()).collect();
            let mut uniq = cols.clone();
            uniq.sort();
            uniq.dedup();
            if uniq.len() < cols.len() && !shared_warned.contains(&g.name) {
                shared_warned.push(g.name.clone());
                cx.push(
                    Kind::Approx,
                    format!("model_list (group {})", g.name),
                    "",
                    format!(
                        "its {} deployments share one dataset column ({}): routesim cannot tell them apart, so its routing among them and their limits collapse to one model (import the log by deployment to keep them apart)",
                        cols.len(),
                        uniq.join(", ")
                    ),
                );
            }
        }
    }
    (deps, groups)
}

fn read_model_info(cx: &mut Cx, at: &str, v: &Node, d: &mut Dep) {
    let Some(m) = cx.doc.map(v, &format!("{at}.model_info")) else {
        return;
    };
    for (k, x) in m {
        let key = format!("{at}.model_info.{}", k.name);
        match k.name.as_str() {
            "id" => {
                d.id = match &x.value {
                    Value::Str(s) => Some(s.clone()),
                    Value::Int(i) => Some(i.to_string()),
                    _ => {
                        cx.doc.err(x, format!("{key}: expected a string"));
                        None
                    }
                }
            }
            "max_input_tokens" | "max_tokens" | "max_output_tokens" => cx.push_node(
                Kind::Unmapped,
                key,
                x,
                "routesim takes context windows from the price catalog (pricing.toml context_window)",
            ),
            "input_cost_per_token" | "output_cost_per_token" => cx.push_node(
                Kind::Unmapped,
                key,
                x,
                "price in model_info: give it in litellm_params, or in pricing.toml",
            ),
            _ => {
                *cx.agg
                    .entry((
                        Kind::Ignored,
                        format!("model_list[].model_info.{}", k.name),
                        "informational".into(),
                    ))
                    .or_default() += 1;
            }
        }
    }
}

/// A fallback list setting: `[{group: [fallback, …]}, …]` (a `"*"` key = any group).
fn fallback_map(cx: &mut Cx, name: &str, groups: &[Group]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let Some((section, n)) = cx.setting(name) else {
        return out;
    };
    let what = format!("{section}.{name}");
    let Some(items) = cx.doc.seq(n, &what) else {
        return out;
    };
    for it in items {
        let Some(m) = cx.doc.map(it, &what) else {
            continue;
        };
        for (k, v) in m {
            let Some(list) = cx.doc.seq(v, &format!("{what}.{}", k.name)) else {
                continue;
            };
            let mut fbs = Vec::new();
            for f in list {
                let Some(s) = cx.doc.string(f, &format!("{what}.{}", k.name)) else {
                    continue;
                };
                if groups.iter().any(|g| g.name == s) {
                    fbs.push(s.to_string());
                } else {
                    cx.push(
                        Kind::Unmapped,
                        format!("{what}.{}", k.name),
                        &format!("{s:?}"),
                        "not a model group of model_list: LiteLLM finds no deployment for it; left out",
                    );
                }
            }
            if k.name != "*" && !groups.iter().any(|g| g.name == k.name) {
                cx.push(
                    Kind::Unmapped,
                    format!("{what}.{}", k.name),
                    "",
                    "not a model group of model_list: never used",
                );
                continue;
            }
            out.push((k.name.clone(), fbs));
        }
    }
    out
}

/// The fallback groups LiteLLM tries for `g`, in order: each fallback group is
/// followed by its own fallbacks (`run_async_fallback` recursing through
/// `async_function_with_fallbacks`), the group itself is skipped, and no call starts
/// at a depth of `max` or more.
fn expand(map: &[(String, Vec<String>)], g: &str, depth: u64, max: u64, out: &mut Vec<String>) {
    if depth >= max {
        return;
    }
    let list = map
        .iter()
        .find(|(k, _)| k == g)
        .or_else(|| map.iter().rev().find(|(k, _)| k == "*"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut depth = depth;
    for f in list {
        if f == g {
            continue;
        }
        depth += 1;
        out.push(f.clone());
        expand(map, &f, depth, max, out);
    }
}

fn retries_default_on() -> Vec<&'static str> {
    vec!["429", "5xx", "timeout", "error"]
}

/// Settings read from either section: the unknown and the overridden are listed
/// (router_settings win over litellm_settings).
fn classify_settings(cx: &mut Cx) {
    let sections: Vec<(&'static str, &Node)> = [
        ("router_settings", cx.router),
        ("litellm_settings", cx.litellm),
    ]
    .into_iter()
    .filter_map(|(s, n)| n.map(|n| (s, n)))
    .collect();
    for (section, n) in &sections {
        for (k, v) in n.entries().unwrap_or(&[]) {
            let key = format!("{section}.{}", k.name);
            let kn = k.name.as_str();
            if *section == "litellm_settings"
                && let Some(r) = cx.router.and_then(|r| r.get(kn))
                && (ROUTER_MAPPED.contains(&kn) || ROUTER_INFRA.contains(&kn))
            {
                let reason = format!(
                    "overridden by router_settings.{kn} = {} (router_settings win)",
                    r.brief()
                );
                cx.push_node(Kind::Ignored, key, v, reason);
                continue;
            }
            if ROUTER_MAPPED.contains(&kn) {
                continue;
            }
            if ROUTER_INFRA.contains(&kn) {
                cx.push_node(Kind::Ignored, key, v, "infrastructure, not routing");
            } else if *section == "litellm_settings" && LITELLM_NOT_ROUTING.contains(&kn) {
                cx.push_node(Kind::Ignored, key, v, "not a routing setting");
            } else {
                let reason = match kn {
                    "model_group_retry_policy" => {
                        "per-group retry policies are not reproduced (the global retries apply)"
                    }
                    "enable_tag_filtering" | "tag_filtering_match_any" => {
                        "tag-based routing is not reproduced (requests are routed by their group alone)"
                    }
                    "provider_budget_config" | "routing_groups" => {
                        "budget routing per provider is not reproduced"
                    }
                    "stream_timeout" => {
                        "routesim has one timeout for streamed and plain calls (timeout is used)"
                    }
                    _ => "not a router setting routesim reads",
                };
                cx.push_node(Kind::Unmapped, key, v, reason);
            }
        }
    }
}

/// The cooldown: LiteLLM's legacy `allowed_fails` form, its default (a 429 cools a
/// deployment of a multi-deployment group down), or none. `None` on a bad value.
fn cooldown(cx: &mut Cx, groups: &[Group]) -> Option<Option<String>> {
    let cooldown_s = match cx.setting("cooldown_time") {
        Some((s, n)) => cx.doc.non_negative(n, &format!("{s}.cooldown_time"))?,
        None => DEFAULT_COOLDOWN_S,
    };
    let disable = cx.flag("disable_cooldowns");
    let allowed_fails = match cx.setting("allowed_fails") {
        Some((s, n)) => Some(cx.doc.count(n, &format!("{s}.allowed_fails"))?),
        None => None,
    };
    let policy_set = cx.setting("allowed_fails_policy");
    let mut cooldown = None;
    if !disable {
        let legacy =
            allowed_fails.is_some_and(|a| a != DEFAULT_ALLOWED_FAILS) || policy_set.is_some();
        if legacy {
            let a = allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS);
            cooldown = Some(format!(
                "{{ allowed_fails = {a}, window_s = 60, cooldown_s = {}, on = [\"429\", \"5xx\", \"timeout\", \"4xx\", \"error\"] }}",
                num(cooldown_s.max(0.001))
            ));
            if let Some((s, n)) = policy_set {
                cx.push_node(
                    Kind::Approx,
                    format!("{s}.allowed_fails_policy"),
                    n,
                    format!("allowed failures per error class are not reproduced: every failure counts against allowed_fails = {a}"),
                );
            }
        } else if groups.iter().all(|g| g.deps.len() > 1) {
            cooldown = Some(format!(
                "{{ allowed_fails = 0, window_s = 60, cooldown_s = {}, on = [\"429\"] }}",
                num(cooldown_s.max(0.001))
            ));
            cx.push(
                Kind::Approx,
                "router_settings.allowed_fails",
                "",
                "LiteLLM's default cooldown: a 429 cools a deployment down at once (reproduced); so does a minute with more than 50% failures over 5 or more calls, or a non-retryable error (not reproduced)",
            );
        } else {
            cx.push(
                Kind::Unmapped,
                "router_settings.allowed_fails",
                "",
                "LiteLLM's default cooldown (a 429 on a group of several deployments, more than 50% failures in a minute, a non-retryable error; single-deployment groups mostly exempt) has no routesim equivalent: no cooldown",
            );
        }
    }
    Some(cooldown)
}

/// An exact cache when `cache` is on (and the dataset has request text).
fn cache(cx: &mut Cx) -> Option<String> {
    let mut cache = None;
    if let Some((s, n)) = cx.setting("cache") {
        let on = cx.doc.boolean(n, &format!("{s}.cache")).unwrap_or(false);
        if on {
            let mut ttl = None;
            if let Some((ps, p)) = cx.setting("cache_params")
                && let Some(m) = cx.doc.map(p, &format!("{ps}.cache_params"))
            {
                for (k, v) in m {
                    let key = format!("{ps}.cache_params.{}", k.name);
                    match k.name.as_str() {
                        "ttl" => ttl = cx.doc.non_negative(v, &key),
                        "type"
                        | "host"
                        | "port"
                        | "password"
                        | "namespace"
                        | "redis_startup_nodes" => {
                            cx.push_node(Kind::Ignored, key, v, "cache backend, not routing")
                        }
                        _ => cx.push_node(
                            Kind::Unmapped,
                            key,
                            v,
                            "cache setting not reproduced (an exact cache of every call)",
                        ),
                    }
                }
            }
            let ttl = match ttl {
                Some(t) if t > 0.0 => t,
                _ => {
                    cx.push(
                        Kind::Approx,
                        format!("{s}.cache_params.ttl"),
                        "",
                        "no ttl: routesim keeps cached answers for one day",
                    );
                    86_400.0
                }
            };
            if cx.o.columns.as_ref().is_some_and(|c| !c.has_text) {
                cx.push(
                    Kind::Unmapped,
                    format!("{s}.cache"),
                    "true",
                    "the dataset has no request text, and an exact cache needs it: no cache",
                );
            } else {
                cache = Some(format!("{{ kind = \"exact\", ttl_s = {} }}", num(ttl)));
            }
        }
    }
    cache
}

/// `model_group_alias` entries that name a group of model_list.
fn group_aliases(cx: &mut Cx, groups: &[Group]) -> Vec<(String, String)> {
    let mut aliases: Vec<(String, String)> = Vec::new();
    if let Some((s, n)) = cx.setting("model_group_alias") {
        let what = format!("{s}.model_group_alias");
        if let Some(m) = cx.doc.map(n, &what) {
            for (k, v) in m {
                let target = match &v.value {
                    Value::Str(t) => Some(t.clone()),
                    Value::Map(_) => v.get("model").and_then(|x| x.as_str()).map(str::to_string),
                    _ => None,
                };
                match target {
                    Some(t) if groups.iter().any(|g| g.name == t) => {
                        aliases.push((k.name.clone(), t))
                    }
                    Some(t) => cx.push(
                        Kind::Unmapped,
                        format!("{what}.{}", k.name),
                        &format!("{t:?}"),
                        "not a model group of model_list: left out",
                    ),
                    None => cx.doc.err(
                        v,
                        format!(
                            "{what}.{}: expected a group name or {{model: group}}",
                            k.name
                        ),
                    ),
                }
            }
        }
    }
    aliases
}

/// The policy.
fn build(cx: &mut Cx, deps: &[Dep], groups: &[Group]) -> Option<PolicyOut> {
    classify_settings(cx);

    // Routing strategy.
    let strategy = match cx.setting("routing_strategy") {
        None => "simple-shuffle".to_string(),
        Some((section, n)) => {
            let what = format!("{section}.routing_strategy");
            let s = cx.doc.string(n, &what)?.to_string();
            if !STRATEGIES.contains(&s.as_str()) {
                cx.doc.err(
                    n,
                    format!(
                        "{what}: expected one of {}, found \"{s}\"",
                        STRATEGIES.join(", ")
                    ),
                );
                return None;
            }
            s
        }
    };
    let multi = groups.iter().any(|g| g.deps.len() > 1);
    let mut buffer = 0.0;
    if let Some((section, args)) = cx.setting("routing_strategy_args")
        && let Some(m) = cx
            .doc
            .map(args, &format!("{section}.routing_strategy_args"))
    {
        for (k, v) in m {
            let key = format!("{section}.routing_strategy_args.{}", k.name);
            if strategy == "latency-based-routing" && k.name == "lowest_latency_buffer" {
                buffer = cx.doc.non_negative(v, &key).unwrap_or(0.0);
            } else if strategy == "latency-based-routing" && k.name == "ttl" {
                cx.push_node(
                    Kind::Approx,
                    key,
                    v,
                    "LiteLLM remembers latencies for ttl seconds; routesim's lowest_latency remembers the last 10 calls per model",
                );
            } else {
                cx.push_node(
                    Kind::Unmapped,
                    key,
                    v,
                    format!("not used by routing_strategy {strategy}"),
                );
            }
        }
    }
    if multi {
        match strategy.as_str() {
            "simple-shuffle" => cx.push(
                Kind::Approx,
                "router_settings.routing_strategy",
                "\"simple-shuffle\"",
                "LiteLLM picks one deployment by weight for each try (a retry picks again); routesim's shuffle tries the group's deployments in one weighted random order, moving to the next on a failure",
            ),
            "cost-based-routing" => cx.push(
                Kind::Approx,
                "router_settings.routing_strategy",
                "\"cost-based-routing\"",
                "LiteLLM picks the deployment with the lowest listed price per token; routesim's cheapest picks the lowest mean cost per request, estimated on other requests",
            ),
            "latency-based-routing" => {}
            "provider-budget-routing" => cx.push(
                Kind::Unmapped,
                "router_settings.routing_strategy",
                "\"provider-budget-routing\"",
                "provider budgets are not reproduced: deployments are shuffled (simple-shuffle)",
            ),
            _ => {}
        }
    }

    // Pre-call checks and rate limits.
    let pre_call = cx.flag("enable_pre_call_checks");
    let mut enforce_limits = strategy.starts_with("usage-based");
    if let Some((s, n)) = cx.setting("optional_pre_call_checks") {
        let what = format!("{s}.optional_pre_call_checks");
        if let Some(items) = cx.doc.seq(n, &what) {
            for it in items {
                match it.as_str() {
                    Some("enforce_model_rate_limits") => enforce_limits = true,
                    _ => cx.push_node(
                        Kind::Unmapped,
                        what.clone(),
                        it,
                        "pre-call check not reproduced",
                    ),
                }
            }
        }
    }
    let default_parallel = match cx.setting("default_max_parallel_requests") {
        Some((s, n)) => cx
            .doc
            .count(n, &format!("{s}.default_max_parallel_requests")),
        None => None,
    };

    // Fallback settings.
    let fallbacks = {
        let mut f = fallback_map(cx, "fallbacks", groups);
        if let Some((s, n)) = cx.setting("default_fallbacks") {
            let what = format!("{s}.default_fallbacks");
            if let Some(items) = cx.doc.seq(n, &what) {
                let mut list = Vec::new();
                for it in items {
                    if let Some(g) = cx.doc.string(it, &what) {
                        if groups.iter().any(|x| x.name == g) {
                            list.push(g.to_string());
                        } else {
                            cx.push_node(
                                Kind::Unmapped,
                                what.clone(),
                                it,
                                "not a model group of model_list: left out",
                            );
                        }
                    }
                }
                f.push(("*".to_string(), list));
            }
        }
        f
    };
    let cw_fallbacks = fallback_map(cx, "context_window_fallbacks", groups);
    if let Some((s, n)) = cx.setting("content_policy_fallbacks") {
        cx.push_node(
            Kind::Unmapped,
            format!("{s}.content_policy_fallbacks"),
            n,
            "routesim has no content-policy failure class (a content-policy refusal is a 400): not reproduced",
        );
    }
    let max_fallbacks = match cx.setting("max_fallbacks") {
        Some((s, n)) => cx.doc.count(n, &format!("{s}.max_fallbacks"))?,
        None => DEFAULT_MAX_FALLBACKS,
    };
    let any_fallbacks = fallbacks.iter().any(|(_, v)| !v.is_empty());

    // Retries.
    let (num_retries, retries_note) = match cx.setting("num_retries") {
        Some((s, n)) => (cx.doc.count(n, &format!("{s}.num_retries"))?, String::new()),
        None => (
            DEFAULT_NUM_RETRIES,
            "num_retries not set: LiteLLM's default (openai.DEFAULT_MAX_RETRIES = 2)".to_string(),
        ),
    };
    let mut counts: Vec<(&'static str, u64)> = retries_default_on()
        .into_iter()
        .map(|c| (c, num_retries))
        .collect();
    counts.push(("4xx", 0));
    let mut policy_429 = false;
    if let Some((s, n)) = cx.setting("retry_policy") {
        let what = format!("{s}.retry_policy");
        if let Some(m) = cx.doc.map(n, &what) {
            for (k, v) in m {
                let key = format!("{what}.{}", k.name);
                let Some(c) = cx.doc.count(v, &key) else {
                    continue;
                };
                let class = match k.name.as_str() {
                    "RateLimitErrorRetries" => {
                        policy_429 = true;
                        "429"
                    }
                    "TimeoutErrorRetries" => "timeout",
                    "InternalServerErrorRetries" => "5xx",
                    "BadRequestErrorRetries"
                    | "AuthenticationErrorRetries"
                    | "ContentPolicyViolationErrorRetries" => "4xx",
                    _ => {
                        cx.push_node(
                            Kind::Unmapped,
                            key,
                            v,
                            "not a RetryPolicy field routesim knows",
                        );
                        continue;
                    }
                };
                let e = counts.iter_mut().find(|(n, _)| *n == class).expect("class");
                if class == "4xx" {
                    if c > 0 {
                        e.1 = e.1.max(c);
                        cx.push_node(
                            Kind::Approx,
                            key,
                            v,
                            "routesim retries every 4xx alike (one class for bad-request, authentication and content-policy errors)",
                        );
                    }
                } else {
                    e.1 = c;
                }
            }
        }
    }
    let retried: Vec<(&'static str, u64)> =
        counts.iter().copied().filter(|(_, c)| *c > 0).collect();
    let max = retried.iter().map(|(_, c)| *c).max().unwrap_or(0);
    let fewer: Vec<String> = retried
        .iter()
        .filter(|(_, c)| *c < max)
        .map(|(n, c)| format!("{n} ({c})"))
        .collect();
    if !fewer.is_empty() {
        cx.push(
            Kind::Approx,
            "router_settings.retry_policy",
            "",
            format!(
                "routesim retries every retried class the same number of times ({max}); LiteLLM fewer for {}",
                fewer.join(", ")
            ),
        );
    }
    let mut on: Vec<&'static str> = retried.iter().map(|(n, _)| *n).collect();
    // LiteLLM does not retry a rate-limit error when the group has no other healthy
    // deployment and the router has fallbacks, unless a retry policy covers it.
    let no_429_single = any_fallbacks && !policy_429 && on.contains(&"429");
    let all_single = groups.iter().all(|g| g.deps.len() == 1);
    if no_429_single && all_single {
        on.retain(|c| *c != "429");
    }
    let max_u32 = max.min(crate::policy::gateway::MAX_RETRIES as u64) as u32;
    if max > crate::policy::gateway::MAX_RETRIES as u64 {
        cx.push(
            Kind::Approx,
            "router_settings.num_retries",
            &max.to_string(),
            format!(
                "routesim retries at most {} times",
                crate::policy::gateway::MAX_RETRIES
            ),
        );
    }
    let retry_after = match cx.setting("retry_after") {
        Some((s, n)) => cx.doc.non_negative(n, &format!("{s}.retry_after"))?,
        None => 0.0,
    };
    if max_u32 >= 3 {
        cx.push(
            Kind::Approx,
            "router_settings.num_retries",
            &num_retries.to_string(),
            format!(
                "LiteLLM waits int(0.5·2^n·jitter) s before retry n+1 without a retry-after header (0, 0, 1, 3, 6 s …, at least retry_after); routesim waits retry_after ({} s) before each",
                num(retry_after)
            ),
        );
    }
    if retry_after > 0.0 && max_u32 > 0 {
        cx.push(
            Kind::Approx,
            "router_settings.retry_after",
            &num(retry_after),
            "a provider's retry-after header of 60 s or less replaces LiteLLM's wait; routesim waits the longer of the two",
        );
    }
    if max_u32 > 0 {
        cx.push(
            Kind::Approx,
            "router_settings.num_retries",
            &num_retries.to_string(),
            "LiteLLM retries only while the group has a healthy deployment (none cooling down) and not 4xx other than 408/409/429 (408 is a timeout here; 409 is not retried); routesim retries regardless of cooldowns",
        );
    }
    let gw_retries = RetriesOut {
        max: max_u32,
        backoff_ms: retry_after * 1000.0,
        multiplier: 1.0,
        max_backoff_ms: 60_000.0,
        on: on.clone(),
        honor_retry_after: true,
    };
    let single_retries = if no_429_single && !all_single {
        let mut r = gw_retries.clone();
        r.on.retain(|c| *c != "429");
        Some(r)
    } else {
        None
    };

    // Timeouts.
    let (timeout_s, timeout_note) = match cx
        .setting("timeout")
        .or_else(|| cx.setting("request_timeout"))
    {
        Some((s, n)) => (
            cx.doc.non_negative(n, &format!("{s}.timeout"))?,
            String::new(),
        ),
        None => (
            DEFAULT_TIMEOUT_S,
            "timeout not set: LiteLLM's default litellm.request_timeout = 6000 s".to_string(),
        ),
    };
    if cx.setting("timeout").is_some()
        && let Some(n) = cx.litellm.and_then(|l| l.get("request_timeout"))
        && cx.router.and_then(|r| r.get("request_timeout")).is_none()
    {
        cx.push_node(
            Kind::Ignored,
            "litellm_settings.request_timeout",
            n,
            "overridden by the router's timeout",
        );
    }

    let cooldown = cooldown(cx, groups)?;

    let cache = cache(cx);

    let aliases = group_aliases(cx, groups);

    // Deployments.
    let mut models = Vec::new();
    for g in groups {
        for &di in &g.deps {
            let d = &deps[di];
            let limits = enforce_limits;
            let retries = (single_retries.is_some() && g.deps.len() == 1)
                .then(|| single_retries.clone().expect("set"));
            models.push(ModelOut {
                alias: d.alias.clone(),
                model: d.column.clone(),
                rpm: if limits { d.rpm } else { None },
                tpm: if limits { d.tpm } else { None },
                max_concurrency: d.max_parallel.or(default_parallel),
                retries,
                timeout_ms: d
                    .timeout_s
                    .map(|t| t * 1000.0)
                    .filter(|t| *t != timeout_s * 1000.0),
                comment: d.model.clone(),
            });
        }
    }
    if single_retries.is_some() {
        cx.push(
            Kind::Approx,
            "router_settings.fallbacks",
            "",
            "LiteLLM does not retry a 429 of a group without another healthy deployment when the router has fallbacks: reproduced for single-deployment groups (their [models] retries leave out 429), not for groups whose other deployments are all cooling down",
        );
    } else if no_429_single && all_single {
        cx.push(
            Kind::Approx,
            "router_settings.fallbacks",
            "",
            "LiteLLM does not retry a 429 of a group without another healthy deployment when the router has fallbacks: every group has one deployment, so 429 is left out of retries",
        );
    }

    // Routes.
    let dep_of = |alias: &str| deps.iter().find(|d| d.alias == alias).expect("alias");
    let mut rules = Vec::new();
    let mut cw_mixed = false;
    // Per group: the deployments tried first, then those of higher `order`.
    let mut tiers: Vec<(Vec<&Dep>, Vec<&Dep>)> = Vec::new();
    for g in groups {
        let gdeps: Vec<&Dep> = g.deps.iter().map(|&i| &deps[i]).collect();
        let uses_order = gdeps.iter().any(|d| d.order.is_some());
        if pre_call && uses_order {
            let min = gdeps
                .iter()
                .map(|d| d.order.unwrap_or(i64::MAX))
                .min()
                .unwrap_or(0);
            let (p, mut rest): (Vec<&Dep>, Vec<&Dep>) = gdeps
                .iter()
                .partition(|d| d.order.unwrap_or(i64::MAX) == min);
            rest.sort_by_key(|d| d.order.unwrap_or(i64::MAX));
            if !rest.is_empty() {
                cx.push(
                    Kind::Approx,
                    format!("model_list (group {}).order", g.name),
                    "",
                    "LiteLLM moves to a higher order only when the lower ones are unavailable (cooling down, rate-limited); routesim tries them as fallbacks after a failure",
                );
            }
            tiers.push((p, rest));
        } else {
            if uses_order {
                cx.push(
                    Kind::Ignored,
                    format!("model_list (group {}).litellm_params.order", g.name),
                    "",
                    "LiteLLM uses order only with enable_pre_call_checks: true",
                );
            }
            tiers.push((gdeps, Vec::new()));
        }
    }
    for (gi, g) in groups.iter().enumerate() {
        let (primary, by_order) = &tiers[gi];
        let strategy = group_strategy(cx, &strategy, g, primary, buffer);
        let mut fb: Vec<String> = by_order.iter().map(|d| d.alias.clone()).collect();
        let mut chain = Vec::new();
        expand(&fallbacks, &g.name, 0, max_fallbacks, &mut chain);
        let mut cw_chain = Vec::new();
        expand(&cw_fallbacks, &g.name, 0, max_fallbacks, &mut cw_chain);
        for fg in chain.iter().chain(cw_chain.iter()) {
            let fi = groups.iter().position(|x| &x.name == fg).expect("group");
            let (p, rest) = &tiers[fi];
            for d in p.iter().chain(rest.iter()) {
                fb.push(d.alias.clone());
            }
        }
        let fallback_on = match (chain.is_empty(), cw_chain.is_empty()) {
            (true, true) => None,
            (false, true) => Some(vec!["429", "5xx", "4xx", "timeout", "error", "gateway"]),
            (true, false) => Some(vec!["context_length"]),
            (false, false) => {
                cw_mixed = true;
                Some(vec!["any"])
            }
        };
        if fallback_on.is_none() && !by_order.is_empty() {
            // Order fallbacks alone: any failure moves on.
        }
        let mut route = RouteOut {
            strategy,
            fallbacks: Vec::new(),
            fallback_on: if fb.is_empty() {
                None
            } else {
                fallback_on.or(Some(vec!["any"]))
            },
        };
        let own: Vec<String> = route.models().iter().map(|s| s.to_string()).collect();
        let mut seen_cols: Vec<String> = own.iter().map(|a| dep_of(a).column.clone()).collect();
        for a in fb {
            let col = dep_of(&a).column.clone();
            if !seen_cols.contains(&col) {
                seen_cols.push(col);
                route.fallbacks.push(a);
            }
        }
        if route.models().len() > MAX_PLAN {
            cx.push(
                Kind::Approx,
                format!("router_settings.fallbacks (group {})", g.name),
                "",
                format!("routesim tries at most {MAX_PLAN} models per request: the chain is cut"),
            );
            let keep = MAX_PLAN.saturating_sub(route.models().len() - route.fallbacks.len());
            route.fallbacks.truncate(keep);
        }
        if route.fallbacks.is_empty() {
            route.fallback_on = None;
        }
        let mut names = vec![g.name.clone()];
        names.extend(
            aliases
                .iter()
                .filter(|(_, t)| *t == g.name)
                .map(|(a, _)| a.clone()),
        );
        let when = if names.len() == 1 {
            CondOut::MetaEq("asked_model".into(), ValOut::Str(g.name.clone()))
        } else {
            CondOut::Meta(
                "asked_model".into(),
                vec![(
                    "in",
                    ValOut::List(names.iter().map(|n| ValOut::Str(n.clone())).collect()),
                )],
            )
        };
        let comment = if names.len() > 1 {
            format!(
                "model group {} (also asked for as {})",
                g.name,
                names[1..].join(", ")
            )
        } else {
            String::new()
        };
        rules.push(RuleOut {
            name: g.name.clone(),
            comment,
            when,
            route,
        });
    }
    if cw_mixed {
        cx.push(
            Kind::Approx,
            "router_settings.context_window_fallbacks",
            "",
            "for groups with both fallbacks and context-window fallbacks, routesim tries them in one chain (fallbacks first) on any failure; LiteLLM sends a context-window error to the context-window fallbacks only",
        );
    }
    cx.push(
        Kind::Approx,
        "(requests for a model no group serves)",
        "",
        format!(
            "LiteLLM answers 400 Invalid model name; routesim sends them to the first group ({})",
            groups[0].name
        ),
    );
    let default = (
        rules[0].route.clone(),
        format!(
            "requests asking for no known group: LiteLLM refuses them (400); here the first group, {}",
            groups[0].name
        ),
    );

    let mut gateway = vec![(
        "timeout_ms".to_string(),
        num(timeout_s * 1000.0),
        timeout_note,
    )];
    gateway.push(("retries".to_string(), gw_retries.render(), retries_note));
    if let Some(c) = cooldown {
        gateway.push(("cooldown".into(), c, String::new()));
    }
    if let Some(c) = cache {
        gateway.push(("cache".into(), c, String::new()));
    }
    let n_deps = deps.len();
    Some(PolicyOut {
        intro: vec![
            format!(
                "Imported by `routesim import-config litellm` from {}.",
                cx.o.file
            ),
            format!(
                "{} model groups, {} deployments; one rule per group on meta.asked_model (the model the request asked for).",
                groups.len(),
                n_deps
            ),
        ],
        unmapped: Vec::new(),
        name: cx.o.name.clone(),
        description: format!("LiteLLM router imported from {}", cx.o.file),
        models,
        gateway,
        rules,
        default,
    })
}

/// The strategy over a group's first-tried deployments.
fn group_strategy(
    cx: &mut Cx,
    strategy: &str,
    g: &Group,
    primary: &[&Dep],
    buffer: f64,
) -> StratOut {
    let aliases: Vec<String> = primary.iter().map(|d| d.alias.clone()).collect();
    if primary.len() == 1 {
        return StratOut::Model(aliases[0].clone());
    }
    match strategy {
        "least-busy" => StratOut::LeastBusy(aliases),
        "usage-based-routing" | "usage-based-routing-v2" => StratOut::UsageBased(aliases),
        "latency-based-routing" => StratOut::LowestLatency {
            candidates: aliases,
            buffer,
        },
        "cost-based-routing" => StratOut::Cheapest(aliases),
        _ => {
            // simple-shuffle: the first of weight, rpm, tpm with a positive maximum.
            let sets: [(&str, Vec<f64>); 3] = [
                (
                    "weight",
                    primary.iter().map(|d| d.weight.unwrap_or(0.0)).collect(),
                ),
                (
                    "rpm",
                    primary.iter().map(|d| d.rpm.unwrap_or(0) as f64).collect(),
                ),
                (
                    "tpm",
                    primary.iter().map(|d| d.tpm.unwrap_or(0) as f64).collect(),
                ),
            ];
            let chosen = sets
                .iter()
                .find(|(_, w)| w.iter().cloned().fold(0.0, f64::max) > 0.0);
            let weights: Vec<f64> = match chosen {
                Some((_, w)) => w.clone(),
                None => vec![1.0; primary.len()],
            };
            let mut arms = Vec::new();
            for (d, w) in primary.iter().zip(weights) {
                if w > 0.0 {
                    arms.push((d.alias.clone(), w));
                } else {
                    cx.push(
                        Kind::Approx,
                        format!("model_list[{}] (group {})", d.index, g.name),
                        "",
                        format!(
                            "its {} is 0 while another deployment's is not: simple-shuffle never picks it, so it is left out",
                            chosen.map(|c| c.0).unwrap_or("weight")
                        ),
                    );
                }
            }
            if arms.len() == 1 {
                StratOut::Model(arms.remove(0).0)
            } else {
                StratOut::Shuffle(arms)
            }
        }
    }
}

/// `pricing.toml`: dataset columns priced as their provider model, and custom prices.
fn pricing_text(cx: &Cx, deps: &[Dep]) -> Option<String> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let mut done: Vec<&str> = Vec::new();
    let mut aliases = String::new();
    let mut prices = String::new();
    for d in deps {
        if done.contains(&d.column.as_str()) {
            continue;
        }
        done.push(&d.column);
        match d.price {
            Some((i, o)) => {
                let _ = writeln!(
                    prices,
                    "\n[models.{}]\ninput_per_mtok = {}\noutput_per_mtok = {}\nsource = {}",
                    super::emit::string(&d.column),
                    num(i * 1e6),
                    num(o * 1e6),
                    super::emit::string(&format!(
                        "LiteLLM config {}, model_list[{}].litellm_params",
                        cx.o.file, d.index
                    ))
                );
            }
            None if d.column != d.model => {
                let _ = writeln!(
                    aliases,
                    "{} = {}",
                    super::emit::key(&d.column),
                    super::emit::string(&d.model)
                );
            }
            None => {}
        }
    }
    if aliases.is_empty() && prices.is_empty() {
        return None;
    }
    let _ = writeln!(
        s,
        "# Prices for the policy imported from {} (routesim import-config).",
        cx.o.file
    );
    if !aliases.is_empty() {
        let _ = write!(s, "\n[aliases]\n{aliases}");
    }
    s.push_str(&prices);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn fallbacks_expand_as_litellm_recurses() {
        // a → [b, c], b → [a, d], any other group → [e] (default_fallbacks), depth 5.
        // expand(a, 0): b (1) → b's: a (2) → a's: b (3) → b's: a (4) → a's: b (5, not
        // followed), c (6, not followed); back in b (3): d (5, not followed); back in
        // a (2): c (4) → c's: e (5, not followed); back in b (1): d (3) → d's: e (4)
        // → e's: only itself, skipped; back at the top: c (2) → e (3) → nothing.
        let m = map(&[("a", &["b", "c"]), ("b", &["a", "d"]), ("*", &["e"])]);
        let mut out = Vec::new();
        expand(&m, "a", 0, 5, &mut out);
        assert_eq!(
            out,
            [
                "b", "a", "b", "a", "b", "c", "d", "c", "e", "d", "e", "c", "e"
            ]
        );
        let mut out = Vec::new();
        expand(&m, "a", 0, 1, &mut out);
        assert_eq!(
            out,
            ["b", "c"],
            "max_fallbacks 1: the groups listed, none of theirs"
        );
    }

    fn import_str(yaml: &str) -> (String, Vec<String>) {
        let o = ImportOptions {
            file: "c.yaml".into(),
            name: "t".into(),
            columns: None,
            pricing_out: false,
        };
        let imp = import(yaml, &o).unwrap_or_else(|e| panic!("{e}"));
        (
            imp.policy.render(),
            imp.policy.unmapped.iter().map(|u| u.to_string()).collect(),
        )
    }

    #[test]
    fn mixed_groups_keep_429_retries_only_where_another_deployment_can_answer() {
        // g has two deployments (weights 3 and 0), s one; the router has fallbacks,
        // so s's 429 is not retried but g's is.
        let (text, listing) = import_str(
            "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, weight: 3}\n    model_info: {id: one}\n  - model_name: g\n    litellm_params: {model: azure/a, rpm: 10}\n  - model_name: s\n    litellm_params: {model: openai/s}\nrouter_settings:\n  num_retries: 1\n  fallbacks: [{s: [g]}]\n",
        );
        for line in [
            "\"g#one\" = \"g\"  # openai/a",
            "\"g#2\" = \"g\"  # azure/a",
            "s = { model = \"s\", retries = { max = 1, backoff_ms = 0, multiplier = 1, max_backoff_ms = 60000, on = [\"5xx\", \"timeout\", \"error\"], honor_retry_after = true } }  # openai/s",
            "retries = { max = 1, backoff_ms = 0, multiplier = 1, max_backoff_ms = 60000, on = [\"429\", \"5xx\", \"timeout\", \"error\"], honor_retry_after = true }",
            "route = \"g#one\"",
            "route = { model = \"s\", fallbacks = [\"g#one\"], fallback_on = [\"429\", \"5xx\", \"4xx\", \"timeout\", \"error\", \"gateway\"] }",
        ] {
            assert!(text.contains(line), "missing {line}\nin:\n{text}");
        }
        assert!(
            listing.contains(&"approx   model_list[1] (group g): its weight is 0 while another deployment's is not: simple-shuffle never picks it, so it is left out".to_string()),
            "{listing:#?}"
        );
        assert!(
            listing.iter().any(|l| l.starts_with("approx   router_settings.fallbacks: LiteLLM does not retry a 429 of a group without another healthy deployment when the router has fallbacks: reproduced for single-deployment groups")),
            "{listing:#?}"
        );
    }
}
