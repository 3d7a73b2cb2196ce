//! What `routesim record` adds to a dataset folder, as the dataset sees it: the
//! append-only response store (`recorded.jsonl`) and the LLM judge's verdicts
//! (`judged.jsonl`) in [`store`], and the quality scorers that `dataset.toml`'s
//! `[scorer]` configures ([`scorer`]), and the notes shown with recorded cells
//! ([`notes`]: the recording concurrency, a text sent far shorter than the request).
//!
//! Readers include these files like any other responses file; the live client and
//! the recorder (`provider/`) write them. Nothing here makes a network call.

pub mod notes;
pub mod scorer;
pub mod store;

pub use notes::{concurrency_note, short_text_note};
