//! Prompt text for synthetic requests: templates per task filled from word lists, so
//! text conditions (length, "explain", "analyze", code words) behave realistically.

use crate::util::rng::Rng;

fn pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.below(xs.len() as u64) as usize]
}

const LANGS: &[&str] = &["Python", "Rust", "TypeScript", "Go", "Java", "SQL", "Bash"];
const CODE_THINGS: &[&str] = &[
    "a function that parses ISO dates",
    "a retry wrapper with exponential backoff",
    "a LRU cache",
    "a CSV deduplication script",
    "a rate limiter",
    "a binary search over sorted logs",
    "a REST handler that validates JSON input",
    "unit tests for a tokenizer",
];
const TOPICS: &[&str] = &[
    "photosynthesis",
    "inflation",
    "the CAP theorem",
    "gradient descent",
    "supply chains",
    "vaccine trials",
    "TCP congestion control",
    "compound interest",
    "the French revolution",
    "transformer attention",
];
const COUNTRIES: &[&str] = &[
    "France", "Japan", "Brazil", "Kenya", "Canada", "India", "Norway", "Chile",
];
const THINGS: &[&str] = &[
    "a product launch",
    "a team offsite",
    "a birthday",
    "a conference talk",
    "a rainy afternoon",
    "a startup pitch",
];

/// A prompt for a task.
pub fn prompt(task: &str, rng: &mut Rng) -> String {
    match task {
        "coding" => match rng.below(4) {
            0 => format!("Write {} in {}.", pick(rng, CODE_THINGS), pick(rng, LANGS)),
            1 => format!("Fix the bug in my {} code: it panics on empty input when building {}.", pick(rng, LANGS), pick(rng, CODE_THINGS)),
            2 => format!("Refactor this {} module for readability and add error handling.", pick(rng, LANGS)),
            _ => format!("How do I implement {} in {} without extra dependencies?", pick(rng, CODE_THINGS), pick(rng, LANGS)),
        },
        "reasoning" => match rng.below(3) {
            0 => format!(
                "A train leaves at {}:{:02} and travels {} km at {} km/h. With a {}-minute stop, when does it arrive? Show your steps.",
                6 + rng.below(12),
                rng.below(60),
                100 + rng.below(400),
                60 + rng.below(90),
                5 + rng.below(25)
            ),
            1 => format!("If {} people each shake hands once with everyone else, how many handshakes are there? Prove it.", 5 + rng.below(40)),
            _ => "Three boxes are labelled wrongly: apples, oranges, mixed. You may draw one fruit. How do you relabel them?".to_string(),
        },
        "creative" => match rng.below(3) {
            0 => format!("Write a short poem about {}.", pick(rng, THINGS)),
            1 => format!("Draft a friendly invitation for {} with a playful tone.", pick(rng, THINGS)),
            _ => format!("Tell a two-paragraph story set in {} with an unexpected ending.", pick(rng, COUNTRIES)),
        },
        "simple" => match rng.below(4) {
            0 => format!("Capital of {}?", pick(rng, COUNTRIES)),
            1 => format!("Translate 'good morning' to {}.", ["French", "German", "Spanish", "Japanese"][rng.below(4) as usize]),
            2 => format!("What is {} + {}?", rng.below(1000), rng.below(1000)),
            _ => format!("Define {} in one line.", pick(rng, TOPICS)),
        },
        "multimodal" => match rng.below(2) {
            0 => "Describe what is shown in the attached chart and list three takeaways.".to_string(),
            _ => "Read the attached receipt image and extract the total and the date.".to_string(),
        },
        _ => match rng.below(3) {
            0 => format!("Explain {} to a new engineer, with an example.", pick(rng, TOPICS)),
            1 => format!("Analyze the trade-offs of {} for a small company and recommend a choice.", pick(rng, TOPICS)),
            _ => format!("Explain and analyze why {} matters, citing the main arguments on both sides.", pick(rng, TOPICS)),
        },
    }
}
