//! `providers.toml`: where live calls go.
//!
//! ```toml
//! [[provider]]
//! name = "openai"
//! kind = "openai"                 # OpenAI chat completions: OpenAI, OpenRouter, LiteLLM proxy,
//!                                 # vLLM, Ollama (/v1), llama.cpp server; or "anthropic" (Messages API)
//! base_url = "https://api.openai.com/v1"
//! api_key_env = "OPENAI_API_KEY"  # keys only ever come from the environment
//! models = { "openai/gpt-4o" = "gpt-4o" }   # dataset model name → provider model id
//! headers = { "HTTP-Referer" = "https://example.com" }
//! rpm = 500                       # requests per minute (token bucket)
//! tpm = 200000                    # tokens per minute (prompt + max output, token bucket)
//! max_concurrency = 32
//! timeout_ms = 60000
//! stream = true                   # measure time to first token
//! max_tokens = 1024
//! max_tokens_param = "max_tokens" # "max_completion_tokens" for OpenAI reasoning models (o1, o3…)
//! retries = 3                     # on 429, 5xx and timeouts (the answer is then recorded)
//! outage_retry_s = 60             # calls without an answer (refused or reset connections,
//!                                 # DNS, TLS, no byte before timeout_ms) are retried this long,
//!                                 # then the run stops; they are never recorded
//! ```

use crate::error::InputError;
use crate::tomlx::{TomlDoc, get};
use toml::de::DeValue;

/// API flavour of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OpenAI chat completions (and compatible servers).
    OpenAi,
    /// Anthropic Messages API.
    Anthropic,
}

/// One provider endpoint.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Name.
    pub name: String,
    /// API flavour.
    pub kind: Kind,
    /// Base URL (`…/v1` for OpenAI-compatible servers; `https://api.anthropic.com` for Anthropic).
    pub base_url: String,
    /// Environment variable holding the key (none for local servers).
    pub api_key_env: Option<String>,
    /// Dataset model → provider model id.
    pub models: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Concurrent calls.
    pub max_concurrency: usize,
    /// Per-call timeout.
    pub timeout_ms: u64,
    /// Stream responses (measures TTFT).
    pub stream: bool,
    /// `max_tokens` sent with each call.
    pub max_tokens: u32,
    /// Name of the output cap in OpenAI requests: `max_tokens` (default; every
    /// compatible server) or `max_completion_tokens` (required by OpenAI's reasoning
    /// models).
    pub max_tokens_param: String,
    /// Retries on 429, 5xx, timeouts and dropped connections.
    pub retries: u32,
    /// Initial back-off, ms (doubles per retry; `retry-after` wins when longer).
    pub backoff_ms: u64,
    /// How long a call that gets no answer (unreachable endpoint, dropped
    /// connection, no byte before the timeout) is retried before the run stops, s.
    pub outage_retry_s: f64,
}

impl Provider {
    /// The provider model id for a dataset model.
    pub fn model_id(&self, model: &str) -> Option<&str> {
        self.models
            .iter()
            .find(|(m, _)| m == model)
            .map(|(_, id)| id.as_str())
    }

    /// The API key from the environment (`None` when not configured or unset).
    pub fn api_key(&self) -> Option<String> {
        self.api_key_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|k| !k.is_empty())
    }
}

/// Parsed providers file.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    /// Providers in file order.
    pub providers: Vec<Provider>,
}

impl Providers {
    /// The provider that serves a dataset model.
    pub fn for_model(&self, model: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.model_id(model).is_some())
    }
    /// A provider by name.
    pub fn by_name(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }
}

const KEYS: &[&str] = &[
    "name",
    "kind",
    "base_url",
    "api_key_env",
    "models",
    "headers",
    "rpm",
    "tpm",
    "max_concurrency",
    "timeout_ms",
    "stream",
    "max_tokens",
    "max_tokens_param",
    "retries",
    "backoff_ms",
    "outage_retry_s",
];

/// Read a providers file.
pub fn load(path: &std::path::Path) -> Result<Providers, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read: {e}")))?;
    parse(&path.to_string_lossy(), &text)
}

/// Parse providers from text, reporting every problem.
pub fn parse(file: &str, text: &str) -> Result<Providers, InputError> {
    let (mut doc, root) = TomlDoc::parse(file, text);
    let root = root.get_ref();
    doc.check_keys(root, &["provider"], "providers.toml");
    let mut out = Providers::default();
    let items: Vec<_> = match get(root, "provider").map(|v| v.get_ref()) {
        Some(DeValue::Array(a)) => a.iter().collect(),
        Some(_) => {
            doc.err(0..0, "provider: expected [[provider]] tables");
            Vec::new()
        }
        None => {
            if !doc.has_errors() {
                doc.err(0..0, "no [[provider]] tables");
            }
            Vec::new()
        }
    };
    for it in items {
        let Some(t) = doc.table(it, "provider") else {
            continue;
        };
        doc.check_keys(t, KEYS, "[[provider]]");
        let Some(name) = doc
            .require(t, "name", it.span(), "[[provider]]")
            .and_then(|v| doc.string(v, "name"))
        else {
            continue;
        };
        let kind = match get(t, "kind").map(|v| (v, doc.string(v, "kind"))) {
            None => Kind::OpenAi,
            Some((_, Some(k))) if k == "openai" => Kind::OpenAi,
            Some((_, Some(k))) if k == "anthropic" => Kind::Anthropic,
            Some((v, Some(k))) => {
                doc.err(
                    v.span(),
                    format!("kind: expected \"openai\" or \"anthropic\", found \"{k}\""),
                );
                continue;
            }
            Some((_, None)) => continue,
        };
        let Some(base_url) = doc
            .require(t, "base_url", it.span(), &format!("provider \"{name}\""))
            .and_then(|v| doc.string(v, "base_url"))
        else {
            continue;
        };
        if !base_url.starts_with("http://") && !base_url.starts_with("https://") {
            let span = get(t, "base_url").map(|v| v.span()).unwrap_or(0..0);
            doc.err(span, "base_url: expected an http:// or https:// URL");
        }
        let api_key_env = get(t, "api_key_env").and_then(|v| doc.string(v, "api_key_env"));
        let pairs = |doc: &mut TomlDoc, key: &str| -> Vec<(String, String)> {
            let Some(v) = get(t, key) else {
                return Vec::new();
            };
            let Some(tt) = doc.table(v, key) else {
                return Vec::new();
            };
            tt.iter()
                .filter_map(|(k, v)| {
                    doc.string(v, &format!("{key}.{}", k.get_ref()))
                        .map(|s| (k.get_ref().to_string(), s))
                })
                .collect()
        };
        let models = pairs(&mut doc, "models");
        if models.is_empty() {
            doc.err(it.span(), format!("provider \"{name}\": no models (models = {{ \"dataset-model\" = \"provider-model-id\" }})"));
        }
        let headers = pairs(&mut doc, "headers");
        for (h, _) in &headers {
            if h.eq_ignore_ascii_case("authorization") || h.eq_ignore_ascii_case("x-api-key") {
                doc.err(
                    get(t, "headers").map(|v| v.span()).unwrap_or(0..0),
                    "headers: keys must come from api_key_env, not from the file",
                );
            }
        }
        let num = |doc: &mut TomlDoc, key: &str| get(t, key).and_then(|v| doc.uint(v, key));
        let rpm = num(&mut doc, "rpm").map(|x| x.clamp(1, u32::MAX as u64) as u32);
        let tpm = num(&mut doc, "tpm").map(|x| x.max(1));
        let max_concurrency = num(&mut doc, "max_concurrency")
            .unwrap_or(16)
            .clamp(1, 4096) as usize;
        let timeout_ms = num(&mut doc, "timeout_ms").unwrap_or(60_000).max(1);
        let max_tokens = num(&mut doc, "max_tokens")
            .unwrap_or(1024)
            .clamp(1, u32::MAX as u64) as u32;
        let retries = num(&mut doc, "retries").unwrap_or(3).min(10) as u32;
        let backoff_ms = num(&mut doc, "backoff_ms").unwrap_or(500);
        let outage_retry_s = get(t, "outage_retry_s")
            .and_then(|v| doc.non_negative(v, "outage_retry_s"))
            .unwrap_or(60.0);
        let stream = get(t, "stream")
            .and_then(|v| doc.boolean(v, "stream"))
            .unwrap_or(false);
        let max_tokens_param = match get(t, "max_tokens_param") {
            Some(v) => match doc.string(v, "max_tokens_param") {
                Some(s) if s == "max_tokens" || s == "max_completion_tokens" => s,
                Some(s) => {
                    doc.err(
                        v.span(),
                        format!("max_tokens_param: expected \"max_tokens\" or \"max_completion_tokens\", found \"{s}\""),
                    );
                    "max_tokens".into()
                }
                None => "max_tokens".into(),
            },
            None => "max_tokens".into(),
        };
        out.providers.push(Provider {
            name,
            kind,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key_env,
            models,
            headers,
            rpm,
            tpm,
            max_concurrency,
            timeout_ms,
            stream,
            max_tokens,
            max_tokens_param,
            retries,
            backoff_ms,
            outage_retry_s,
        });
    }
    doc.finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_keys_in_the_file() {
        let p = parse(
            "p.toml",
            "[[provider]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:8080/v1/\"\nmodels = { \"m\" = \"llama3\" }\nstream = true\n",
        )
        .unwrap();
        assert_eq!(p.providers[0].base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(p.for_model("m").unwrap().model_id("m"), Some("llama3"));
        let e = parse(
            "p.toml",
            "[[provider]]\nname = \"x\"\nkind = \"azure\"\nbase_url = \"h\"\nmodels = { a = \"b\" }\n[[provider]]\nname = \"y\"\nbase_url = \"http://h\"\nmodels = { a = \"b\" }\nheaders = { Authorization = \"Bearer sk\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.toml:3:8: kind: expected \"openai\" or \"anthropic\""),
            "{e}"
        );
        assert!(e.contains("keys must come from api_key_env"), "{e}");
    }
}
