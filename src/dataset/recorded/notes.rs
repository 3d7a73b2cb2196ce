//! What a reader should know about recorded cells, as notes shown with the results:
//! the concurrency they were recorded at, and a text sent far shorter than the
//! request's `input_tokens`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The part of a store line the notes need.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StoreLine {
    /// Request id.
    pub request_id: String,
    /// `ok` or the failure.
    pub status: String,
    /// Provider name.
    pub provider: String,
    /// Prompt tokens the provider counted (the text sent).
    #[serde(default)]
    pub input_tokens: Option<u32>,
    /// Calls in flight allowed to the provider while recording.
    #[serde(default)]
    pub concurrency: Option<u32>,
}

/// The store's lines (`text`, one JSON object per line; unreadable lines are skipped,
/// the reader reports them).
pub fn store_lines(text: &str) -> Vec<StoreLine> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// "N cells recorded live, calls in flight per provider: …" for a store's lines.
pub fn concurrency_note(file: &str, lines: &[StoreLine]) -> Option<String> {
    if lines.is_empty() {
        return None;
    }
    let mut by_provider: BTreeMap<&str, BTreeMap<Option<u32>, usize>> = BTreeMap::new();
    for l in lines {
        *by_provider
            .entry(&l.provider)
            .or_default()
            .entry(l.concurrency)
            .or_default() += 1;
    }
    let parts: Vec<String> = by_provider
        .iter()
        .map(|(p, levels)| {
            let levels: Vec<String> = levels
                .iter()
                .map(|(c, k)| match c {
                    Some(c) => format!("{c} ({k} cells)"),
                    None => format!("not recorded ({k} cells)"),
                })
                .collect();
            format!("{p} at {}", levels.join(", "))
        })
        .collect();
    Some(format!(
        "{file}: {} cells recorded live, calls in flight per provider: {}; a gateway queues calls, so their latency depends on the recording concurrency",
        lines.len(),
        parts.join("; ")
    ))
}

/// A note when the text sent is far shorter than the dataset's `input_tokens`, from
/// (tokens of the text sent, the request's `input_tokens`) pairs: "far" is at most a
/// quarter and at least 64 tokens fewer, for at least a tenth of the requests.
pub fn short_text_note(pairs: impl IntoIterator<Item = (u32, u32)>) -> Option<String> {
    let mut n = 0usize;
    let mut far: Vec<(u32, u32)> = Vec::new();
    for (sent, given) in pairs {
        n += 1;
        if given as u64 >= 4 * sent as u64 && given >= sent + 64 {
            far.push((sent, given));
        }
    }
    if far.is_empty() || far.len() * 10 < n {
        return None;
    }
    let median = |mut v: Vec<u32>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let sent = median(far.iter().map(|p| p.0).collect());
    let given = median(far.iter().map(|p| p.1).collect());
    Some(format!(
        "the text sent is far shorter than the dataset's input_tokens for {} of {n} requests (median {sent} vs {given} tokens)",
        far.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_noted_only_when_far_shorter_for_a_tenth() {
        // 3 of 10 requests sent 10 tokens of a 1,000-token context: noted, median
        // of (10, 10, 10) vs (900, 1000, 1100) = 10 vs 1000.
        let mut pairs = vec![(10, 900), (10, 1000), (10, 1100)];
        pairs.extend(std::iter::repeat_n((100, 100), 7));
        let note = short_text_note(pairs.clone()).unwrap();
        assert!(
            note.contains("for 3 of 10 requests (median 10 vs 1000 tokens)"),
            "{note}"
        );
        // 1 of 11: under a tenth, no note.
        pairs.truncate(1);
        pairs.extend(std::iter::repeat_n((100, 100), 10));
        assert_eq!(short_text_note(pairs), None);
        // 4× shorter but only 45 tokens fewer: not "far".
        assert_eq!(short_text_note([(15, 60)]), None);
    }

    #[test]
    fn concurrency_is_listed_per_provider() {
        let line = |p: &str, c: &str| {
            format!("{{\"request_id\":\"q\",\"status\":\"ok\",\"provider\":\"{p}\"{c}}}\n")
        };
        let text = [
            line("gw", ",\"concurrency\":32"),
            line("gw", ",\"concurrency\":32"),
            line("gw", ",\"concurrency\":4"),
            line("old", ""),
            "torn {\"request\n".to_string(),
        ]
        .concat();
        let lines = store_lines(&text);
        assert_eq!(lines.len(), 4, "the torn line is skipped");
        let note = concurrency_note("r.jsonl", &lines).unwrap();
        assert!(
            note.starts_with("r.jsonl: 4 cells recorded live, calls in flight per provider: gw at 4 (1 cells), 32 (2 cells); old at not recorded (1 cells)"),
            "{note}"
        );
        assert_eq!(concurrency_note("r.jsonl", &[]), None);
    }
}
