//! Token estimation for text without recorded token counts.
//!
//! Method (documented in the README): `ceil(chars / 4)`, with at least one token for
//! non-empty text. Four characters per token is OpenAI's published rule of thumb for
//! English with the cl100k/o200k tokenizers; it is within about ±20% on prose and
//! under-counts code and non-Latin scripts. Values estimated this way are flagged in
//! the dataset and the trace so the report can say so.

/// Estimated tokens of `text`.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    if chars == 0 {
        0
    } else {
        chars.div_ceil(4).max(1) as u32
    }
}

/// Estimated tokens from a character count.
pub fn estimate_from_chars(chars: usize) -> u32 {
    if chars == 0 {
        0
    } else {
        chars.div_ceil(4).max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_chars_per_token_rounded_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("héllo wörld"), 3);
    }
}
