//! Per-client-IP rate limits (GCRA from `governor`). Limits are per
//! process, which docs/API.md §9 allows.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct IpRateLimiter {
    inner: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// When the key store may be swept next (unix seconds): a sweep is
    /// O(keys), so at most once a second, never on every check.
    next_sweep: Arc<std::sync::atomic::AtomicU64>,
}

/// Keys kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

impl IpRateLimiter {
    /// `per_minute` requests a minute per address (bursting up to that many);
    /// 0 turns the limit off.
    pub fn per_minute(per_minute: u32) -> IpRateLimiter {
        IpRateLimiter {
            inner: NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
            next_sweep: Arc::default(),
        }
    }

    /// `Err(seconds to wait)` when `ip` is over its limit.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let (Some(limiter), Some(ip)) = (&self.inner, ip) else {
            return Ok(());
        };
        if limiter.len() > SWEEP_AT {
            use std::sync::atomic::Ordering;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let due = self.next_sweep.load(Ordering::Relaxed);
            if now >= due
                && self.next_sweep.compare_exchange(due, now + 1, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                limiter.retain_recent();
            }
        }
        limiter.check_key(&key_of(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs().max(1)
        })
    }
}

/// A limit per name (a workspace, a user), for expensive work that a
/// signed-in caller could otherwise repeat without end.
#[derive(Clone)]
pub struct NamedRateLimiter {
    inner: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl NamedRateLimiter {
    pub fn per_minute(per_minute: u32) -> NamedRateLimiter {
        NamedRateLimiter {
            inner: NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
        }
    }

    /// `Err(seconds to wait)` when `name` is over its limit.
    pub fn check(&self, name: &str) -> Result<(), u64> {
        let Some(limiter) = &self.inner else { return Ok(()) };
        if limiter.len() > SWEEP_AT {
            limiter.retain_recent();
        }
        limiter
            .check_key(&name.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}

/// One budget per IPv4 address, and per /64 for IPv6 (one subscriber's
/// usual allocation: a client cannot mint itself fresh budgets).
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_attempt_in_a_minute_is_refused() {
        let limiter = IpRateLimiter::per_minute(10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert!(limiter.check(Some(ip)).is_ok());
        }
        let wait = limiter.check(Some(ip)).unwrap_err();
        assert!((1..=60).contains(&wait));
        // Another address has its own budget.
        assert!(limiter.check(Some("192.0.2.2".parse().unwrap())).is_ok());
    }

    #[test]
    fn an_ipv6_client_has_one_budget_per_64() {
        let limiter = IpRateLimiter::per_minute(2);
        assert!(limiter.check(Some("2001:db8::1".parse().unwrap())).is_ok());
        assert!(limiter.check(Some("2001:db8::ffff:2".parse().unwrap())).is_ok());
        assert!(limiter.check(Some("2001:db8::3".parse().unwrap())).is_err(), "same /64");
        assert!(limiter.check(Some("2001:db8:0:1::1".parse().unwrap())).is_ok(), "another /64");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = IpRateLimiter::per_minute(0);
        for _ in 0..100 {
            assert!(limiter.check(Some("192.0.2.1".parse().unwrap())).is_ok());
        }
    }
}
