//! At most so many open connections per client address. Counted when a
//! connection is accepted (`HttpServer::on_connect`) and released when it
//! closes; a connection past the cap is answered 429 `RATE_LIMITED` on its
//! first request and closed, before any body is read. Trusted proxies
//! (`LATCHKEY_TRUSTED_PROXIES`) carry many clients on their connections and
//! are not counted. IPv6 clients count per /64, the block one host
//! usually holds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Marks a connection opened past its address's cap.
#[derive(Debug, Clone, Copy)]
pub struct OverConnectionCap;

#[derive(Clone)]
pub struct ConnectionLimiter {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Held by a counted connection; dropping it (the connection closed)
/// releases its place.
pub struct Counted {
    key: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The address a client is counted under: itself, or its /64 for IPv6.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl ConnectionLimiter {
    /// `cap` 0: no limit.
    pub fn new(cap: usize) -> ConnectionLimiter {
        ConnectionLimiter { cap, open: Arc::default() }
    }

    /// A new connection from `ip`: its place, or `Err` when the address
    /// already holds `cap` connections (nothing is counted then).
    pub fn open(&self, ip: IpAddr) -> Result<Option<Counted>, OverConnectionCap> {
        if self.cap == 0 {
            return Ok(None);
        }
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.cap {
            return Err(OverConnectionCap);
        }
        *n += 1;
        Ok(Some(Counted { key, open: self.open.clone() }))
    }

    /// Addresses holding at least one connection.
    pub fn clients(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_released_when_its_connection_closes() {
        let limiter = ConnectionLimiter::new(2);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let a = limiter.open(ip).unwrap();
        let _b = limiter.open(ip).unwrap();
        assert!(limiter.open(ip).is_err(), "a third is over the cap");
        assert!(limiter.open("203.0.113.8".parse().unwrap()).is_ok(), "another address has its own");
        drop(a);
        assert!(limiter.open(ip).is_ok(), "a closed connection frees its place");
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_v4_as_v4() {
        let limiter = ConnectionLimiter::new(1);
        let _a = limiter.open("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(limiter.open("2001:db8:1:2:ffff::9".parse().unwrap()).is_err(), "same /64");
        let other = limiter.open("2001:db8:1:3::1".parse().unwrap());
        assert!(other.is_ok(), "another /64");
        let _v4 = limiter.open("192.0.2.1".parse().unwrap()).unwrap();
        assert!(limiter.open("::ffff:192.0.2.1".parse().unwrap()).is_err());
        assert_eq!(limiter.clients(), 3);
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = ConnectionLimiter::new(0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| limiter.open(ip).unwrap()).collect();
        assert_eq!(held.len(), 1000);
    }
}
