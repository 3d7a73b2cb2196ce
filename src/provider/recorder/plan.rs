//! Which calls a recording run makes: every (request, model, sample) cell the dataset
//! and the store lack, plus stored answers still waiting for the judge's verdict.

use crate::dataset::Dataset;
use crate::dataset::recorded::store::CellKey;
use crate::error::{Diagnostic, InputError};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One unit of work.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Task {
    /// Request index in the dataset.
    pub req: usize,
    /// Dataset model name.
    pub model: String,
    /// Sample number.
    pub sample: u32,
    /// A stored answer that only needs the judge (no model call).
    pub judge_only: Option<String>,
}

/// The work of a run.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Calls to make, in request order.
    pub tasks: Vec<Task>,
    /// Cells found already recorded.
    pub already: usize,
}

impl Plan {
    /// Cells that need a model call.
    pub fn planned(&self) -> usize {
        self.tasks.iter().filter(|t| t.judge_only.is_none()).count()
    }
}

/// What to plan for.
pub(super) struct Wanted<'a> {
    /// Models to fill.
    pub models: &'a [String],
    /// Samples per cell.
    pub samples: u32,
    /// Only these (request id, model) cells, when given.
    pub cells: Option<&'a HashSet<(String, String)>>,
}

/// Plan the cells of `ds` still missing: neither in the dataset nor in the store
/// (`done`). Stored answers in `unjudged` get a judge-only task. A cell to record
/// whose request has no text is an error naming it.
pub(super) fn plan(
    ds: &Dataset,
    dataset_dir: &Path,
    w: &Wanted<'_>,
    done: &HashSet<CellKey>,
    unjudged: &HashMap<CellKey, String>,
) -> Result<Plan, InputError> {
    let mut p = Plan::default();
    let mut no_input = Vec::new();
    for r in 0..ds.n_requests() {
        let id = &ds.requests.ids[r];
        for m in w.models {
            if let Some(cells) = w.cells
                && !cells.contains(&(id.clone(), m.clone()))
            {
                continue;
            }
            let have = ds.model_id(m).map(|mid| ds.n_samples(r, mid)).unwrap_or(0) as u32;
            for k in 0..w.samples {
                let key: CellKey = (id.clone(), m.clone(), k);
                if k < have || done.contains(&key) {
                    p.already += 1;
                    if let Some(answer) = unjudged.get(&key) {
                        p.tasks.push(Task {
                            req: r,
                            model: m.clone(),
                            sample: k,
                            judge_only: Some(answer.clone()),
                        });
                    }
                    continue;
                }
                if ds.requests.input.get(r).is_empty() {
                    no_input.push(id.clone());
                    continue;
                }
                p.tasks.push(Task {
                    req: r,
                    model: m.clone(),
                    sample: k,
                    judge_only: None,
                });
            }
        }
    }
    if !no_input.is_empty() {
        no_input.dedup();
        return Err(InputError::one(Diagnostic::file(
            dataset_dir.to_string_lossy(),
            format!(
                "{} requests have no input text to send (e.g. \"{}\")",
                no_input.len(),
                no_input[0]
            ),
        )));
    }
    Ok(p)
}
