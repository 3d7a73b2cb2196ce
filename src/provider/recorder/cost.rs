//! What a finished call cost: its token counts (the provider's usage when reported,
//! else estimated from the texts) priced at the model's list price.

use crate::dataset::tokens::estimate_tokens;
use crate::pricing::{ModelPrice, Usage};
use crate::provider::client::CallOutcome;

/// Tokens and cost of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bill {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Cost, USD (0 for a failed call).
    pub cost_usd: f64,
}

/// Token counts of a finished call and its price; failures cost 0.
pub(super) fn billed(out: &CallOutcome, prompt: &str, output: &str, price: &ModelPrice) -> Bill {
    let input_tokens = out
        .usage
        .input_tokens
        .unwrap_or_else(|| estimate_tokens(prompt));
    let output_tokens = out
        .usage
        .output_tokens
        .unwrap_or_else(|| estimate_tokens(output));
    let cached = out.usage.cached_tokens.unwrap_or(0).min(input_tokens);
    let reasoning = out.usage.reasoning_tokens.unwrap_or(0).min(output_tokens);
    let cost_usd = if out.status.is_ok() {
        price.cost(&Usage {
            input_tokens,
            cached_tokens: cached,
            cache_write_tokens: out.usage.cache_write_tokens.unwrap_or(0),
            output_tokens,
            reasoning_tokens: reasoning,
        })
    } else {
        0.0
    };
    Bill {
        input_tokens,
        output_tokens,
        cost_usd,
    }
}
