//! The shared budget's Lua script (`budget.lua`) and its keys: one round trip takes a call's
//! request and instance tokens together, atomically, on Redis' clock. The script's arithmetic
//! is tested against a real `redis-server` in `tests/gateway/shared_budget.rs`.

use super::bucket::SPARE_TOKENS;
use super::rates::Rate;
use redis::aio::ConnectionLike;
use redis::{RedisResult, Script};
use std::time::Duration;

/// How much earlier one replica's call may reach EC2 than another's, relative to the slots
/// Redis gave them (each replica's round trips and scheduling differ). Every slot keeps this
/// much of the refill in hand, so that EC2's own bucket, which starts refilling only when the
/// first call reaches it, is never overdrawn: at DescribeInstances' 20 per second, one token
/// of the burst; at RunInstances' 2 per second, a tenth of one.
const REPLICA_SKEW: Duration = Duration::from_millis(50);

/// The keys of one account's budget. All of them carry the hash tag `{KEY}`, so they live in
/// one Redis Cluster slot (a script may only touch keys of one slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetKeys {
    prefix: String,
}

impl BudgetKeys {
    /// The keys of the budget named `key` (the account and region, e.g. `123456789012:us-east-1`).
    pub fn new(key: &str) -> BudgetKeys {
        BudgetKeys {
            prefix: format!("ec2-grpc:{{{key}}}"),
        }
    }

    /// The request bucket of `action`.
    pub fn requests(&self, action: &str) -> String {
        format!("{}:requests:{action}", self.prefix)
    }

    /// The instance-count bucket of `action`.
    pub fn instances(&self, action: &str) -> String {
        format!("{}:instances:{action}", self.prefix)
    }

    /// The sorted set of live replicas.
    pub fn replicas(&self) -> String {
        format!("{}:replicas", self.prefix)
    }
}

/// What one reservation asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ask {
    /// The action's request bucket (already scaled to the share).
    pub requests: Rate,
    /// Its instance-count bucket, and how many instances the call acts on (0: none).
    pub instances: Option<(Rate, usize)>,
    /// Request slots wanted: 1, or more for a lease.
    pub wanted: u32,
    /// The longest wait the caller's deadline allows; `None`: no deadline.
    pub most_wait: Option<Duration>,
    /// Leased slots must come within this time after the first.
    pub horizon: Duration,
}

/// The script's answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    /// Request slots granted: 0 when refused (the first slot comes after the deadline).
    pub granted: u32,
    /// When the first slot is ready (or, refused, when it would be).
    pub wait: Duration,
    /// The bucket's tokens before this reservation.
    tokens_before: f64,
    /// The bucket's refill per second, after throttling's factor.
    rate: f64,
    /// The tokens every slot keeps in hand (see `REPLICA_SKEW`).
    spare: f64,
}

impl Reservation {
    /// When granted slot `i` (0-based) is ready, counted from the answer.
    pub fn slot(&self, i: u32) -> Duration {
        let at = (f64::from(i) + 1.0 - self.tokens_before + self.spare) / self.rate;
        Duration::from_secs_f64(at.max(0.0))
    }
}

/// The loaded script (sent by SHA, and again in full when Redis does not know it).
#[derive(Debug, Clone)]
pub struct BudgetScript(Script);

impl Default for BudgetScript {
    fn default() -> Self {
        BudgetScript(Script::new(include_str!("budget.lua")))
    }
}

impl BudgetScript {
    /// Loads the script into Redis (SCRIPT LOAD) and answers its SHA: proves the server
    /// takes it, as `ec2-grpc check --aws` does before a replica relies on it.
    pub async fn load(&self, connection: &mut impl ConnectionLike) -> RedisResult<String> {
        self.0.prepare_invoke().load_async(connection).await
    }

    /// Takes `ask`'s tokens from the buckets of `action`, or nothing.
    pub async fn reserve(
        &self,
        connection: &mut impl ConnectionLike,
        keys: &BudgetKeys,
        action: &str,
        ask: &Ask,
    ) -> RedisResult<Reservation> {
        let (instance_rate, instances) = ask.instances.unwrap_or((Rate::new(1.0, 1.0), 0));
        let most_wait = ask.most_wait.map_or(-1.0, |d| d.as_secs_f64());
        let spare = SPARE_TOKENS + ask.requests.refill_per_sec * REPLICA_SKEW.as_secs_f64();
        let (granted, wait_us, tokens_before, rate): (u32, u64, f64, f64) = self
            .0
            .key(keys.requests(action))
            .key(keys.instances(action))
            .arg("reserve")
            .arg(ask.requests.capacity)
            .arg(ask.requests.refill_per_sec)
            .arg(instance_rate.capacity)
            .arg(instance_rate.refill_per_sec)
            .arg(instances)
            .arg(ask.wanted.max(1))
            .arg(most_wait)
            .arg(ask.horizon.as_secs_f64())
            .arg(spare)
            .invoke_async(connection)
            .await?;
        Ok(Reservation {
            granted,
            wait: Duration::from_micros(wait_us),
            tokens_before,
            rate,
            spare,
        })
    }

    /// EC2 throttled a call of `action`: halves its refill for every replica. Answers the
    /// refill now.
    pub async fn throttled(
        &self,
        connection: &mut impl ConnectionLike,
        keys: &BudgetKeys,
        action: &str,
        requests: Rate,
    ) -> RedisResult<f64> {
        self.0
            .key(keys.requests(action))
            .arg("throttled")
            .arg(requests.capacity)
            .arg(requests.refill_per_sec)
            .invoke_async(connection)
            .await
    }

    /// Marks `replica` alive for `ttl`; answers how many replicas are.
    pub async fn heartbeat(
        &self,
        connection: &mut impl ConnectionLike,
        keys: &BudgetKeys,
        replica: &str,
        ttl: Duration,
    ) -> RedisResult<usize> {
        self.0
            .key(keys.replicas())
            .arg("heartbeat")
            .arg(replica)
            .arg(ttl.as_millis() as u64)
            .invoke_async(connection)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = BudgetKeys::new("123456789012:us-east-1");
        assert_eq!(
            keys.requests("DescribeInstances"),
            "ec2-grpc:{123456789012:us-east-1}:requests:DescribeInstances"
        );
        assert!(
            keys.instances("RunInstances")
                .contains("{123456789012:us-east-1}")
        );
        assert!(keys.replicas().contains("{123456789012:us-east-1}"));
    }

    #[test]
    fn slots_follow_the_refill() {
        let reservation = Reservation {
            granted: 3,
            wait: Duration::ZERO,
            tokens_before: 1.5,
            rate: 10.0,
            spare: SPARE_TOKENS,
        };
        assert_eq!(reservation.slot(0), Duration::ZERO);
        assert_eq!(reservation.slot(1).as_millis(), 52);
        assert_eq!(reservation.slot(2).as_millis(), 152);
    }
}
