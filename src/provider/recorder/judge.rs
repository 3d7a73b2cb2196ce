//! The dataset's LLM judge, ready to call: its lane, price and the verdict record.
//!
//! The answer is stored before the judge is called (a crash between the two loses no
//! paid answer); the verdict goes to `judged.jsonl`.

use super::cost::{Answerer, billed};
use super::lane::Lane;
use crate::dataset::recorded::scorer::Judge;
use crate::dataset::recorded::store::JudgeRecord;
use crate::dataset::tokens::estimate_tokens;
use crate::pricing::{ModelPrice, Usage};
use crate::provider::client::CallOutcome;
use std::sync::Arc;

/// The judge of a recording run.
pub(super) struct JudgeSetup {
    /// Template, verdict pattern and scale.
    pub judge: Judge,
    /// The lane of the judge's provider.
    pub lane: Arc<Lane>,
    /// The provider's id of the judge model.
    pub model_id: String,
    /// The judge model's price.
    pub price: ModelPrice,
    /// `provider/model`, as recorded.
    pub name: String,
}

/// Which answer a verdict is about.
pub(super) struct Judged<'a> {
    /// Request id.
    pub request_id: &'a str,
    /// Dataset model that answered.
    pub model: &'a str,
    /// Sample number.
    pub sample: u32,
}

impl JudgeSetup {
    /// Worst-case cost of judging one answer: the template, the question, the answer
    /// and the reference in, the judge provider's `max_tokens` out.
    pub fn worst_case(
        &self,
        question_tokens: u32,
        answer_tokens: u32,
        reference_tokens: u32,
    ) -> f64 {
        let input = estimate_tokens(&self.judge.template)
            + question_tokens
            + answer_tokens
            + reference_tokens;
        self.price
            .cost(&Usage::plain(input, self.lane.provider.max_tokens))
    }

    /// The verdict record of a finished judge call on `prompt` (the filled template):
    /// its quality (parsed; a missing label when unparseable or failed), the first
    /// 2,000 characters of the verdict, and its cost.
    pub fn record(
        &self,
        about: &Judged<'_>,
        prompt: &str,
        out: &CallOutcome,
        at: String,
    ) -> JudgeRecord {
        let ok = out.status.is_ok();
        let verdict = out.output.clone().unwrap_or_default();
        JudgeRecord {
            request_id: about.request_id.to_string(),
            model: about.model.to_string(),
            sample: about.sample,
            judge: self.name.clone(),
            status: out.status.to_string(),
            quality: if ok { self.judge.parse(&verdict) } else { None },
            verdict: ok.then(|| verdict.chars().take(2000).collect()),
            cost_usd: billed(out, prompt, &verdict, &self.price, Answerer::Asked).cost_usd,
            recorded_at: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Status;
    use crate::dataset::recorded::scorer::{Scorer, from_toml};
    use crate::provider::client::Usage as Reported;

    fn setup() -> JudgeSetup {
        let Some(Scorer::Judge(judge)) = from_toml(
            "d.toml",
            "[scorer]\nkind = \"judge\"\nprovider = \"p\"\nmodel = \"j\"\ntemplate = \"Q {question} A {answer}\"\n",
        )
        .unwrap() else {
            panic!("a judge")
        };
        let ps = crate::provider::config::parse(
            "p.toml",
            "[[provider]]\nname = \"p\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodels = { j = \"judge-1\" }\nmax_tokens = 50\n",
        )
        .unwrap();
        JudgeSetup {
            judge,
            lane: Lane::new(&ps.providers[0]),
            model_id: "judge-1".into(),
            // $3 per million input tokens, $4 per million output tokens.
            price: ModelPrice::per_mtok(3.0, 4.0, "test"),
            name: "p/j".into(),
        }
    }

    #[test]
    fn worst_case_reads_template_question_answer_reference_and_writes_max_tokens() {
        let j = setup();
        let template = estimate_tokens("Q {question} A {answer}");
        // (template + 100 + 40 + 10) tokens at $3/M, plus max_tokens 50 at $4/M.
        let want = ((template + 150) as f64 * 3.0 + 50.0 * 4.0) / 1e6;
        assert!((j.worst_case(100, 40, 10) - want).abs() < 1e-15);
    }

    #[test]
    fn verdicts_are_parsed_priced_and_an_unparseable_one_is_a_missing_label() {
        let j = setup();
        let about = Judged {
            request_id: "q1",
            model: "m",
            sample: 0,
        };
        let out = |text: &str, status: Status| CallOutcome {
            status,
            output: Some(text.into()),
            usage: Reported {
                input_tokens: Some(20),
                output_tokens: Some(6),
                ..Reported::default()
            },
            ..CallOutcome::failed(Status::OK, String::new())
        };
        let r = j.record(
            &about,
            "Q x A y",
            &out("fine. [[7]]", Status::OK),
            "t".into(),
        );
        assert_eq!((r.quality, r.status.as_str()), (Some(0.7), "ok"));
        // 20 × $3/M + 6 × $4/M = $0.000084.
        assert!((r.cost_usd - 0.000084).abs() < 1e-15);
        let r = j.record(&about, "Q x A y", &out("no idea", Status::OK), "t".into());
        assert_eq!(r.quality, None, "unparseable: missing, not 0");
        let r = j.record(&about, "Q x A y", &out("", Status(500)), "t".into());
        assert_eq!((r.quality, r.cost_usd, r.verdict), (None, 0.0, None));
    }
}
