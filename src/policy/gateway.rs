//! `[gateway]` (LiteLLM `router_settings` analogue) and `[[scenario]]` what-ifs.
//!
//! Stateless settings: timeout, retries, fallbacks, output-token cap. Stateful ones
//! (cooldown, circuit breaker, cache, budgets) switch the policy to the virtual-time
//! engine. Defaults follow LiteLLM where it has one (cooldown: more than 3 failures in
//! the current minute → 5 s cooldown) and Portkey for the circuit breaker.

use super::ModelRef;
use super::cond::KeyRef;
use super::route::{model_ref, parse_classes};
use crate::dataset::StatusClass;
use crate::error::InputError;
use crate::tomlx::{Span, Table, TomlDoc, Val, get};
use toml::de::DeValue;

/// Retry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Retries {
    /// Retries after the first try (0 = none).
    pub max: u32,
    /// Wait before the first retry, ms.
    pub backoff_ms: f64,
    /// Growth of the wait per retry.
    pub multiplier: f64,
    /// Cap on one wait, ms.
    pub max_backoff_ms: f64,
    /// Failures that are retried.
    pub on: StatusClass,
    /// Wait at least the recorded `retry-after` of a 429/503.
    pub honor_retry_after: bool,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            max: 0,
            backoff_ms: 0.0,
            multiplier: 2.0,
            max_backoff_ms: 60_000.0,
            on: StatusClass::RATE_LIMIT
                .union(StatusClass::SERVER)
                .union(StatusClass::TIMEOUT)
                .union(StatusClass::ERROR),
            honor_retry_after: true,
        }
    }
}

impl Retries {
    /// Wait before retry number `k` (1-based), without retry-after.
    pub fn backoff(&self, k: u32) -> f64 {
        (self.backoff_ms * self.multiplier.powi(k.saturating_sub(1) as i32))
            .min(self.max_backoff_ms)
    }
}

/// Cooldown (LiteLLM): a deployment with more than `allowed_fails` failures in the
/// current minute is skipped for `cooldown_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cooldown {
    /// Failures tolerated per window.
    pub allowed_fails: u32,
    /// Window length, seconds (fixed windows aligned to the virtual clock).
    pub window_s: f64,
    /// Cooldown length, seconds.
    pub cooldown_s: f64,
    /// Failures that count.
    pub on: StatusClass,
}

impl Default for Cooldown {
    fn default() -> Self {
        Cooldown {
            allowed_fails: 3,
            window_s: 60.0,
            cooldown_s: 5.0,
            on: StatusClass::RATE_LIMIT
                .union(StatusClass::SERVER)
                .union(StatusClass::TIMEOUT)
                .union(StatusClass::CLIENT),
        }
    }
}

/// Circuit breaker (Portkey `cb_config`, plus a half-open probe).
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreaker {
    /// Open when failures since the first counted failure exceed this.
    pub failure_threshold: u32,
    /// Or when the failure rate exceeds this (0..1), after `minimum_requests`.
    pub failure_rate: Option<f64>,
    /// Requests before the rate is evaluated.
    pub minimum_requests: u32,
    /// Open duration, ms.
    pub cooldown_ms: f64,
    /// Failures that count.
    pub on: StatusClass,
    /// Trial calls allowed when the open period ends; a failing trial reopens the
    /// circuit, a successful one closes it. 0 = Portkey's plain reset to closed.
    pub half_open_probes: u32,
}

/// Exact-match response cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Cache {
    /// Where it was configured (for binding errors).
    pub span: crate::tomlx::Span,
    /// Entry lifetime, seconds.
    pub ttl_s: f64,
    /// Latency of a hit, ms.
    pub hit_latency_ms: f64,
}

/// What happens when a budget is exhausted.
#[derive(Debug, Clone, PartialEq)]
pub enum OverBudget {
    /// Reject the request (status `gateway_rejected`).
    Reject,
    /// Route to this model instead.
    Downgrade(ModelRef),
}

/// A spend budget per period and key.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// USD per period.
    pub limit_usd: f64,
    /// Period length, seconds (fixed windows from the first arrival).
    pub period_s: f64,
    /// Separate budget per value of this key (global when absent).
    pub per: Option<KeyRef>,
    /// Action when exceeded.
    pub when_exceeded: OverBudget,
}

/// What the output-token cap does to the recorded quality of a cut answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncatedQuality {
    /// Keep the recorded quality (flagged as truncated).
    Keep,
    /// Treat the quality as unknown.
    Missing,
}

/// Gateway settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// A call slower than this is cut at this time and counts as a timeout.
    pub timeout_ms: Option<f64>,
    /// Retries on the same model.
    pub retries: Retries,
    /// Failures that move on to the next model of the plan.
    pub fallback_on: StatusClass,
    /// Cap on completion tokens (`max_tokens`).
    pub max_output_tokens: Option<u32>,
    /// Quality of capped answers.
    pub truncated_quality: TruncatedQuality,
    /// Quality counted for a request that finally failed.
    pub failure_quality: f64,
    /// Cooldown.
    pub cooldown: Option<Cooldown>,
    /// Circuit breaker.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Response cache.
    pub cache: Option<Cache>,
    /// Budgets.
    pub budgets: Vec<Budget>,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            timeout_ms: None,
            retries: Retries::default(),
            fallback_on: StatusClass::ANY_FAILURE,
            max_output_tokens: None,
            truncated_quality: TruncatedQuality::Keep,
            failure_quality: 0.0,
            cooldown: None,
            circuit_breaker: None,
            cache: None,
            budgets: Vec::new(),
        }
    }
}

impl Gateway {
    /// Whether a stateful mechanism is on.
    pub fn is_stateful(&self) -> bool {
        self.cooldown.is_some()
            || self.circuit_breaker.is_some()
            || self.cache.is_some()
            || !self.budgets.is_empty()
    }
}

const GATEWAY_KEYS: &[&str] = &[
    "timeout_ms",
    "retries",
    "fallback_on",
    "max_output_tokens",
    "truncated_quality",
    "failure_quality",
    "cooldown",
    "circuit_breaker",
    "cache",
    "budget",
];

/// Parse `[gateway]`.
pub fn parse_gateway(doc: &mut TomlDoc, v: &Val) -> Gateway {
    let mut g = Gateway::default();
    let Some(t) = doc.table(v, "gateway") else {
        return g;
    };
    doc.check_keys(t, GATEWAY_KEYS, "[gateway]");
    if let Some(x) = get(t, "timeout_ms") {
        g.timeout_ms = doc.positive(x, "timeout_ms");
    }
    if let Some(x) = get(t, "max_output_tokens") {
        g.max_output_tokens = match doc.uint(x, "max_output_tokens") {
            Some(0) => {
                doc.err(x.span(), "max_output_tokens: expected at least 1");
                None
            }
            Some(n) => Some(n.min(u32::MAX as u64) as u32),
            None => None,
        };
    }
    if let Some(x) = get(t, "fallback_on")
        && let Some(c) = parse_classes(doc, x, "fallback_on")
    {
        g.fallback_on = c;
    }
    if let Some(x) = get(t, "truncated_quality") {
        match doc.string(x, "truncated_quality").as_deref() {
            Some("keep") => g.truncated_quality = TruncatedQuality::Keep,
            Some("missing") => g.truncated_quality = TruncatedQuality::Missing,
            Some(other) => doc.err(
                x.span(),
                format!("truncated_quality: expected \"keep\" or \"missing\", found \"{other}\""),
            ),
            None => {}
        }
    }
    if let Some(x) = get(t, "failure_quality")
        && let Some(q) = doc.fraction(x, "failure_quality")
    {
        g.failure_quality = q;
    }
    if let Some(x) = get(t, "retries") {
        g.retries = parse_retries(doc, x);
    }
    if let Some(x) = get(t, "cooldown")
        && let Some(ct) = doc.table(x, "cooldown")
    {
        g.cooldown = Some(parse_cooldown(doc, ct));
    }
    if let Some(x) = get(t, "circuit_breaker")
        && let Some(ct) = doc.table(x, "circuit_breaker")
    {
        g.circuit_breaker = parse_breaker(doc, x, ct);
    }
    if let Some(x) = get(t, "cache") {
        g.cache = parse_cache(doc, x);
    }
    if let Some(x) = get(t, "budget") {
        match x.get_ref() {
            DeValue::Array(items) => {
                for it in items.iter() {
                    if let Some(b) = parse_budget(doc, it) {
                        g.budgets.push(b);
                    }
                }
            }
            _ => {
                if let Some(b) = parse_budget(doc, x) {
                    g.budgets.push(b);
                }
            }
        }
    }
    g
}

/// Most retries per model a policy may ask for (both `retries = N` and `retries.max`).
pub const MAX_RETRIES: u32 = 10;

/// `cache = { kind = "exact", ttl_s, hit_latency_ms }`.
fn parse_cache(doc: &mut TomlDoc, x: &Val) -> Option<Cache> {
    let ct = doc.table(x, "cache")?;
    doc.check_keys(ct, &["kind", "ttl_s", "hit_latency_ms"], "cache");
    if let Some(k) = get(ct, "kind")
        && let Some(s) = doc.string(k, "cache.kind")
        && s != "exact"
    {
        doc.err(
            k.span(),
            format!("cache.kind: only \"exact\" is supported, found \"{s}\""),
        );
    }
    Some(Cache {
        span: x.span(),
        ttl_s: get(ct, "ttl_s")
            .and_then(|v| doc.positive(v, "cache.ttl_s"))
            .unwrap_or(3600.0),
        hit_latency_ms: get(ct, "hit_latency_ms")
            .and_then(|v| doc.non_negative(v, "cache.hit_latency_ms"))
            .unwrap_or(5.0),
    })
}

/// `retries = N` or `retries = { max, backoff_ms, multiplier, max_backoff_ms, on,
/// honor_retry_after }` (unset keys take the defaults of [`Retries`]).
pub fn parse_retries(doc: &mut TomlDoc, v: &Val) -> Retries {
    let mut r = Retries::default();
    if let Some(n) = crate::tomlx::as_f64(v.get_ref()) {
        // `retries = 2`
        if n >= 0.0 && n.fract() == 0.0 {
            if n > MAX_RETRIES as f64 {
                doc.err(v.span(), format!("retries: at most {MAX_RETRIES}"));
            }
            r.max = n.min(MAX_RETRIES as f64) as u32;
        } else {
            doc.err(v.span(), "retries: expected a whole number ≥ 0 or a table");
        }
        return r;
    }
    let Some(t) = doc.table(v, "retries") else {
        return r;
    };
    doc.check_keys(
        t,
        &[
            "max",
            "backoff_ms",
            "multiplier",
            "max_backoff_ms",
            "on",
            "honor_retry_after",
        ],
        "retries",
    );
    if let Some(x) = get(t, "max")
        && let Some(n) = doc.uint(x, "retries.max")
    {
        if n > MAX_RETRIES as u64 {
            doc.err(x.span(), format!("retries.max: at most {MAX_RETRIES}"));
        }
        r.max = n.min(MAX_RETRIES as u64) as u32;
    }
    if let Some(x) = get(t, "backoff_ms")
        && let Some(n) = doc.non_negative(x, "retries.backoff_ms")
    {
        r.backoff_ms = n;
    }
    if let Some(x) = get(t, "multiplier")
        && let Some(n) = doc.positive(x, "retries.multiplier")
    {
        r.multiplier = n;
    }
    if let Some(x) = get(t, "max_backoff_ms")
        && let Some(n) = doc.non_negative(x, "retries.max_backoff_ms")
    {
        r.max_backoff_ms = n;
    }
    if let Some(x) = get(t, "on")
        && let Some(c) = parse_classes(doc, x, "retries.on")
    {
        r.on = c;
    }
    if let Some(x) = get(t, "honor_retry_after")
        && let Some(b) = doc.boolean(x, "retries.honor_retry_after")
    {
        r.honor_retry_after = b;
    }
    r
}

fn parse_cooldown(doc: &mut TomlDoc, t: &Table) -> Cooldown {
    doc.check_keys(
        t,
        &["allowed_fails", "window_s", "cooldown_s", "on"],
        "cooldown",
    );
    let mut c = Cooldown::default();
    if let Some(x) = get(t, "allowed_fails")
        && let Some(n) = doc.uint(x, "cooldown.allowed_fails")
    {
        c.allowed_fails = n.min(u32::MAX as u64) as u32;
    }
    if let Some(x) = get(t, "window_s")
        && let Some(n) = doc.positive(x, "cooldown.window_s")
    {
        c.window_s = n;
    }
    if let Some(x) = get(t, "cooldown_s")
        && let Some(n) = doc.positive(x, "cooldown.cooldown_s")
    {
        c.cooldown_s = n;
    }
    if let Some(x) = get(t, "on")
        && let Some(cl) = parse_classes(doc, x, "cooldown.on")
    {
        c.on = cl;
    }
    c
}

fn parse_breaker(doc: &mut TomlDoc, v: &Val, t: &Table) -> Option<CircuitBreaker> {
    doc.check_keys(
        t,
        &[
            "failure_threshold",
            "failure_rate",
            "minimum_requests",
            "cooldown_ms",
            "on",
            "half_open_probes",
        ],
        "circuit_breaker",
    );
    let threshold =
        get(t, "failure_threshold").and_then(|x| doc.uint(x, "circuit_breaker.failure_threshold"));
    let rate = get(t, "failure_rate").and_then(|x| doc.fraction(x, "circuit_breaker.failure_rate"));
    if threshold.is_none() && rate.is_none() {
        doc.err(
            v.span(),
            "circuit_breaker: expected failure_threshold and/or failure_rate",
        );
        return None;
    }
    Some(CircuitBreaker {
        failure_threshold: threshold
            .map(|n| n.min(u32::MAX as u64) as u32)
            .unwrap_or(u32::MAX),
        failure_rate: rate,
        minimum_requests: get(t, "minimum_requests")
            .and_then(|x| doc.uint(x, "circuit_breaker.minimum_requests"))
            .unwrap_or(1) as u32,
        cooldown_ms: get(t, "cooldown_ms")
            .and_then(|x| doc.positive(x, "circuit_breaker.cooldown_ms"))
            .unwrap_or(30_000.0),
        on: match get(t, "on") {
            Some(x) => parse_classes(doc, x, "circuit_breaker.on").unwrap_or(StatusClass::SERVER),
            None => StatusClass::SERVER,
        },
        half_open_probes: get(t, "half_open_probes")
            .and_then(|x| doc.uint(x, "circuit_breaker.half_open_probes"))
            .unwrap_or(1) as u32,
    })
}

/// Parse a duration: seconds as a number, or text like "30d", "12h", "15m", "90s".
pub fn parse_period(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<f64> {
    if let Some(x) = crate::tomlx::as_f64(v.get_ref()) {
        if x > 0.0 {
            return Some(x);
        }
        doc.err(v.span(), format!("{what}: expected a positive duration"));
        return None;
    }
    let s = doc.string(v, what)?;
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = match num.trim().parse() {
        Ok(n) if n > 0.0 => n,
        _ => {
            doc.err(v.span(), format!("{what}: expected a duration like \"30d\", \"12h\", \"15m\" or \"90s\", found \"{s}\""));
            return None;
        }
    };
    let mult = match unit {
        "s" | "" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => {
            doc.err(
                v.span(),
                format!("{what}: unknown unit \"{unit}\"; expected s, m, h, d or w"),
            );
            return None;
        }
    };
    Some(n * mult)
}

fn parse_budget(doc: &mut TomlDoc, v: &Val) -> Option<Budget> {
    let t = doc.table(v, "budget")?;
    doc.check_keys(
        t,
        &["limit_usd", "period", "per", "when_exceeded"],
        "budget",
    );
    let limit = match get(t, "limit_usd") {
        Some(x) => doc.positive(x, "budget.limit_usd")?,
        None => {
            doc.err(v.span(), "budget: missing limit_usd");
            return None;
        }
    };
    let period_s = match get(t, "period") {
        Some(x) => parse_period(doc, x, "budget.period")?,
        None => 30.0 * 86_400.0,
    };
    let per = match get(t, "per") {
        Some(x) => Some(KeyRef::parse(doc, x, "budget.per")?),
        None => None,
    };
    let when_exceeded = match get(t, "when_exceeded") {
        None => OverBudget::Reject,
        Some(x) => {
            match x.get_ref() {
                DeValue::String(s) if s.as_ref() == "reject" => OverBudget::Reject,
                DeValue::Table(wt) => {
                    doc.check_keys(wt, &["route"], "budget.when_exceeded");
                    match get(wt, "route") {
                        Some(r) => {
                            OverBudget::Downgrade(model_ref(doc, r, "budget.when_exceeded.route")?)
                        }
                        None => {
                            doc.err(x.span(), "budget.when_exceeded: expected \"reject\" or { route = \"model\" }");
                            return None;
                        }
                    }
                }
                _ => {
                    doc.err(
                        x.span(),
                        "budget.when_exceeded: expected \"reject\" or { route = \"model\" }",
                    );
                    return None;
                }
            }
        }
    };
    Some(Budget {
        limit_usd: limit,
        period_s,
        per,
        when_exceeded,
    })
}

/// A what-if applied to the recorded responses.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// The model answers `status` (default 503) for arrivals in [from, to).
    Outage {
        /// Model.
        model: ModelRef,
        /// Start: epoch ms, or ms after the first arrival when `relative`.
        from_ms: i64,
        /// End (exclusive).
        to_ms: i64,
        /// Whether times are offsets from the first arrival.
        relative: bool,
        /// Status answered.
        status: u16,
    },
    /// The model's latencies are multiplied.
    Latency {
        /// Model.
        model: ModelRef,
        /// Multiplier.
        factor: f64,
    },
    /// The model's prices are multiplied.
    Price {
        /// Model.
        model: ModelRef,
        /// Multiplier.
        factor: f64,
    },
    /// Arrivals come `factor` times faster (inter-arrival gaps divided by factor).
    Traffic {
        /// Multiplier.
        factor: f64,
    },
}

fn time_point(doc: &mut TomlDoc, v: &Val, what: &str) -> Option<(i64, bool)> {
    match v.get_ref() {
        DeValue::String(s) => match crate::dataset::time::parse_ts_ms(s) {
            Some(ms) if s.contains('-') => Some((ms, false)),
            _ => {
                let secs = parse_period(doc, v, what)?;
                Some(((secs * 1000.0).round() as i64, true))
            }
        },
        DeValue::Datetime(dt) => match crate::dataset::time::parse_ts_ms(&dt.to_string()) {
            Some(ms) => Some((ms, false)),
            None => {
                doc.err(v.span(), format!("{what}: unsupported datetime"));
                None
            }
        },
        _ => {
            let x = doc.non_negative(v, what)?;
            Some(((x * 1000.0).round() as i64, true))
        }
    }
}

/// Parse one `[[scenario]]` table.
pub fn parse_scenario(doc: &mut TomlDoc, v: &Val) -> Option<Scenario> {
    let t = doc.table(v, "scenario")?;
    scenario_from_table(doc, t, v.span())
}

/// Parse a what-if given on the command line (`--scenario 'outage = { … }'`): the
/// text is the body of one `[[scenario]]` table. `label` names it in messages
/// (`--scenario 2`), with line and column inside the text.
pub fn parse_cli_scenario(label: &str, text: &str) -> Result<Scenario, InputError> {
    let (mut doc, root) = TomlDoc::parse(label, text);
    let s = if doc.has_errors() {
        None
    } else {
        scenario_from_table(&mut doc, root.get_ref(), 0..text.len())
    };
    if s.is_none() && doc.diags.is_empty() {
        doc.err(
            0..0,
            "expected a scenario such as outage = { model = \"openai/gpt-4o\", from = 600, to = 1200 }",
        );
    }
    doc.finish(s)
        .map(|s| s.expect("a scenario when nothing was reported"))
}

fn scenario_from_table(doc: &mut TomlDoc, t: &Table, span: Span) -> Option<Scenario> {
    doc.check_keys(
        t,
        &["outage", "latency", "price", "traffic"],
        "[[scenario]]",
    );
    if t.len() != 1 {
        doc.err(
            span,
            "[[scenario]]: expected exactly one of outage, latency, price, traffic",
        );
        return None;
    }
    let (k, body) = t.iter().next()?;
    let kind: &str = k.get_ref();
    let bt = doc.table(body, kind)?;
    match kind {
        "outage" => {
            doc.check_keys(bt, &["model", "from", "to", "status"], "outage");
            let mv = doc.require(bt, "model", body.span(), "outage")?;
            let model = model_ref(doc, mv, "outage.model")?;
            let fv = doc.require(
                bt,
                "from",
                body.span(),
                "outage (a timestamp, or seconds after the first arrival)",
            )?;
            let (from, rel_a) = time_point(doc, fv, "outage.from")?;
            let tv = doc.require(bt, "to", body.span(), "outage")?;
            let (to, rel_b) = time_point(doc, tv, "outage.to")?;
            if rel_a != rel_b || to <= from {
                doc.err(
                    body.span(),
                    "outage: expected from < to, both timestamps or both offsets",
                );
                return None;
            }
            let status = match get(bt, "status") {
                Some(s) => {
                    let n = doc.uint(s, "outage.status")?;
                    if !(400..=599).contains(&n) {
                        doc.err(
                            s.span(),
                            "outage.status: expected an HTTP error code (400–599)",
                        );
                        return None;
                    }
                    n as u16
                }
                None => 503,
            };
            Some(Scenario::Outage {
                model,
                from_ms: from,
                to_ms: to,
                relative: rel_a,
                status,
            })
        }
        "latency" | "price" => {
            doc.check_keys(bt, &["model", "factor"], kind);
            let mv = doc.require(bt, "model", body.span(), kind)?;
            let model = model_ref(doc, mv, "model")?;
            let fv = doc.require(bt, "factor", body.span(), kind)?;
            let factor = doc.positive(fv, "factor")?;
            Some(if kind == "latency" {
                Scenario::Latency { model, factor }
            } else {
                Scenario::Price { model, factor }
            })
        }
        "traffic" => {
            doc.check_keys(bt, &["factor"], "traffic");
            let fv = doc.require(bt, "factor", body.span(), "traffic")?;
            let factor = doc.positive(fv, "traffic.factor")?;
            Some(Scenario::Traffic { factor })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let r = Retries {
            max: 3,
            backoff_ms: 500.0,
            multiplier: 2.0,
            max_backoff_ms: 1500.0,
            ..Retries::default()
        };
        assert_eq!(r.backoff(1), 500.0);
        assert_eq!(r.backoff(2), 1000.0);
        assert_eq!(r.backoff(3), 1500.0);
    }

    #[test]
    fn parses_periods() {
        let (mut doc, root) = TomlDoc::parse("g.toml", "a = \"30d\"\nb = \"1.5h\"\nc = \"3x\"\n");
        let r = root.get_ref();
        assert_eq!(
            parse_period(&mut doc, get(r, "a").unwrap(), "a"),
            Some(2_592_000.0)
        );
        assert_eq!(
            parse_period(&mut doc, get(r, "b").unwrap(), "b"),
            Some(5400.0)
        );
        assert_eq!(parse_period(&mut doc, get(r, "c").unwrap(), "c"), None);
        assert!(doc.diags[0].to_string().contains("unknown unit \"x\""));
    }
}
