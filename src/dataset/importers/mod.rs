//! Importers for published evaluation layouts, read in place.
//!
//! - [`fastchat`]: FastChat / Arena-Hard folders (`question.jsonl`, `model_answer/`,
//!   `model_judgment/`), e.g. `arena-bench-v1`.
//! - [`gateway`]: production logs of LLM gateways (LiteLLM, Portkey, OpenRouter,
//!   Helicone, OpenAI Batch), with each request's logged outcome.
//! - RouteLLM and RouterBench CSVs are wide files and go through
//!   [`crate::dataset::wide`] (boolean correctness becomes quality 1/0).

pub mod fastchat;
pub mod gateway;
