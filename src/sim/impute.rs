//! `--missing impute`: a model's typical response, for cells it has no answer for.

use crate::dataset::{Dataset, ModelId, Sample, Status, flags as sflags};

/// Per-model imputed sample for `--missing impute`: status ok, median latency and
/// time to first token, median output tokens and mean quality of the model's recorded
/// successful answers (flagged [`sflags::IMPUTED`]). `None` for a model with none.
pub fn imputed_samples(ds: &Dataset) -> Vec<Option<Sample>> {
    (0..ds.n_models())
        .map(|m| {
            let mut lat = Vec::new();
            let mut ttft = Vec::new();
            let mut out = Vec::new();
            let (mut q, mut nq) = (0.0, 0usize);
            for r in 0..ds.n_requests() {
                let s = ds.cell(r, m as ModelId);
                if s.status.is_ok() {
                    lat.push(s.latency_ms as f64);
                    if !s.ttft_ms.is_nan() {
                        ttft.push(s.ttft_ms as f64);
                    }
                    out.push(s.output_tokens as f64);
                    if !s.quality.is_nan() {
                        q += s.quality;
                        nq += 1;
                    }
                }
            }
            if lat.is_empty() {
                return None;
            }
            let med = |v: &[f64]| crate::util::stats::quantile(v, 0.5).unwrap_or(f64::NAN);
            Some(Sample {
                status: Status::OK,
                flags: sflags::IMPUTED,
                output_tokens: med(&out).round() as u32,
                latency_ms: med(&lat) as f32,
                ttft_ms: med(&ttft) as f32,
                quality: if nq > 0 { q / nq as f64 } else { f64::NAN },
                ..Sample::MISSING
            })
        })
        .collect()
}
