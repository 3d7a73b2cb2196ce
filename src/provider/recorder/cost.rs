//! What a finished call cost: its token counts (the provider's usage when reported,
//! else estimated from the texts) and its cost — the gateway's own figure when it
//! reports one, else the usage at the list price of the model that answered.

use crate::dataset::tokens::estimate_tokens;
use crate::pricing::{ModelPrice, Usage};
use crate::provider::client::CallOutcome;

/// Who answered, for pricing.
#[derive(Debug, Clone, Copy)]
pub(super) enum Answerer<'a> {
    /// The model asked for.
    Asked,
    /// Another model (a gateway's fallback), with its price when one is known.
    Other(Option<&'a ModelPrice>),
}

/// Tokens and cost of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bill {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Where the cost comes from (`gateway`, `price`, `served price`, `asked price`);
    /// `None` for a failure nobody billed.
    pub source: Option<&'static str>,
}

/// Token counts and cost of a finished call. A failure costs what the gateway
/// reports for it, else 0.
pub(super) fn billed(
    out: &CallOutcome,
    prompt: &str,
    output: &str,
    asked: &ModelPrice,
    who: Answerer<'_>,
) -> Bill {
    let input_tokens = out
        .usage
        .input_tokens
        .unwrap_or_else(|| estimate_tokens(prompt));
    let output_tokens = out
        .usage
        .output_tokens
        .unwrap_or_else(|| estimate_tokens(output));
    let usage = Usage {
        input_tokens,
        cached_tokens: out.usage.cached_tokens.unwrap_or(0).min(input_tokens),
        cache_write_tokens: out.usage.cache_write_tokens.unwrap_or(0),
        output_tokens,
        reasoning_tokens: out.usage.reasoning_tokens.unwrap_or(0).min(output_tokens),
    };
    let (cost_usd, source) = match (out.reported_cost_usd, out.status.is_ok(), who) {
        (Some(c), _, _) => (c, Some("gateway")),
        (None, false, _) => (0.0, None),
        (None, true, Answerer::Asked) => (asked.cost(&usage), Some("price")),
        (None, true, Answerer::Other(Some(p))) => (p.cost(&usage), Some("served price")),
        (None, true, Answerer::Other(None)) => (asked.cost(&usage), Some("asked price")),
    };
    Bill {
        input_tokens,
        output_tokens,
        cost_usd,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Status;
    use crate::provider::client::Usage as Reported;

    fn answer(reported: Option<f64>) -> CallOutcome {
        CallOutcome {
            status: Status::OK,
            error: None,
            usage: Reported {
                input_tokens: Some(10),
                output_tokens: Some(20),
                ..Reported::default()
            },
            reported_cost_usd: reported,
            ..CallOutcome::failed(Status::OK, String::new())
        }
    }

    #[test]
    fn the_gateway_figure_wins_then_the_price_of_who_answered() {
        // Asked gpt-4o ($2.50/$10 per M), answered by gpt-4o-mini ($0.15/$0.60 per M),
        // 10 prompt and 20 completion tokens.
        let asked = ModelPrice::per_mtok(2.5, 10.0, "t");
        let mini = ModelPrice::per_mtok(0.15, 0.6, "t");
        // LiteLLM's x-litellm-response-cost for this call: 1.35e-05.
        let b = billed(&answer(Some(1.35e-5)), "p", "o", &asked, Answerer::Asked);
        assert_eq!((b.cost_usd, b.source), (1.35e-5, Some("gateway")));
        assert_eq!((b.input_tokens, b.output_tokens), (10, 20));
        // No figure from the gateway: the served model's price,
        // 10 × 0.15e-6 + 20 × 0.6e-6 = 1.5e-6 + 12e-6 = 1.35e-5.
        let b = billed(
            &answer(None),
            "p",
            "o",
            &asked,
            Answerer::Other(Some(&mini)),
        );
        assert!((b.cost_usd - 1.35e-5).abs() < 1e-18);
        assert_eq!(b.source, Some("served price"));
        // The served model has no price: the asked one, said so,
        // 10 × 2.5e-6 + 20 × 10e-6 = 2.25e-4 (16.7 × more).
        let b = billed(&answer(None), "p", "o", &asked, Answerer::Other(None));
        assert!((b.cost_usd - 2.25e-4).abs() < 1e-18);
        assert_eq!(b.source, Some("asked price"));
        let b = billed(&answer(None), "p", "o", &asked, Answerer::Asked);
        assert_eq!(b.source, Some("price"));
        // A failure nobody billed costs 0.
        let fail = CallOutcome::failed(Status(500), "boom".into());
        let b = billed(&fail, "p", "", &asked, Answerer::Asked);
        assert_eq!((b.cost_usd, b.source), (0.0, None));
    }
}
