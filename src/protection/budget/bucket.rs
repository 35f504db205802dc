//! One token bucket, the arithmetic the in-process budget, its Redis fallback and the caller
//! quotas share.

use super::rates::Rate;
use std::time::Duration;
use tokio::time::Instant;

/// A slot waits for this fraction of a token more than it needs.
pub(crate) const SPARE_TOKENS: f64 = 0.02;

/// The lowest the adaptive factor goes after throttling answers.
pub(crate) const MIN_FACTOR: f64 = 0.1;
/// How fast the adaptive factor recovers, per second.
pub(crate) const RECOVERY_PER_SEC: f64 = 0.01;

/// One token bucket, allowed to go below zero: a negative balance is the queue of reserved
/// slots. The per-caller quotas use it too.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Size and refill (already scaled by the gateway's share).
    rate: Rate,
    /// Tokens now.
    tokens: f64,
    /// 1.0, or less after throttling answers.
    factor: f64,
    /// When `tokens` and `factor` were last brought up to date.
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate.capacity,
            factor: 1.0,
            updated: now,
        }
    }

    /// An empty bucket: it hands out its refill only, no burst.
    pub(crate) fn empty(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: 0.0,
            ..Bucket::new(rate, now)
        }
    }

    /// Its size.
    pub(crate) fn capacity(&self) -> f64 {
        self.rate.capacity
    }

    /// EC2 throttled a call it let through: someone else is spending the account's rate, so
    /// halve the refill (down to `MIN_FACTOR`) and drop what is left.
    pub(crate) fn throttled(&mut self, now: Instant) {
        self.catch_up(now);
        self.factor = (self.factor * 0.5).max(MIN_FACTOR);
        self.tokens = self.tokens.min(0.0);
    }

    /// The refill now, after adaptation.
    pub(crate) fn refill_per_sec(&self) -> f64 {
        self.rate.refill_per_sec * self.factor
    }

    /// Refills for the time since the last update (and recovers the adaptive factor).
    pub(crate) fn catch_up(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_sec()).min(self.rate.capacity);
        self.factor = (self.factor + elapsed * RECOVERY_PER_SEC).min(1.0);
        self.updated = now;
    }

    /// Takes `n` tokens (the balance may go negative: reserved slots).
    pub(crate) fn take(&mut self, n: f64) {
        self.tokens -= n;
    }

    /// Whether it is full (an idle caller's bucket can be forgotten).
    pub(crate) fn is_full(&self) -> bool {
        self.tokens >= self.rate.capacity
    }

    /// How long until `n` tokens are there, with a hair to spare: EC2's bucket is counted by
    /// other clocks, and a slot computed to the nanosecond may land a rounding error short.
    pub(crate) fn wait_for(&self, n: f64) -> Duration {
        let missing = n - self.tokens;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((missing + SPARE_TOKENS) / self.refill_per_sec())
    }
}
