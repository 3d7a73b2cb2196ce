//! Mergeable partial results (`routesim run --shard i/n`, `routesim merge`): what a
//! report needs of a policy, as counts, exact sums, second moments and quantile
//! sketches over one shard's requests, such that shards add up to the whole run.
//!
//! Merged figures versus one run over every request:
//! - counts, rates, totals, costs and the quality estimate: equal (exact sums);
//! - quality intervals and paired Δquality / Δcost intervals: the normal
//!   approximation from second moments — what one run uses above
//!   [`super::stats::BOOTSTRAP_MAX_N`] requests; equal up to rounding;
//! - latency and TTFT quantiles, Δp95: from [`Sketch`]es, within
//!   [`super::sketch::SKETCH_ALPHA`] (0.5%) relative; a merged Δp95 has no interval;
//! - the latency CDF and cumulative cost charts: from the sketches and from cost per
//!   hour of arrival.

use super::exact::ExactSum;
use super::quality::QualityAcc;
use super::sketch::Sketch;
use super::stats::{Paired, erfc, mcnemar, z_of};
use super::summary::{NO_VALUE, PolicySummary, SegmentSummary, rejected};
use super::table::{PolicyView, RunContext};
use super::tradeoff::{Comparison, Obs, PairedStats};
use crate::sim::trace::{DEFAULT_RULE, NONE16, TraceRow, flags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const RATE_FLAGS: [u32; 5] = [
    flags::FELL_BACK,
    flags::RETRIED,
    flags::CACHE_HIT,
    flags::ESCALATED,
    flags::TRUNCATED,
];

/// Quality moments of one stratum (successes or failures): count, labelled count,
/// Σq and Σq² of the labelled ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stratum {
    /// Requests.
    pub n: u64,
    /// Requests with a quality value.
    pub labelled: u64,
    /// Σ quality.
    pub sum: ExactSum,
    /// Σ quality².
    pub sum_sq: ExactSum,
}

impl Stratum {
    fn add(&mut self, q: f64) {
        self.n += 1;
        if !q.is_nan() {
            self.labelled += 1;
            self.sum.add(q);
            self.sum_sq.add(q * q);
        }
    }

    fn merge(&mut self, o: &Stratum) {
        self.n += o.n;
        self.labelled += o.labelled;
        self.sum.merge(&o.sum);
        self.sum_sq.merge(&o.sum_sq);
    }
}

/// The quality estimator's sums and second moments ([`super::quality`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityMoments {
    /// Successes.
    pub ok: Stratum,
    /// Failures.
    pub fail: Stratum,
}

/// Influence function of `Q` for a request of stratum `s` (0 ok, 1 fail), labelled or
/// not, as `A + B·q` — the same linearisation as [`super::quality`]'s.
fn influence_coefs(m: &QualityMoments, s: usize, labelled: bool) -> (f64, f64) {
    let n = (m.ok.n + m.fail.n) as f64;
    let strata = [m.ok, m.fail].map(|st| {
        (
            st.n as f64 / n,
            st.sum.finite_value() / n,
            st.labelled as f64 / n,
        )
    });
    let (mut a_coef, mut b_coef) = (0.0, 0.0);
    for (k, &(a, b, c)) in strata.iter().enumerate() {
        if a == 0.0 {
            continue;
        }
        if k == s {
            let ci = f64::from(u8::from(labelled));
            // (b/c)(1 − a) + (a/c)(bi − b) − (ab/c²)(ci − c), with bi = q when labelled.
            a_coef += (b / c) * (1.0 - a) - (a / c) * b - (a * b / (c * c)) * (ci - c);
            if labelled {
                b_coef += a / c;
            }
        } else {
            a_coef += -(b / c) * a - (a / c) * b + (a * b / (c * c)) * c;
        }
    }
    (a_coef, b_coef)
}

impl QualityMoments {
    /// Add one request's outcome (NaN quality: an unlabelled answer).
    pub fn add(&mut self, ok: bool, q: f64) {
        if ok { &mut self.ok } else { &mut self.fail }.add(q);
    }

    fn merge(&mut self, o: &QualityMoments) {
        self.ok.merge(&o.ok);
        self.fail.merge(&o.fail);
    }

    /// The estimator's running sums.
    pub fn acc(&self) -> QualityAcc {
        QualityAcc {
            n_ok: self.ok.n,
            n_ok_labelled: self.ok.labelled,
            sum_ok: self.ok.sum,
            n_fail: self.fail.n,
            n_fail_labelled: self.fail.labelled,
            sum_fail: self.fail.sum,
        }
    }

    /// Σ IF² over the requests.
    fn sum_if_sq(&self) -> f64 {
        let mut total = 0.0;
        for (s, st) in [self.ok, self.fail].iter().enumerate() {
            let (a, b) = influence_coefs(self, s, true);
            let (sq, sqq) = (st.sum.finite_value(), st.sum_sq.finite_value());
            total += st.labelled as f64 * a * a + 2.0 * a * b * sq + b * b * sqq;
            let (a0, _) = influence_coefs(self, s, false);
            total += (st.n - st.labelled) as f64 * a0 * a0;
        }
        total
    }

    /// The normal-approximation CI of `Q` (NaN when undefined or fewer than two values).
    pub fn ci(&self, level: f64) -> (f64, f64) {
        let acc = self.acc();
        let q = acc.value();
        let n = (self.ok.n + self.fail.n) as f64;
        if q.is_nan() || acc.n_valued() < 2 {
            return (f64::NAN, f64::NAN);
        }
        let half = z_of(level) * self.sum_if_sq().max(0.0).sqrt() / n;
        (q - half, q + half)
    }
}

/// Figures shared by a policy and its segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialAcc {
    /// Covered requests.
    pub covered: u64,
    /// Answered.
    pub ok: u64,
    /// Refused by the gateway itself.
    pub rejected: u64,
    /// Cost.
    pub cost: ExactSum,
    /// Quality.
    pub quality: QualityMoments,
    /// Fallback, retry, cache, escalation, truncation counts.
    pub flag_counts: [u64; 5],
    /// Provider calls.
    pub calls: u64,
    /// Latencies of requests that reached a provider or the cache.
    pub latency: Sketch,
    /// Times to first token.
    pub ttft: Sketch,
}

impl PartialAcc {
    fn add(&mut self, r: &TraceRow) {
        self.covered += 1;
        self.ok += u64::from(r.status.is_ok());
        self.cost.add(r.cost_usd);
        self.quality.add(r.status.is_ok(), r.quality);
        if rejected(r) {
            self.rejected += 1;
        } else {
            self.latency.add(r.latency_ms);
        }
        if !r.ttft_ms.is_nan() {
            self.ttft.add(r.ttft_ms as f64);
        }
        for (c, f) in self.flag_counts.iter_mut().zip(RATE_FLAGS) {
            *c += u64::from(r.has(f));
        }
        self.calls += r.attempts as u64;
    }

    fn seal(&mut self) {
        self.latency.seal();
        self.ttft.seal();
    }

    fn merge(&mut self, o: &PartialAcc) {
        self.covered += o.covered;
        self.ok += o.ok;
        self.rejected += o.rejected;
        self.cost.merge(&o.cost);
        self.quality.merge(&o.quality);
        for (a, b) in self.flag_counts.iter_mut().zip(o.flag_counts) {
            *a += b;
        }
        self.calls += o.calls;
        self.latency.merge(&o.latency);
        self.ttft.merge(&o.ttft);
    }

    fn rate(&self, count: u64) -> f64 {
        if self.covered == 0 {
            f64::NAN
        } else {
            count as f64 / self.covered as f64
        }
    }

    fn cost_per_1k(&self) -> f64 {
        if self.covered == 0 {
            f64::NAN
        } else {
            self.cost.value() / self.covered as f64 * 1000.0
        }
    }
}

/// Quality moments of the requests whose (stratum, labelled) are (`a`'s, `b`'s):
/// count, Σqa, Σqb, Σqa², Σqb², Σqa·qb (unlabelled sides contribute 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PairGroup {
    /// Pairs.
    pub n: u64,
    /// Σ qa.
    pub sa: f64,
    /// Σ qb.
    pub sb: f64,
    /// Σ qa².
    pub saa: f64,
    /// Σ qb².
    pub sbb: f64,
    /// Σ qa·qb.
    pub sab: f64,
}

/// A policy paired with one candidate baseline over the requests both cover.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairedPartial {
    /// Baseline policy index.
    pub baseline: usize,
    /// Pairs.
    pub pairs: u64,
    /// Σ cost of the policy and of the baseline.
    pub cost_a: ExactSum,
    /// Σ cost of the baseline.
    pub cost_b: ExactSum,
    /// Σ (cost a − cost b)².
    pub cost_d2: ExactSum,
    /// Quality moments of each side.
    pub qa: QualityMoments,
    /// The baseline's.
    pub qb: QualityMoments,
    /// Per (a's stratum × labelled, b's stratum × labelled): 4 × 4 groups.
    pub groups: Vec<PairGroup>,
    /// Every quality value on both sides is 0 or 1.
    pub zero_one: bool,
    /// McNemar counts (a 1 & b 0, a 0 & b 1).
    pub discordant: (u64, u64),
    /// Latencies of each side (requests that reached a provider).
    pub lat_a: Sketch,
    /// The baseline's.
    pub lat_b: Sketch,
}

fn group_of(o: &Obs) -> usize {
    usize::from(!o.ok) * 2 + usize::from(!o.quality.is_nan())
}

impl PairedPartial {
    /// Pair policy rows `a` with baseline outcomes `b` (aligned by request); with
    /// `sketch`, the two sides' latencies are kept in sketches (for merging).
    pub fn of(
        baseline: usize,
        a: &[TraceRow],
        b: &[Obs],
        b_covered: &[bool],
        sketch: bool,
    ) -> PairedPartial {
        let mut p = PairedPartial {
            baseline,
            groups: vec![PairGroup::default(); 16],
            zero_one: true,
            ..PairedPartial::default()
        };
        for ((ra, ob), &bc) in a.iter().zip(b).zip(b_covered) {
            if !ra.covered() || !bc {
                continue;
            }
            let oa = Obs::of(ra);
            p.pairs += 1;
            p.cost_a.add(oa.cost);
            p.cost_b.add(ob.cost);
            let d = oa.cost - ob.cost;
            p.cost_d2.add(d * d);
            p.qa.add(oa.ok, oa.quality);
            p.qb.add(ob.ok, ob.quality);
            let g = &mut p.groups[group_of(&oa) * 4 + group_of(ob)];
            let (qa, qb) = (
                if oa.quality.is_nan() { 0.0 } else { oa.quality },
                if ob.quality.is_nan() { 0.0 } else { ob.quality },
            );
            g.n += 1;
            g.sa += qa;
            g.sb += qb;
            g.saa += qa * qa;
            g.sbb += qb * qb;
            g.sab += qa * qb;
            let binary = |q: f64| q == 0.0 || q == 1.0;
            p.zero_one &= binary(oa.quality) && binary(ob.quality);
            if oa.quality == 1.0 && ob.quality == 0.0 {
                p.discordant.0 += 1;
            } else if oa.quality == 0.0 && ob.quality == 1.0 {
                p.discordant.1 += 1;
            }
            if sketch {
                p.lat_a.add(oa.latency);
                p.lat_b.add(ob.latency);
            }
        }
        p.lat_a.seal();
        p.lat_b.seal();
        p
    }

    fn merge(&mut self, o: &PairedPartial) {
        self.pairs += o.pairs;
        self.cost_a.merge(&o.cost_a);
        self.cost_b.merge(&o.cost_b);
        self.cost_d2.merge(&o.cost_d2);
        self.qa.merge(&o.qa);
        self.qb.merge(&o.qb);
        for (g, h) in self.groups.iter_mut().zip(&o.groups) {
            g.n += h.n;
            g.sa += h.sa;
            g.sb += h.sb;
            g.saa += h.saa;
            g.sbb += h.sbb;
            g.sab += h.sab;
        }
        self.zero_one &= o.zero_one;
        self.discordant.0 += o.discordant.0;
        self.discordant.1 += o.discordant.1;
        self.lat_a.merge(&o.lat_a);
        self.lat_b.merge(&o.lat_b);
    }

    /// The paired figures (normal approximations; Δp95 without an interval).
    pub fn stats(&self) -> PairedStats {
        let n = self.pairs as f64;
        let level = 0.95;
        let normal = |delta: f64, se: f64| {
            let half = z_of(level) * se;
            let p = if se > 0.0 {
                erfc((delta / se).abs() / std::f64::consts::SQRT_2)
            } else if delta == 0.0 {
                1.0
            } else {
                0.0
            };
            Paired {
                n: self.pairs as usize,
                delta,
                lo: delta - half,
                hi: delta + half,
                p,
            }
        };
        // Δcost: mean of d with the sample variance of d.
        let (ca, cb) = (self.cost_a.value(), self.cost_b.value());
        let cost = if self.pairs < 2 {
            Paired {
                n: self.pairs as usize,
                delta: (ca - cb) / n,
                lo: f64::NAN,
                hi: f64::NAN,
                p: f64::NAN,
            }
        } else {
            let mean = (ca - cb) / n;
            let var = ((self.cost_d2.value() - n * mean * mean) / (n - 1.0)).max(0.0);
            normal(mean, (var / n).sqrt())
        };
        // Δquality: Σ (IFa − IFb)² from the group moments.
        let (ea, eb) = (self.qa.acc(), self.qb.acc());
        let delta = ea.value() - eb.value();
        let quality = if delta.is_nan() || self.pairs < 2 {
            Paired {
                n: self.pairs as usize,
                delta,
                lo: f64::NAN,
                hi: f64::NAN,
                p: f64::NAN,
            }
        } else {
            let mut ss = 0.0;
            for (gi, g) in self.groups.iter().enumerate() {
                if g.n == 0 {
                    continue;
                }
                let (ga, gb) = (gi / 4, gi % 4);
                let (aa, ba) = influence_coefs(&self.qa, ga / 2, ga % 2 == 1);
                let (ab, bb) = influence_coefs(&self.qb, gb / 2, gb % 2 == 1);
                // Σ (aa + ba·qa − ab − bb·qb)².
                let c = aa - ab;
                ss += g.n as f64 * c * c + ba * ba * g.saa + bb * bb * g.sbb + 2.0 * c * ba * g.sa
                    - 2.0 * c * bb * g.sb
                    - 2.0 * ba * bb * g.sab;
            }
            normal(delta, ss.max(0.0).sqrt() / n)
        };
        let binary = self.pairs > 0 && ea.complete() && eb.complete() && self.zero_one;
        let p_quality = if binary {
            mcnemar(self.discordant.0, self.discordant.1).1
        } else {
            quality.p
        };
        let p95 = Paired {
            n: self.pairs as usize,
            delta: self.lat_a.quantile(0.95) - self.lat_b.quantile(0.95),
            lo: f64::NAN,
            hi: f64::NAN,
            p: f64::NAN,
        };
        PairedStats {
            pairs: self.pairs as usize,
            cost_means: (ca / n, cb / n),
            quality_values: (ea.value(), eb.value()),
            quality,
            binary,
            discordant: self.discordant,
            p_quality,
            cost,
            p95,
        }
    }
}

/// Everything a merged report needs of one policy over one shard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyPartial {
    /// Requests in the shard.
    pub requests: u64,
    /// Covered requests' figures.
    pub acc: PartialAcc,
    /// Answers by model name.
    pub mix: BTreeMap<String, u64>,
    /// Requests per rule (rules in order, then the default).
    pub hits: Vec<u64>,
    /// Per `--by` key: per value, the figures.
    pub segments: Vec<(String, BTreeMap<String, PartialAcc>)>,
    /// Fingerprint of the set of requests covered, per shard (equal sets, equal
    /// fingerprints: the trade-off compares only policies on the same requests).
    pub covered_sets: Vec<u64>,
    /// Cost by hour of arrival (epoch hours), when requests have timestamps.
    pub cost_by_hour: BTreeMap<i64, ExactSum>,
    /// Pairings with each candidate baseline.
    pub paired: Vec<PairedPartial>,
}

/// Hour bucket of an epoch time.
const HOUR_MS: i64 = 3_600_000;

impl PolicyPartial {
    /// The partial figures of one policy's rows. `ts_ms`: the requests' timestamps
    /// (for the cost curve); `baselines`: candidate baselines' outcomes to pair with.
    pub fn of(
        ctx: &RunContext,
        v: PolicyView,
        by: &[String],
        ts_ms: Option<&[i64]>,
        baselines: &[(usize, &super::tradeoff::BaselineOutcomes)],
    ) -> Option<PolicyPartial> {
        let info = &ctx.policies[v.p];
        let mut out = PolicyPartial {
            requests: v.rows.len() as u64,
            hits: vec![0; info.rules.len() + 1],
            ..PolicyPartial::default()
        };
        let mut segs: Vec<(&crate::dataset::MetaColumn, Vec<PartialAcc>)> = Vec::new();
        for key in by {
            let name = key.strip_prefix("meta.").unwrap_or(key);
            let col = ctx.meta.iter().find(|m| m.name == name)?;
            segs.push((col, vec![PartialAcc::default(); col.dict.len() + 1]));
        }
        let mut bits = vec![0u64; v.rows.len().div_ceil(64)];
        let mut mix = vec![0u64; ctx.models.len() + ctx.served_models.len()];
        for (i, r) in v.rows.iter().enumerate() {
            match r.rule {
                DEFAULT_RULE => out.hits[info.rules.len()] += 1,
                NONE16 => {}
                k => out.hits[k as usize] += 1,
            }
            if !r.covered() {
                continue;
            }
            bits[i >> 6] |= 1 << (i & 63);
            out.acc.add(r);
            if r.served != NONE16 {
                mix[ctx.models.len() + r.served as usize] += 1;
            } else if r.model != NONE16 {
                mix[r.model as usize] += 1;
            }
            for (col, accs) in &mut segs {
                let code = col.codes[i];
                let slot = if code == crate::dataset::MetaColumn::NONE {
                    col.dict.len()
                } else {
                    code as usize
                };
                accs[slot].add(r);
            }
            if let Some(ts) = ts_ms {
                out.cost_by_hour
                    .entry(ts[i].div_euclid(HOUR_MS))
                    .or_default()
                    .add(r.cost_usd);
            }
        }
        out.acc.seal();
        for (m, &n) in mix.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = ctx
                .models
                .get(m)
                .unwrap_or_else(|| &ctx.served_models[m - ctx.models.len()]);
            *out.mix.entry(name.clone()).or_default() += n;
        }
        for ((col, accs), key) in segs.into_iter().zip(by) {
            let mut values = BTreeMap::new();
            for (slot, mut a) in accs.into_iter().enumerate() {
                if a.covered == 0 {
                    continue;
                }
                a.seal();
                let value = col.dict.get(slot).map_or(NO_VALUE, |s| s.as_str());
                values.insert(value.to_string(), a);
            }
            out.segments.push((key.clone(), values));
        }
        let bytes: Vec<u8> = bits.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.covered_sets = vec![crate::util::hash::stable_hash(&bytes)];
        out.paired = baselines
            .iter()
            .filter(|(b, _)| *b != v.p)
            .map(|(b, o)| PairedPartial::of(*b, v.rows, &o.obs, &o.covered, true))
            .collect();
        Some(out)
    }

    /// Add another shard's figures (shards in order).
    pub fn merge(&mut self, o: &PolicyPartial) {
        self.requests += o.requests;
        self.acc.merge(&o.acc);
        for (k, n) in &o.mix {
            *self.mix.entry(k.clone()).or_default() += n;
        }
        for (a, b) in self.hits.iter_mut().zip(&o.hits) {
            *a += b;
        }
        for ((_, mine), (_, theirs)) in self.segments.iter_mut().zip(&o.segments) {
            for (value, acc) in theirs {
                mine.entry(value.clone()).or_default().merge(acc);
            }
        }
        self.covered_sets.extend_from_slice(&o.covered_sets);
        for (h, c) in &o.cost_by_hour {
            self.cost_by_hour.entry(*h).or_default().merge(c);
        }
        for p in &o.paired {
            match self.paired.iter_mut().find(|q| q.baseline == p.baseline) {
                Some(q) => q.merge(p),
                None => self.paired.push(p.clone()),
            }
        }
    }

    /// The summary row of the merged figures.
    pub fn summary(&self, info: &crate::sim::trace::PolicyInfo) -> PolicySummary {
        let a = &self.acc;
        let covered = a.covered;
        let mut model_mix: Vec<(String, f64)> = self
            .mix
            .iter()
            .map(|(name, n)| (name.clone(), *n as f64 / covered as f64))
            .collect();
        model_mix.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let q = a.quality.acc();
        let (quality_lo, quality_hi) = a.quality.ci(0.95);
        PolicySummary {
            policy: info.name.clone(),
            kind: info.kind.label().to_string(),
            requests: self.requests,
            covered,
            coverage: covered as f64 / self.requests.max(1) as f64,
            success_rate: a.rate(a.ok),
            rejected_rate: a.rate(a.rejected),
            cost_total: a.cost.value(),
            cost_per_1k: a.cost_per_1k(),
            cost_per_success: if a.ok > 0 {
                a.cost.value() / a.ok as f64
            } else {
                f64::NAN
            },
            quality_mean: q.value(),
            quality_n: q.n_valued(),
            labelled_share: q.labelled_share(),
            quality_lo,
            quality_hi,
            latency_p50: a.latency.quantile(0.5),
            latency_p90: a.latency.quantile(0.9),
            latency_p95: a.latency.quantile(0.95),
            latency_p99: a.latency.quantile(0.99),
            ttft_p50: a.ttft.quantile(0.5),
            ttft_p95: a.ttft.quantile(0.95),
            fallback_rate: a.rate(a.flag_counts[0]),
            retry_rate: a.rate(a.flag_counts[1]),
            cache_rate: a.rate(a.flag_counts[2]),
            escalation_rate: a.rate(a.flag_counts[3]),
            truncated_rate: a.rate(a.flag_counts[4]),
            attempts_mean: a.rate(a.calls),
            model_mix,
            rule_hits: info
                .rules
                .iter()
                .map(String::as_str)
                .chain(std::iter::once("default"))
                .zip(&self.hits)
                .map(|(n, h)| (n.to_string(), *h))
                .collect(),
            // Shards refuse --missing impute.
            imputed_share: None,
        }
    }

    /// The segment rows of the merged figures (values in text order).
    pub fn segment_rows(&self, policy: &str) -> Vec<SegmentSummary> {
        let mut out = Vec::new();
        for (key, values) in &self.segments {
            for (value, a) in values {
                out.push(SegmentSummary {
                    policy: policy.to_string(),
                    key: key.clone(),
                    value: value.clone(),
                    covered: a.covered,
                    success_rate: a.rate(a.ok),
                    cost_total: a.cost.value(),
                    cost_per_1k: a.cost_per_1k(),
                    quality_mean: a.quality.acc().value(),
                    quality_n: a.quality.acc().n_valued(),
                    latency_p50: a.latency.quantile(0.5),
                    latency_p95: a.latency.quantile(0.95),
                    imputed_share: None,
                });
            }
        }
        out
    }

    /// Cumulative cost over hours since the first hour with a request, at most
    /// `points` steps; `None` without timestamps or with an unknown cost.
    pub fn cost_curve(&self, first_ms: i64, points: usize) -> Option<Vec<(f64, f64)>> {
        if self.cost_by_hour.is_empty() || self.cost_by_hour.values().any(|c| c.nan > 0) {
            return None;
        }
        let step = (self.cost_by_hour.len() / points.max(1)).max(1);
        let mut acc = ExactSum::default();
        let last = self.cost_by_hour.len() - 1;
        let mut out = Vec::new();
        for (i, (h, c)) in self.cost_by_hour.iter().enumerate() {
            acc.merge(c);
            if i % step == 0 || i == last {
                let end = (h + 1) * HOUR_MS;
                out.push(((end - first_ms) as f64 / HOUR_MS as f64, acc.value()));
            }
        }
        Some(out)
    }

    /// The comparison with `baseline` (when paired with it).
    pub fn comparison(
        &self,
        policy: &str,
        baseline: usize,
        baseline_name: &str,
    ) -> Option<Comparison> {
        let p = self.paired.iter().find(|p| p.baseline == baseline)?;
        Some(Comparison {
            policy: policy.to_string(),
            baseline: baseline_name.to_string(),
            stats: p.stats(),
            p_quality_holm: f64::NAN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::quality::{QObs, quality_ci};
    use crate::analysis::tradeoff::{BaselineOutcomes, paired_stats};
    use crate::dataset::Status;
    use crate::util::rng::Rng;

    #[test]
    fn paired_running_sums_equal_the_paired_normal_approximations() {
        // 30,000 requests (above the bootstrap size): partial labels, failures,
        // uncovered requests on either side.
        let mut rng = Rng::new(8);
        let row = |rng: &mut Rng| {
            let mut r = TraceRow::EMPTY;
            if rng.chance(0.03) {
                r.flags |= flags::UNCOVERED;
            }
            r.status = if rng.chance(0.1) {
                Status::ERROR
            } else {
                Status::OK
            };
            r.attempts = 1;
            r.cost_usd = rng.f64() * 0.01;
            r.latency_ms = 100.0 + rng.f64() * 5000.0;
            r.quality = if !r.status.is_ok() {
                0.0
            } else if rng.chance(0.7) {
                (rng.f64() * 10.0).round() / 10.0
            } else {
                f64::NAN
            };
            r
        };
        let a: Vec<TraceRow> = (0..30_000).map(|_| row(&mut rng)).collect();
        let b_rows: Vec<TraceRow> = (0..30_000).map(|_| row(&mut rng)).collect();
        let base = BaselineOutcomes::of(PolicyView {
            p: 1,
            rows: &b_rows,
            arrivals: &[],
        });
        let part = PairedPartial::of(1, &a, &base.obs, &base.covered, false);
        let (x, y): (Vec<Obs>, Vec<Obs>) = a
            .iter()
            .zip(&b_rows)
            .filter(|(p, q)| p.covered() && q.covered())
            .map(|(p, q)| (Obs::of(p), Obs::of(q)))
            .unzip();
        let exact = paired_stats(&x, &y, 200, 1);
        let fast = part.stats();
        assert_eq!(fast.pairs, exact.pairs);
        assert_eq!(fast.quality_values, exact.quality_values);
        for (f, e) in [(fast.quality, exact.quality), (fast.cost, exact.cost)] {
            assert!((f.delta - e.delta).abs() < 1e-12, "{f:?} vs {e:?}");
            assert!(
                (f.lo - e.lo).abs() < 1e-9 && (f.hi - e.hi).abs() < 1e-9,
                "{f:?} vs {e:?}"
            );
            assert!((f.p - e.p).abs() < 1e-6, "{f:?} vs {e:?}");
        }
    }

    #[test]
    fn moment_interval_equals_the_influence_interval() {
        // Partial labels and failures with a value: the moments give exactly the
        // interval quality_ci computes from every request's influence (normal branch).
        let mut rng = Rng::new(21);
        let obs: Vec<QObs> = (0..3000)
            .map(|_| {
                let ok = !rng.chance(0.2);
                let q = if !ok {
                    0.1
                } else if rng.chance(0.6) {
                    (rng.f64() * 10.0).round() / 10.0
                } else {
                    f64::NAN
                };
                QObs { ok, quality: q }
            })
            .collect();
        let mut m = QualityMoments::default();
        obs.iter().for_each(|o| m.add(o.ok, o.quality));
        let (lo, hi) = m.ci(0.95);
        let (rlo, rhi) = quality_ci(&obs, 0, 0.95, 1);
        assert!(
            (lo - rlo).abs() < 1e-12 && (hi - rhi).abs() < 1e-12,
            "{lo} {hi} vs {rlo} {rhi}"
        );
    }
}
