//! EC2's request throttling: token buckets per action (requests) and per action group
//! (instance counts), refilled continuously, optionally drained by simulated other traffic in
//! the same account. An empty bucket answers HTTP 503 `RequestLimitExceeded`.

use std::collections::HashMap;
use tokio::time::Instant;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens the bucket holds when full (the burst).
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_sec: f64,
}

impl Rate {
    /// A bucket of `capacity` refilled at `refill_per_sec`.
    pub const fn new(capacity: f64, refill_per_sec: f64) -> Rate {
        Rate {
            capacity,
            refill_per_sec,
        }
    }
}

/// EC2's documented request buckets (capacity, refill per second). Unfiltered and unpaginated
/// describes have their own, smaller bucket, keyed `Action#unpaginated`.
pub fn ec2_request_rates() -> HashMap<String, Rate> {
    [
        ("DescribeInstances", Rate::new(100.0, 20.0)),
        ("DescribeNetworkInterfaces", Rate::new(100.0, 20.0)),
        ("DescribeInstances#unpaginated", Rate::new(50.0, 10.0)),
        (
            "DescribeNetworkInterfaces#unpaginated",
            Rate::new(50.0, 10.0),
        ),
        ("RunInstances", Rate::new(5.0, 2.0)),
        ("StartInstances", Rate::new(5.0, 2.0)),
        ("StopInstances", Rate::new(50.0, 5.0)),
        ("RebootInstances", Rate::new(50.0, 5.0)),
        ("TerminateInstances", Rate::new(100.0, 5.0)),
        ("MonitorInstances", Rate::new(50.0, 5.0)),
        ("UnmonitorInstances", Rate::new(50.0, 5.0)),
        ("CreateNetworkInterface", Rate::new(100.0, 5.0)),
        ("AttachNetworkInterface", Rate::new(50.0, 5.0)),
        ("DetachNetworkInterface", Rate::new(50.0, 5.0)),
        ("DeleteNetworkInterface", Rate::new(50.0, 5.0)),
        ("CreateTags", Rate::new(100.0, 10.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// EC2's documented instance-count buckets: instances launched/started, stopped/terminated.
pub fn ec2_instance_rates() -> HashMap<String, Rate> {
    [
        ("RunInstances", Rate::new(1000.0, 2.0)),
        ("StartInstances", Rate::new(1000.0, 2.0)),
        ("StopInstances", Rate::new(1000.0, 20.0)),
        ("TerminateInstances", Rate::new(1000.0, 20.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// One token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    /// Its size and refill.
    rate: Rate,
    /// Tokens now (may go below zero while other traffic drains it).
    tokens: f64,
    /// Tokens per second other tools of the account take from it.
    drain_per_sec: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Bucket {
    fn new(rate: Rate) -> Bucket {
        Bucket {
            rate,
            tokens: rate.capacity,
            drain_per_sec: 0.0,
            updated: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.updated).as_secs_f64();
        let net = self.rate.refill_per_sec - self.drain_per_sec;
        self.tokens = (self.tokens + elapsed * net).clamp(0.0, self.rate.capacity);
        self.updated = now;
    }
}

/// Every bucket of the account.
#[derive(Debug, Clone)]
pub struct Throttle {
    /// Request buckets by action (or `Action#unpaginated`).
    requests: HashMap<String, Bucket>,
    /// Instance-count buckets by action.
    instances: HashMap<String, Bucket>,
}

impl Throttle {
    /// Buckets at the given rates, full.
    pub fn new(requests: HashMap<String, Rate>, instances: HashMap<String, Rate>) -> Throttle {
        let full = |rates: HashMap<String, Rate>| {
            rates
                .into_iter()
                .map(|(k, rate)| (k, Bucket::new(rate)))
                .collect()
        };
        Throttle {
            requests: full(requests),
            instances: full(instances),
        }
    }

    /// Sets (or adds) the request bucket of `key`, full.
    pub fn set_request_rate(&mut self, key: &str, rate: Rate) {
        self.requests.insert(key.to_owned(), Bucket::new(rate));
    }

    /// Simulates other traffic taking `per_sec` request tokens of `key` every second.
    pub fn drain(&mut self, key: &str, per_sec: f64) {
        if let Some(bucket) = self.requests.get_mut(key) {
            bucket.refill(Instant::now());
            bucket.drain_per_sec = per_sec;
        }
    }

    /// Takes one request token of `key` and `instance_count` instance tokens of `action`;
    /// false (taking nothing) when either bucket is short. Keys without a bucket are free.
    pub fn admit(&mut self, key: &str, action: &str, instance_count: usize) -> bool {
        let now = Instant::now();
        let request_ok = self.requests.get_mut(key).is_none_or(|b| {
            b.refill(now);
            b.tokens >= 1.0
        });
        let wanted = instance_count as f64;
        let instances_ok = instance_count == 0
            || self.instances.get_mut(action).is_none_or(|b| {
                b.refill(now);
                b.tokens >= wanted
            });
        if !(request_ok && instances_ok) {
            return false;
        }
        if let Some(b) = self.requests.get_mut(key) {
            b.tokens -= 1.0;
        }
        if instance_count > 0
            && let Some(b) = self.instances.get_mut(action)
        {
            b.tokens -= wanted;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_burst_then_refuses() {
        let mut t = Throttle::new(ec2_request_rates(), ec2_instance_rates());
        let admitted = (0..10)
            .filter(|_| t.admit("RunInstances", "RunInstances", 1))
            .count();
        assert_eq!(admitted, 5, "RunInstances bursts 5");
        // Instance counts: the 5 launches took 5 of the 1000-instance bucket, so 996 more
        // instances are refused and 995 admitted.
        t.set_request_rate("RunInstances", Rate::new(100.0, 100.0));
        assert!(!t.admit("RunInstances", "RunInstances", 996));
        assert!(t.admit("RunInstances", "RunInstances", 995));
        // Keys without a bucket are not throttled.
        assert!((0..1000).all(|_| t.admit("DescribeImages", "DescribeImages", 0)));
    }
}
