//! EC2's API token buckets, as EC2 documents them per account and region: the numbers both
//! budgets (in-process and shared) start from.

use std::collections::HashMap;

/// A bucket's size and refill, as EC2 documents them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens when full (the burst).
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_sec: f64,
}

impl Rate {
    /// A bucket of `capacity` tokens refilled by `refill_per_sec` a second.
    pub const fn new(capacity: f64, refill_per_sec: f64) -> Rate {
        Rate {
            capacity,
            refill_per_sec,
        }
    }
}

/// EC2's request buckets (capacity, refill per second), for the paginated or filtered
/// describes the gateway always makes, and its mutating actions. The lookups' buckets are in
/// `lookup_catalog::BUCKETS`, from their table.
pub const EC2_REQUEST_RATES: [(&str, Rate); 14] = [
    ("DescribeInstances", Rate::new(100.0, 20.0)),
    ("DescribeNetworkInterfaces", Rate::new(100.0, 20.0)),
    ("RunInstances", Rate::new(5.0, 2.0)),
    ("StartInstances", Rate::new(5.0, 2.0)),
    ("StopInstances", Rate::new(50.0, 5.0)),
    ("RebootInstances", Rate::new(50.0, 5.0)),
    ("TerminateInstances", Rate::new(100.0, 5.0)),
    ("MonitorInstances", Rate::new(50.0, 5.0)),
    ("UnmonitorInstances", Rate::new(50.0, 5.0)),
    ("CreateNetworkInterface", Rate::new(100.0, 5.0)),
    // EC2's default bucket of the mutating actions it lists no bucket of their own for.
    ("AttachNetworkInterface", Rate::new(50.0, 5.0)),
    ("DetachNetworkInterface", Rate::new(50.0, 5.0)),
    ("DeleteNetworkInterface", Rate::new(50.0, 5.0)),
    ("CreateTags", Rate::new(100.0, 10.0)),
];

/// EC2's instance-count buckets: instances launched or started, stopped or terminated.
pub const EC2_INSTANCE_RATES: [(&str, Rate); 4] = [
    ("RunInstances", Rate::new(1000.0, 2.0)),
    ("StartInstances", Rate::new(1000.0, 2.0)),
    ("StopInstances", Rate::new(1000.0, 20.0)),
    ("TerminateInstances", Rate::new(1000.0, 20.0)),
];

/// The request and instance buckets of every action, scaled to the part of the account the
/// gateway may spend, with operators' overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Request buckets, by action.
    pub requests: HashMap<String, Rate>,
    /// Instance-count buckets, by action.
    pub instances: HashMap<String, Rate>,
}

impl Rates {
    /// EC2's buckets scaled by `share`, with `overrides` replacing EC2's request buckets. A
    /// bucket keeps room for at least one call.
    pub fn new(share: f64, overrides: &[(String, Rate)]) -> Rates {
        let scaled = |rate: &Rate| Rate {
            capacity: (rate.capacity * share).max(1.0),
            refill_per_sec: rate.refill_per_sec * share,
        };
        let lookups = crate::lookup_catalog::BUCKETS
            .iter()
            .map(|&(action, capacity, refill)| (action, Rate::new(capacity, refill)));
        let mut requests: HashMap<String, Rate> = EC2_REQUEST_RATES
            .iter()
            .copied()
            .chain(lookups)
            .map(|(action, rate)| (action.to_string(), scaled(&rate)))
            .collect();
        for (action, rate) in overrides {
            requests.insert(action.clone(), scaled(rate));
        }
        let instances = EC2_INSTANCE_RATES
            .iter()
            .map(|(action, rate)| (action.to_string(), scaled(rate)))
            .collect();
        Rates {
            requests,
            instances,
        }
    }
}
