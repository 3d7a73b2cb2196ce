//! A tiny, stable, seedable RNG (SplitMix64 seeding a xoshiro256++ core).
//!
//! We own the generator so that results never change with a dependency's version:
//! the same seed gives the same simulation on every machine, forever. Streams are
//! derived per (policy, request) with [`Rng::for_stream`], so results do not depend on
//! the order in which threads visit requests.

/// Seeded pseudo-random generator (xoshiro256++). Copyable and allocation-free.
#[derive(Debug, Clone, Copy)]
pub struct Rng {
    s: [u64; 4],
}

/// One SplitMix64 step: advances `state` and returns a well-mixed 64-bit value.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator from one seed.
    pub fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Self { s }
    }

    /// An independent stream for (seed, a, b), e.g. (run seed, policy hash, request index).
    #[inline]
    pub fn for_stream(seed: u64, a: u64, b: u64) -> Self {
        let mut st = seed ^ a.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let x = splitmix64(&mut st);
        let mut st2 = x ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self::new(splitmix64(&mut st2))
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n). `n` must be > 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the bias is below 2^-40 for the n we use.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal variate (Box–Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64(); // (0, 1]
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Lognormal variate with the given median and log-space sigma.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Bernoulli trial with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Index drawn from cumulative weights (last element is the total).
    #[inline]
    pub fn pick_cumulative(&mut self, cumulative: &[f64]) -> usize {
        let total = *cumulative.last().unwrap_or(&0.0);
        let x = self.f64() * total;
        cumulative
            .iter()
            .position(|&c| x < c)
            .unwrap_or(cumulative.len().saturating_sub(1))
    }

    /// Exponential variate with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
}

/// An RNG stream created on first use: most simulated requests draw no random number,
/// so seeding is skipped for them (the stream is the same whenever it is created).
#[derive(Debug, Clone, Copy)]
pub struct LazyRng {
    seed: u64,
    a: u64,
    b: u64,
    rng: Option<Rng>,
}

impl LazyRng {
    /// The stream [`Rng::for_stream`]`(seed, a, b)`, not yet seeded.
    #[inline]
    pub fn new(seed: u64, a: u64, b: u64) -> Self {
        LazyRng {
            seed,
            a,
            b,
            rng: None,
        }
    }

    /// The generator (seeded on the first call).
    #[inline]
    pub fn get(&mut self) -> &mut Rng {
        let (seed, a, b) = (self.seed, self.a, self.b);
        self.rng.get_or_insert_with(|| Rng::for_stream(seed, a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let mut a = Rng::for_stream(7, 1, 2);
        let mut b = Rng::for_stream(7, 1, 2);
        let mut c = Rng::for_stream(7, 1, 3);
        let va: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn uniform_and_normal_moments_are_plausible() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let mean_u: f64 = (0..n).map(|_| r.f64()).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.005, "{mean_u}");
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.02, "{m} {v}");
    }

    #[test]
    fn pick_cumulative_respects_weights() {
        let mut r = Rng::new(3);
        let cum = [1.0, 4.0]; // 25% / 75%
        let n = 100_000;
        let ones = (0..n).filter(|_| r.pick_cumulative(&cum) == 1).count();
        let share = ones as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }
}
