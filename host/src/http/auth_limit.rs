//! Failed admin authentications by client address: past `admin.failed_auth_per_minute`
//! failures in a minute, every change the address asks for is answered 429 until its minute
//! is over, whether its token is right or not (so guessing gains nothing from speed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The length of a client's window of failures.
const WINDOW: Duration = Duration::from_secs(60);

/// At most this many addresses are followed; past it, expired windows are dropped, and if
/// none has expired a new address is not followed until one does (and logged).
const MAX_CLIENTS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed authentications per client address (IPv6 addresses by their /64 prefix: one
/// host usually owns a whole one).
#[derive(Debug)]
pub struct AuthLimiter {
    per_minute: u32,
    clients: Mutex<HashMap<IpAddr, Window>>,
}

/// The address a client's failures are counted under.
fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

impl AuthLimiter {
    /// Allows `per_minute` failures per address and minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` when `address` has used up its failures: refuse it for `wait`.
    pub fn blocked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let window = clients.get(&client_key(address))?;
        let elapsed = now.saturating_duration_since(window.started);
        (window.failures >= self.per_minute && elapsed < WINDOW).then(|| WINDOW - elapsed)
    }

    /// Counts one failed authentication of `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let key = client_key(address);
        if !clients.contains_key(&key) && clients.len() >= MAX_CLIENTS {
            clients.retain(|_, w| now.saturating_duration_since(w.started) < WINDOW);
            if clients.len() >= MAX_CLIENTS {
                tracing::warn!(%address, "admin: too many clients failing to authenticate to follow this one");
                return;
            }
        }
        let window = clients.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.saturating_duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_its_minute_is_over() {
        let limiter = AuthLimiter::new(3);
        let start = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..2 {
            limiter.failed(a, start);
        }
        assert_eq!(limiter.blocked(a, start), None, "2 of 3 failures");
        limiter.failed(a, start);
        assert_eq!(
            limiter.blocked(a, start + Duration::from_secs(20)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(limiter.blocked(b, start), None, "another address");
        assert_eq!(limiter.blocked(a, start + WINDOW), None, "a new minute");
        limiter.failed(a, start + WINDOW);
        assert_eq!(limiter.blocked(a, start + WINDOW), None, "counted afresh");
    }

    #[test]
    fn ipv6_addresses_count_by_their_prefix_and_mapped_ipv4_as_ipv4() {
        let limiter = AuthLimiter::new(1);
        let now = Instant::now();
        limiter.failed("2001:db8::1".parse().expect("ip"), now);
        assert!(
            limiter
                .blocked("2001:db8::ffff".parse().expect("ip"), now)
                .is_some()
        );
        assert!(
            limiter
                .blocked("2001:db8:0:1::1".parse().expect("ip"), now)
                .is_none()
        );
        limiter.failed("::ffff:10.0.0.9".parse().expect("ip"), now);
        assert!(
            limiter
                .blocked("10.0.0.9".parse().expect("ip"), now)
                .is_some()
        );
    }
}
