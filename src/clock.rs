//! One clock for the whole application, so tests can move time (session
//! expiry, UTC midnight, signature skew) without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn plus_seconds(self, s: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(s))
    }

    /// RFC 3339 in UTC, e.g. `2026-11-22T15:04:05Z`.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
    }

    /// A short human form for the dashboard: `2026-11-22 15:04 UTC`.
    pub fn display(self) -> String {
        let s = self.to_rfc3339();
        match (s.get(..10), s.get(11..16)) {
            (Some(d), Some(t)) => format!("{d} {t} UTC"),
            _ => s,
        }
    }
}

/// The system clock, optionally shifted by a test offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// Non-zero: the clock stands still at this time (plus the offset).
    frozen_at: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Timestamp {
        let frozen = self.frozen_at.load(Ordering::Relaxed);
        if frozen != 0 {
            return Timestamp(frozen + self.offset.load(Ordering::Relaxed));
        }
        let real = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        Timestamp(real + self.offset.load(Ordering::Relaxed))
    }

    /// Stops this clock (and every clone of it) where it is; tests only, for
    /// checks that must not straddle a second boundary.
    pub fn freeze(&self) {
        let now = self.now().0 - self.offset.load(Ordering::Relaxed);
        self.frozen_at.store(now, Ordering::Relaxed);
    }

    /// Move this clock (and every clone of it) forward; tests only.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(Timestamp(1763800000).to_rfc3339(), "2025-11-22T08:26:40Z");
        assert_eq!(Timestamp(1763800000).display(), "2025-11-22 08:26 UTC");
    }

    #[test]
    fn advancing_a_clone_moves_the_original() {
        let clock = Clock::system();
        let before = clock.now();
        clock.clone().advance(3600);
        assert!(clock.now().0 >= before.0 + 3600);
    }
}
