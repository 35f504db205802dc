//! The EC2 budget shared by every replica through Redis: EC2's buckets are per account and
//! region, so the replicas draw on one set of buckets kept in Redis (`script`), and
//! `--ec2-budget-share` is the share of the account for all of them together.
//!
//! - One round trip per reservation, request and instance tokens together, on Redis' clock.
//!   Under load a replica takes a small lease (the slots that come within a short horizon)
//!   and spends it without asking Redis again; a leased slot not spent soon after its time
//!   expires unspent (leases can only under-spend).
//! - Throttling seen by any replica halves the action's refill for all of them.
//! - Redis trouble never stalls a call or opens the floodgates: each Redis call has a short
//!   timeout; a failure switches the replica to a local budget at its fair part of the share
//!   (share / live replicas, the count kept from the heartbeat set, never below the
//!   configured floor), which starts drained. The heartbeat keeps probing: when Redis answers
//!   again, the replica returns to the shared budget. Both switches are logged once and
//!   counted (`ec2.budget.shared` shows the mode).

use super::CALL_ALLOWANCE;
use super::local::LocalBudget;
use super::rates::{Rate, Rates};
use super::script::{Ask, BudgetKeys, BudgetScript, Reservation};
use crate::error::Error;
use crate::protection::stats::Stats;
use redis::IntoConnectionInfo;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How often a replica marks itself alive (and, in fallback, probes Redis).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A replica not heard from for this long no longer counts.
const HEARTBEAT_TTL: Duration = Duration::from_secs(5);

/// A Redis URL, which may carry a password: shown as its host and port only.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(pub String);

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisUrl({})", redis_location(&self.0))
    }
}

/// A password: never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// How the replicas share the budget, as configured.
#[derive(Debug, Clone)]
pub struct SharedSettings {
    /// `redis://` or `rediss://` URL (may carry a password; never logged).
    pub url: RedisUrl,
    /// A password from a file (a Kubernetes Secret), when the URL carries none.
    pub password: Option<Password>,
    /// Names the account's budget (its keys' hash tag), e.g. `123456789012:us-east-1`.
    pub key: String,
    /// The part of the account's EC2 rate all replicas together may spend.
    pub share: f64,
    /// Request buckets replacing EC2's numbers.
    pub overrides: Vec<(String, Rate)>,
    /// The longest a Redis call may take before the replica falls back.
    pub timeout: Duration,
    /// The most request slots one round trip takes (1: no leases).
    pub lease: u32,
    /// Leased slots must come within this time of the first, and expire this long after
    /// their own time.
    pub lease_horizon: Duration,
    /// Fallback: the replica count is never taken below this.
    pub replicas_floor: usize,
    /// This replica's name in the heartbeat set.
    pub replica: String,
}

/// A leased slot: usable from `ready`, until `expires`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    ready: Instant,
    expires: Instant,
}

/// The shared budget of one replica.
#[derive(Debug)]
pub struct SharedBudget {
    settings: SharedSettings,
    connection: ConnectionManager,
    script: BudgetScript,
    keys: BudgetKeys,
    rates: Rates,
    /// Leased request slots not spent yet, by action.
    leases: Mutex<HashMap<String, VecDeque<Slot>>>,
    /// By action, the earliest a request slot not yet promised can open, as of the latest
    /// answer (other replicas only push it later). A call whose deadline comes before it is
    /// refused without asking Redis; in fallback, the local budget owes the time up to it
    /// before it hands out its own slots.
    next_slot: Mutex<HashMap<String, Instant>>,
    /// True while the shared budget is in force; false in fallback.
    shared: AtomicBool,
    /// Live replicas, from the last heartbeat that reached Redis (never below the floor).
    replicas: AtomicUsize,
    /// The local budget in force during fallback.
    fallback: Mutex<Arc<LocalBudget>>,
    stats: Arc<Stats>,
}

/// Where the Redis server is, for logs: host and port only, never the password.
pub fn redis_location(url: &str) -> String {
    match redis::Client::open(url) {
        Ok(client) => client.get_connection_info().addr().to_string(),
        Err(_) => "an invalid Redis URL".to_owned(),
    }
}

/// A client of the Redis server at `url`, with `password` when the URL has none; fails only
/// on a malformed URL (it does not connect).
pub fn client(url: &RedisUrl, password: Option<&Password>) -> Result<redis::Client, String> {
    let mut info = url
        .0
        .as_str()
        .into_connection_info()
        .map_err(|_| "--ec2-budget-redis-url is not a redis:// or rediss:// URL".to_owned())?;
    if let Some(Password(password)) = password {
        let with_password = info.redis_settings().clone().set_password(password);
        info = info.set_redis_settings(with_password);
    }
    redis::Client::open(info).map_err(|_| "--ec2-budget-redis-url cannot be used".to_owned())
}

impl SharedBudget {
    /// Connects lazily (a replica starts even while Redis is away, in fallback) and starts
    /// the heartbeat. Fails only on a malformed URL.
    pub fn start(settings: SharedSettings, stats: Arc<Stats>) -> Result<Arc<SharedBudget>, String> {
        let client = client(&settings.url, settings.password.as_ref())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|_| "--ec2-budget-redis-url cannot be used".to_owned())?;
        let floor = settings.replicas_floor.max(1);
        let budget = Arc::new(SharedBudget {
            keys: BudgetKeys::new(&settings.key),
            rates: Rates::new(settings.share, &settings.overrides),
            fallback: Mutex::new(Arc::new(LocalBudget::drained(
                settings.share / floor as f64,
                &settings.overrides,
                &HashMap::new(),
            ))),
            next_slot: Mutex::new(HashMap::new()),
            settings,
            connection,
            script: BudgetScript::default(),
            leases: Mutex::new(HashMap::new()),
            shared: AtomicBool::new(true),
            replicas: AtomicUsize::new(floor),
            stats,
        });
        budget.stats.budget_mode(true);
        tokio::spawn(heartbeat(Arc::downgrade(&budget)));
        Ok(budget)
    }

    /// Whether the shared budget is in force (false: the local fallback).
    pub fn is_shared(&self) -> bool {
        self.shared.load(Ordering::Acquire)
    }

    /// Live replicas as last counted (never below the floor).
    pub fn replicas(&self) -> usize {
        self.replicas.load(Ordering::Acquire)
    }

    /// Reserves a slot for one call of `action` acting on `instances` instances, and waits
    /// for it (see `LocalBudget::acquire`). Answers how long it waited.
    pub async fn acquire(
        &self,
        action: &str,
        instances: usize,
        deadline: Option<Instant>,
    ) -> Result<Duration, Error> {
        if !self.is_shared() {
            return self.local().acquire(action, instances, deadline).await;
        }
        let Some(&requests) = self.rates.requests.get(action) else {
            return Ok(Duration::ZERO); // an action EC2 documents no bucket for
        };
        let started = Instant::now();
        if instances == 0
            && let Some(slot) = self.leased(action, started, deadline)
        {
            tokio::time::sleep_until(slot).await;
            return Ok(slot.saturating_duration_since(started));
        }
        let ask = Ask {
            requests,
            instances: self
                .rates
                .instances
                .get(action)
                .filter(|_| instances > 0)
                .map(|rate| (*rate, instances)),
            wanted: if instances == 0 {
                self.settings.lease
            } else {
                1
            },
            most_wait: deadline.map(|d| {
                d.saturating_duration_since(started)
                    .saturating_sub(CALL_ALLOWANCE)
            }),
            horizon: self.settings.lease_horizon,
        };
        if let Some(most_wait) = ask.most_wait
            && let Some(wait) = self.known_wait(action, started)
            && wait > most_wait
        {
            return Err(Error::BudgetExhausted {
                action: action.to_owned(),
                retry_after: wait,
            });
        }
        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(
            self.settings.timeout,
            self.script
                .reserve(&mut connection, &self.keys, action, &ask),
        )
        .await;
        let reservation = match answer {
            Ok(Ok(reservation)) => {
                self.stats.budget_redis_call("ok");
                reservation
            }
            Ok(Err(e)) => {
                self.stats.budget_redis_call("error");
                self.fall_back(&format!("Redis answered an error: {e}"));
                return self.local().acquire(action, instances, deadline).await;
            }
            Err(_) => {
                self.stats.budget_redis_call("timeout");
                let waited = self.settings.timeout;
                self.fall_back(&format!("Redis did not answer within {waited:?}"));
                return self.local().acquire(action, instances, deadline).await;
            }
        };
        let answered = Instant::now();
        if reservation.granted == 0 {
            if instances == 0 {
                // Refused on the request bucket alone: no slot opens before `wait`.
                self.push_next_slot(action, answered + reservation.wait);
            }
            return Err(Error::BudgetExhausted {
                action: action.to_owned(),
                retry_after: reservation.wait,
            });
        }
        self.keep_lease(action, answered, &reservation);
        self.push_next_slot(action, answered + reservation.slot(reservation.granted));
        let ready = answered + reservation.slot(0);
        tokio::time::sleep_until(ready).await;
        Ok(ready.saturating_duration_since(started))
    }

    /// How long until a request slot of `action` can open, when an earlier answer says.
    fn known_wait(&self, action: &str, now: Instant) -> Option<Duration> {
        let next_slot = self.next_slot.lock().expect("next slot lock");
        next_slot
            .get(action)
            .map(|at| at.saturating_duration_since(now))
    }

    /// Records that no request slot of `action` opens before `at`.
    fn push_next_slot(&self, action: &str, at: Instant) {
        let mut next_slot = self.next_slot.lock().expect("next slot lock");
        let known = next_slot.entry(action.to_owned()).or_insert(at);
        *known = (*known).max(at);
    }

    /// A leased slot of `action` that fits `deadline`, taken; expired slots are dropped.
    fn leased(&self, action: &str, now: Instant, deadline: Option<Instant>) -> Option<Instant> {
        let mut leases = self.leases.lock().expect("lease lock");
        let slots = leases.get_mut(action)?;
        while let Some(slot) = slots.pop_front() {
            if slot.expires < now {
                continue;
            }
            if deadline.is_some_and(|d| slot.ready + CALL_ALLOWANCE > d) {
                slots.push_front(slot);
                return None;
            }
            return Some(slot.ready);
        }
        None
    }

    /// Keeps the slots of `reservation` after the first, for the next calls of `action`.
    fn keep_lease(&self, action: &str, answered: Instant, reservation: &Reservation) {
        if reservation.granted < 2 {
            return;
        }
        let horizon = self.settings.lease_horizon;
        let mut leases = self.leases.lock().expect("lease lock");
        let slots = leases.entry(action.to_owned()).or_default();
        slots.extend((1..reservation.granted).map(|i| {
            let ready = answered + reservation.slot(i);
            Slot {
                ready,
                expires: ready + horizon,
            }
        }));
    }

    /// The fallback budget in force.
    fn local(&self) -> Arc<LocalBudget> {
        self.fallback.lock().expect("fallback lock").clone()
    }

    /// Switches to the local fallback at this replica's fair part of the share (once).
    fn fall_back(&self, why: &str) {
        if !self.shared.swap(false, Ordering::AcqRel) {
            return;
        }
        let replicas = self.replicas();
        let share = self.settings.share / replicas as f64;
        let now = Instant::now();
        let debts: HashMap<String, Duration> = self
            .next_slot
            .lock()
            .expect("next slot lock")
            .iter()
            .map(|(action, until)| (action.clone(), until.saturating_duration_since(now)))
            .collect();
        *self.fallback.lock().expect("fallback lock") = Arc::new(LocalBudget::drained(
            share,
            &self.settings.overrides,
            &debts,
        ));
        self.leases.lock().expect("lease lock").clear();
        self.stats.budget_mode(false);
        tracing::warn!(
            redis = %redis_location(&self.settings.url.0),
            replicas,
            share,
            "EC2 budget: {why}; using a local budget at share / replicas until Redis answers again"
        );
    }

    /// Redis answered the heartbeat: back to the shared budget (once).
    fn recovered(&self) {
        if self.shared.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stats.budget_mode(true);
        tracing::info!(
            redis = %redis_location(&self.settings.url.0),
            "EC2 budget: Redis answers again; back to the shared budget"
        );
    }

    /// EC2 throttled a call of `action`: lower its refill for every replica (in Redis) and in
    /// the fallback, and drop its leased slots.
    pub fn throttled(self: &Arc<Self>, action: &str) {
        self.local().throttled(action);
        if let Some(slots) = self.leases.lock().expect("lease lock").get_mut(action) {
            slots.clear();
        }
        let Some(&requests) = self.rates.requests.get(action) else {
            return;
        };
        if !self.is_shared() {
            return;
        }
        let budget = self.clone();
        let action = action.to_owned();
        tokio::spawn(async move {
            let mut connection = budget.connection.clone();
            let told = tokio::time::timeout(
                budget.settings.timeout,
                budget
                    .script
                    .throttled(&mut connection, &budget.keys, &action, requests),
            )
            .await;
            match told {
                Ok(Ok(_)) => budget.stats.budget_redis_call("ok"),
                Ok(Err(e)) => {
                    budget.stats.budget_redis_call("error");
                    budget.fall_back(&format!("Redis answered an error: {e}"));
                }
                Err(_) => {
                    budget.stats.budget_redis_call("timeout");
                    budget.fall_back("Redis did not answer in time");
                }
            }
        });
    }
}

/// Marks the replica alive every `HEARTBEAT_EVERY` and keeps the count of live replicas; in
/// fallback, the same call is the probe that brings the replica back. Ends with the budget.
async fn heartbeat(budget: std::sync::Weak<SharedBudget>) {
    let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(budget) = budget.upgrade() else {
            return;
        };
        let mut connection = budget.connection.clone();
        let beat = tokio::time::timeout(
            budget.settings.timeout,
            budget.script.heartbeat(
                &mut connection,
                &budget.keys,
                &budget.settings.replica,
                HEARTBEAT_TTL,
            ),
        )
        .await;
        match beat {
            Ok(Ok(live)) => {
                let replicas = live.max(budget.settings.replicas_floor).max(1);
                budget.replicas.store(replicas, Ordering::Release);
                budget.recovered();
            }
            Ok(Err(e)) => budget.fall_back(&format!("Redis answered an error: {e}")),
            Err(_) => budget.fall_back("Redis did not answer the heartbeat in time"),
        }
    }
}
