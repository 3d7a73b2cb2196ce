//! What a call costs on one policy's view of prices: the PriceBook's price per model
//! and the `price` what-if factor, applied alike to recorded and priced costs. Used by
//! the engine, by learned routes' estimates and by the oracle, so a what-if reaches
//! every decision.

use crate::dataset::Sample;
use crate::pricing::{ModelPrice, Usage};

/// Prices per model (what-ifs applied) and the factor applied to recorded costs.
#[derive(Debug, Clone)]
pub struct Costs {
    /// Price per model, scaled by its what-if factor.
    pub prices: Vec<ModelPrice>,
    /// What-if factor per model (1 without a `price` scenario).
    pub factor: Vec<f64>,
}

impl Costs {
    /// Prices with a factor per model.
    pub fn new(prices: &[ModelPrice], factor: &[f64]) -> Costs {
        Costs {
            prices: prices
                .iter()
                .zip(factor)
                .map(|(p, &f)| scale_price(p, f))
                .collect(),
            factor: factor.to_vec(),
        }
    }

    /// Prices as given (no what-if).
    pub fn plain(prices: &[ModelPrice]) -> Costs {
        Costs {
            prices: prices.to_vec(),
            factor: vec![1.0; prices.len()],
        }
    }

    /// Cost of a call with `usage` to model `m` at list price.
    #[inline]
    pub fn priced(&self, m: usize, usage: &Usage) -> f64 {
        self.prices[m].cost(usage)
    }

    /// Cost of a recorded sample as it is: its recorded cost (scaled), else its
    /// tokens at list price when it succeeded, else 0 (an error without a recorded
    /// cost is not billed).
    #[inline]
    pub fn sample_cost(&self, s: &Sample, m: usize) -> f64 {
        if !s.cost_usd.is_nan() {
            s.cost_usd * self.factor[m]
        } else if s.status.is_ok() {
            self.priced(m, &s.usage())
        } else {
            0.0
        }
    }

    /// A failed call's cost: what the dataset records for it (scaled), else 0.
    #[inline]
    pub fn recorded_or_zero(&self, s: &Sample, m: usize) -> f64 {
        if s.cost_usd.is_nan() {
            0.0
        } else {
            s.cost_usd * self.factor[m]
        }
    }
}

fn scale_price(p: &ModelPrice, f: f64) -> ModelPrice {
    if f == 1.0 {
        return p.clone();
    }
    let sc = |r: &crate::pricing::Rate| crate::pricing::Rate {
        base: r.base * f,
        tiers: r.tiers.iter().map(|&(s, x)| (s, x * f)).collect(),
    };
    ModelPrice {
        input: sc(&p.input),
        output: sc(&p.output),
        cache_read: p.cache_read.as_ref().map(sc),
        cache_write: p.cache_write.as_ref().map(sc),
        reasoning: p.reasoning.as_ref().map(sc),
        per_request: p.per_request * f,
        context_window: p.context_window,
        max_output_tokens: p.max_output_tokens,
        source: format!("{} ×{f}", p.source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Status;

    #[test]
    fn what_if_factor_scales_recorded_and_priced_costs() {
        let c = Costs::new(&[ModelPrice::per_mtok(1.0, 2.0, "t")], &[100.0]);
        // 1000 in, 1000 out at $1/$2 per Mtok = $0.003, ×100 = $0.30.
        let s = Sample::ok(1000, 1000, 10.0, 1.0);
        assert!((c.sample_cost(&s, 0) - 0.3).abs() < 1e-12);
        let rec = Sample {
            cost_usd: 0.01,
            ..s
        };
        assert!((c.sample_cost(&rec, 0) - 1.0).abs() < 1e-12);
        let err = Sample {
            status: Status(500),
            ..s
        };
        assert_eq!(c.sample_cost(&err, 0), 0.0);
        assert_eq!(c.recorded_or_zero(&err, 0), 0.0);
    }
}
