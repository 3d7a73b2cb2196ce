//! Which model answered a call: the one asked for, or another (a gateway's fallback,
//! a router's pick), and its name in the dataset.
//!
//! A LiteLLM proxy says it in headers: `x-litellm-model-group` is the group that
//! answered and `x-litellm-attempted-fallbacks` counts fallbacks (the body's `model`
//! is unreliable after a fallback). Other servers only have the body's `model`,
//! which often names a dated snapshot of the model asked for (`gpt-4o-mini` answered
//! by `gpt-4o-mini-2024-07-18`) — the same model, not a fallback.

use super::client::Served;
use super::config::Provider;

/// The model that answered, when the response names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// Its id as the response gives it (LiteLLM: the served group).
    pub id: String,
    /// Whether it is another model than the one asked for.
    pub other: bool,
}

/// Who answered a call for provider model id `asked`.
pub fn answered(asked: &str, s: &Served) -> Option<Answered> {
    if let Some(group) = &s.group {
        let fell_back = s.fallbacks.unwrap_or(0) > 0;
        // A wildcard group (`openai/*`) serves whatever was asked.
        let other = fell_back || (!group.contains('*') && !same_model(asked, group));
        return Some(Answered {
            id: group.clone(),
            other,
        });
    }
    s.model.as_ref().map(|m| Answered {
        id: m.clone(),
        other: !same_model(asked, m),
    })
}

/// Whether two model ids name the same model: equal once lower-cased, without a
/// provider prefix (`openai/`) and without a snapshot suffix (`-2024-07-18`,
/// `-20241022`, `-0613`, `-latest`, `:latest`, `-v2:0`).
pub fn same_model(a: &str, b: &str) -> bool {
    base_name(a) == base_name(b)
}

fn base_name(id: &str) -> String {
    let lower = id.trim().to_ascii_lowercase();
    let mut s = match lower.rfind('/') {
        Some(i) => lower[i + 1..].to_string(),
        None => lower,
    };
    loop {
        let before = s.len();
        for suffix in ["-latest", ":latest", "@latest"] {
            if let Some(t) = s.strip_suffix(suffix) {
                s = t.to_string();
            }
        }
        // Bedrock's `-v2` / `-v2:0`.
        if let Some(i) = s.rfind("-v")
            && s[i + 2..]
                .split(':')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            s.truncate(i);
        }
        // `-2024-07-18`, `-20241022`, `-0613` (also after `@`).
        for shape in ["-dddd-dd-dd", "-dddddddd", "-dddd"] {
            if ends_with_shape(&s, shape) {
                s.truncate(s.len() - shape.len());
                break;
            }
        }
        if s.len() == before {
            return s;
        }
    }
}

/// Whether `s` ends with `shape`, where `d` is any digit and `-` is `-` or `@`, and
/// something comes before it.
fn ends_with_shape(s: &str, shape: &str) -> bool {
    let (b, p) = (s.as_bytes(), shape.as_bytes());
    b.len() > p.len()
        && b[b.len() - p.len()..]
            .iter()
            .zip(p)
            .all(|(c, want)| match want {
                b'd' => c.is_ascii_digit(),
                b'-' => *c == b'-' || *c == b'@',
                w => c == w,
            })
}

/// The dataset name of a served model id: the provider's `models` entry that maps to
/// it, else the id itself.
pub fn dataset_name(p: &Provider, id: &str) -> String {
    p.models
        .iter()
        .find(|(_, pid)| pid == id)
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_prefixes_are_the_same_model_other_models_are_not() {
        for (a, b) in [
            ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
            ("gpt-4o", "gpt-4o-2024-08-06"),
            ("gpt-4", "gpt-4-0613"),
            ("claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022"),
            ("openai/gpt-4o", "gpt-4o"),
            ("llama3", "llama3:latest"),
            (
                "anthropic.claude-3-5-sonnet-20241022-v2:0",
                "anthropic.claude-3-5-sonnet",
            ),
        ] {
            assert!(same_model(a, b), "{a} vs {b}");
        }
        for (a, b) in [
            ("gpt-4o", "gpt-4o-mini"),
            ("flaky-429", "gpt-4o-mini"),
            ("claude-3-5-sonnet", "claude-3-5-haiku-20241022"),
            ("openrouter/auto", "anthropic/claude-3.5-sonnet"),
        ] {
            assert!(!same_model(a, b), "{a} vs {b}");
        }
    }

    #[test]
    fn litellm_headers_win_over_the_body() {
        // After a fallback LiteLLM leaves the deployment's model in the body
        // (`gpt-4o-mini`); the group header names the group that answered.
        let fallback = Served {
            model: Some("gpt-4o-mini".into()),
            group: Some("mock-ok".into()),
            deployment: Some("openai/gpt-4o-mini".into()),
            fallbacks: Some(1),
        };
        assert_eq!(
            answered("flaky-429", &fallback),
            Some(Answered {
                id: "mock-ok".into(),
                other: true
            })
        );
        // Without a fallback the group is the one asked for, whatever its deployment.
        let plain = Served {
            model: Some("mock-ok".into()),
            group: Some("mock-ok".into()),
            deployment: Some("openai/gpt-4o-mini".into()),
            fallbacks: Some(0),
        };
        assert!(!answered("mock-ok", &plain).unwrap().other);
        let openai = Served {
            model: Some("gpt-4o-mini-2024-07-18".into()),
            ..Served::default()
        };
        assert!(!answered("gpt-4o-mini", &openai).unwrap().other);
        assert_eq!(answered("gpt-4o-mini", &Served::default()), None);
    }
}
