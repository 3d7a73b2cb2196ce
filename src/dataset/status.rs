//! Response status: `ok`, an HTTP code, or one of a few named failures.

use std::fmt;

/// Status of one recorded (or simulated) response. HTTP codes are kept as numbers;
/// named failures use codes ≥ 1000 so they never collide with HTTP.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct Status(pub u16);

impl Status {
    /// No recorded response (a hole in the request × model matrix).
    pub const MISSING: Status = Status(0);
    /// Success.
    pub const OK: Status = Status(200);
    /// Too many requests (provider rate limit).
    pub const RATE_LIMITED: Status = Status(429);
    /// Service unavailable (used by outage scenarios).
    pub const UNAVAILABLE: Status = Status(503);
    /// A failure without an HTTP code.
    pub const ERROR: Status = Status(1000);
    /// The call did not finish in time.
    pub const TIMEOUT: Status = Status(1001);
    /// The prompt did not fit the model's context window.
    pub const CONTEXT_LENGTH: Status = Status(1002);
    /// Rejected by the simulated gateway itself (local rate limit, budget, breaker…).
    pub const GATEWAY_REJECTED: Status = Status(1003);

    /// Parse a status as written in datasets: `ok`, `error`, `timeout`,
    /// `context_length`, or an HTTP code (any 2xx counts as ok).
    pub fn parse(s: &str) -> Option<Status> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "" | "ok" | "success" | "succeeded" | "completed" | "stop" => Some(Self::OK),
            "error" | "failed" | "failure" | "exception" => Some(Self::ERROR),
            "timeout" | "timed_out" | "timedout" => Some(Self::TIMEOUT),
            "context_length" | "context_length_exceeded" | "context_window_exceeded" => {
                Some(Self::CONTEXT_LENGTH)
            }
            "rate_limited" | "rate_limit" => Some(Self::RATE_LIMITED),
            "gateway_rejected" => Some(Self::GATEWAY_REJECTED),
            _ => {
                let code: u16 = t.parse().ok()?;
                match code {
                    200..=299 => Some(Self::OK),
                    100..=599 => Some(Status(code)),
                    _ => None,
                }
            }
        }
    }

    /// Whether this is a successful response.
    #[inline]
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// Whether a response is recorded at all.
    #[inline]
    pub fn is_present(self) -> bool {
        self != Self::MISSING
    }

    /// The failure class of this status, used by `retries.on` and `fallback_on`.
    #[inline]
    pub fn class(self) -> StatusClass {
        match self.0 {
            0 => StatusClass::NONE,
            200 => StatusClass::OK,
            429 => StatusClass::RATE_LIMIT,
            408 | 1001 => StatusClass::TIMEOUT,
            1002 | 413 => StatusClass::CONTEXT,
            1003 => StatusClass::GATEWAY,
            500..=599 => StatusClass::SERVER,
            400..=499 => StatusClass::CLIENT,
            _ => StatusClass::ERROR,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::MISSING => f.write_str("missing"),
            Self::OK => f.write_str("ok"),
            Self::ERROR => f.write_str("error"),
            Self::TIMEOUT => f.write_str("timeout"),
            Self::CONTEXT_LENGTH => f.write_str("context_length"),
            Self::GATEWAY_REJECTED => f.write_str("gateway_rejected"),
            Status(c) => write!(f, "{c}"),
        }
    }
}

/// A set of failure classes (bit mask).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StatusClass(pub u8);

impl StatusClass {
    /// Empty set.
    pub const NONE: StatusClass = StatusClass(0);
    /// Success (never retried).
    pub const OK: StatusClass = StatusClass(1);
    /// HTTP 429.
    pub const RATE_LIMIT: StatusClass = StatusClass(2);
    /// HTTP 5xx.
    pub const SERVER: StatusClass = StatusClass(4);
    /// Other HTTP 4xx.
    pub const CLIENT: StatusClass = StatusClass(8);
    /// Timeouts (recorded, simulated, or HTTP 408).
    pub const TIMEOUT: StatusClass = StatusClass(16);
    /// Prompt too long for the model.
    pub const CONTEXT: StatusClass = StatusClass(32);
    /// Generic error.
    pub const ERROR: StatusClass = StatusClass(64);
    /// Rejected locally by the simulated gateway.
    pub const GATEWAY: StatusClass = StatusClass(128);
    /// Every failure class.
    pub const ANY_FAILURE: StatusClass = StatusClass(254);

    /// Names accepted in policy files, with their classes.
    pub const NAMES: [(&'static str, StatusClass); 9] = [
        ("429", Self::RATE_LIMIT),
        ("5xx", Self::SERVER),
        ("4xx", Self::CLIENT),
        ("timeout", Self::TIMEOUT),
        ("context_length", Self::CONTEXT),
        ("error", Self::ERROR),
        ("gateway", Self::GATEWAY),
        ("any", Self::ANY_FAILURE),
        ("rate_limit", Self::RATE_LIMIT),
    ];

    /// Look up a class by its policy-file name.
    pub fn from_name(name: &str) -> Option<StatusClass> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| *c)
    }

    /// Union.
    #[inline]
    pub fn union(self, o: StatusClass) -> StatusClass {
        StatusClass(self.0 | o.0)
    }

    /// Whether the two sets intersect.
    #[inline]
    pub fn intersects(self, o: StatusClass) -> bool {
        self.0 & o.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_codes() {
        assert_eq!(Status::parse("ok"), Some(Status::OK));
        assert_eq!(Status::parse("201"), Some(Status::OK));
        assert_eq!(Status::parse("429"), Some(Status(429)));
        assert_eq!(Status::parse("Timeout"), Some(Status::TIMEOUT));
        assert_eq!(Status::parse("42"), None);
        assert_eq!(Status::parse("banana"), None);
        assert_eq!(Status(503).class(), StatusClass::SERVER);
        assert_eq!(Status(400).class(), StatusClass::CLIENT);
        assert_eq!(Status::TIMEOUT.to_string(), "timeout");
        assert!(StatusClass::ANY_FAILURE.intersects(Status(502).class()));
        assert!(!StatusClass::ANY_FAILURE.intersects(Status::OK.class()));
    }
}
