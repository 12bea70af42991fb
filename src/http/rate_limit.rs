//! Per-client-IP rate limits (GCRA from `governor`). Limits are per
//! process, which PRODUCT.md §9 allows.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct IpRateLimiter {
    inner: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

/// Keys kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

impl IpRateLimiter {
    /// `per_minute` requests a minute per address (bursting up to that many);
    /// 0 turns the limit off.
    pub fn per_minute(per_minute: u32) -> IpRateLimiter {
        IpRateLimiter { inner: NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))) }
    }

    /// `Err(seconds to wait)` when `ip` is over its limit.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let (Some(limiter), Some(ip)) = (&self.inner, ip) else {
            return Ok(());
        };
        if limiter.len() > SWEEP_AT {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs().max(1)
        })
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
    fn zero_turns_the_limit_off() {
        let limiter = IpRateLimiter::per_minute(0);
        for _ in 0..100 {
            assert!(limiter.check(Some("192.0.2.1".parse().unwrap())).is_ok());
        }
    }
}
