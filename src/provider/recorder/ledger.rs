//! The spend ledger of a recording run: what is reserved for calls in flight, what
//! answers, judge verdicts and preflight calls have cost, and the cap.
//!
//! A call may start only when everything spent plus everything reserved plus the
//! call's own worst case stays within the cap, so the run stops *before* the cap
//! would be exceeded, whatever the concurrency. When the call ends its reservation is
//! released and its real cost booked.

/// Spend of a recording run, USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpendLedger {
    /// `--max-spend`, when given.
    pub cap: Option<f64>,
    /// Worst cases of the calls in flight.
    pub reserved: f64,
    /// Recorded cost of the answers (model calls).
    pub answers: f64,
    /// Cost of the LLM judge's calls.
    pub judge: f64,
    /// Cost of the preflight calls (one per provider and model).
    pub preflight: f64,
}

impl SpendLedger {
    /// An empty ledger with an optional cap.
    pub fn new(cap: Option<f64>) -> SpendLedger {
        SpendLedger {
            cap,
            ..SpendLedger::default()
        }
    }

    /// Everything spent so far (answers, judge and preflight).
    pub fn spent(&self) -> f64 {
        self.answers + self.judge + self.preflight
    }

    /// Reserve a call's worst case; `false` (nothing reserved) when starting it could
    /// take the run past the cap.
    pub fn try_reserve(&mut self, worst: f64) -> bool {
        if let Some(cap) = self.cap
            && self.spent() + self.reserved + worst > cap
        {
            return false;
        }
        self.reserved += worst;
        true
    }

    /// A call reserved with `worst` has ended: release it and book what the answer
    /// and the judge really cost.
    pub fn settle(&mut self, worst: f64, answer: f64, judge: f64) {
        self.reserved = (self.reserved - worst).max(0.0);
        self.answers += answer;
        self.judge += judge;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_before_the_cap_counting_calls_in_flight() {
        // Cap $1.00; every call's worst case is $0.30.
        let mut l = SpendLedger::new(Some(1.0));
        // Three calls in flight reserve 0.90; a fourth would need 1.20 > 1.00.
        assert!(l.try_reserve(0.3) && l.try_reserve(0.3) && l.try_reserve(0.3));
        assert!(!l.try_reserve(0.3));
        assert!((l.reserved - 0.9).abs() < 1e-12);
        // The first ends: its answer cost 0.05 and its verdict 0.01.
        // Spent 0.06 + reserved 0.60 + a new 0.30 = 0.96 ≤ 1.00: a call may start.
        l.settle(0.3, 0.05, 0.01);
        assert!((l.spent() - 0.06).abs() < 1e-12);
        assert!(l.try_reserve(0.3));
        // Now 0.06 + 0.90 + 0.30 = 1.26 > 1.00.
        assert!(!l.try_reserve(0.3));
        // Everything ends at 0.05 + 0.01 each: 4 × 0.06 = 0.24 spent, nothing reserved.
        for _ in 0..3 {
            l.settle(0.3, 0.05, 0.01);
        }
        assert!(l.reserved.abs() < 1e-12);
        assert!((l.answers - 0.20).abs() < 1e-12 && (l.judge - 0.04).abs() < 1e-12);
        // 0.24 + 0.30 = 0.54 ≤ 1.00.
        assert!(l.try_reserve(0.3));
    }

    #[test]
    fn the_preflight_counts_against_the_cap() {
        // Cap $0.10; the preflight cost $0.02: a call with a $0.09 worst case would
        // reach 0.11 and may not start, one of $0.08 reaches exactly 0.10 and may.
        let mut l = SpendLedger::new(Some(0.1));
        l.preflight = 0.02;
        assert!(!l.try_reserve(0.09));
        assert!(l.try_reserve(0.08));
        l.settle(0.08, 0.01, 0.0);
        assert!((l.spent() - 0.03).abs() < 1e-12);
    }

    #[test]
    fn without_a_cap_every_call_may_start() {
        let mut l = SpendLedger::new(None);
        assert!(l.try_reserve(1e9));
        l.settle(1e9, 2.5, 0.0);
        assert_eq!((l.spent(), l.reserved), (2.5, 0.0));
    }
}
