//! The service's OpenTelemetry instruments, named after the semantic conventions where they
//! exist (`rpc.server.call.duration`) and under `ec2.` where they are the gateway's own. They
//! come from the global meter provider that `telemetry::init` installs (no-ops without one).

use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry::metrics::{Counter, Gauge, Histogram, UpDownCounter};
use std::sync::OnceLock;

/// Every instrument of the service.
#[derive(Debug)]
pub struct Instruments {
    /// `rpc.server.call.duration` (s): each gRPC call, by `rpc.method` and `rpc.status_code`.
    pub rpc_duration: Histogram<f64>,
    /// `rpc.server.active_streams`: responses (streams above all) still being sent.
    pub rpc_active_streams: UpDownCounter<i64>,
    /// `rpc.server.refusals`: calls refused by a caller quota or by shedding, by `reason`.
    pub rpc_refusals: Counter<u64>,
    /// `ec2.client.call.duration` (s): each EC2 HTTP attempt, by `ec2.action` and `outcome`.
    pub ec2_duration: Histogram<f64>,
    /// `ec2.client.calls`: EC2 HTTP attempts, by `ec2.action` and `outcome`.
    pub ec2_calls: Counter<u64>,
    /// `ec2.client.throttles`: throttling answers from EC2, by `ec2.action`.
    pub ec2_throttles: Counter<u64>,
    /// `ec2.client.retries`: attempts that were retries.
    pub ec2_retries: Counter<u64>,
    /// `ec2.budget.wait.duration` (s): time attempts waited for budget, by `ec2.action`.
    pub budget_wait: Histogram<f64>,
    /// `ec2.budget.refusals`: calls refused for lack of budget before their deadline.
    pub budget_refusals: Counter<u64>,
    /// `ec2.coalesced.calls`: EC2 calls coalescing saved.
    pub coalesced: Counter<u64>,
    /// `ec2.budget.shared`: 1 while the budget shared through Redis is in force, 0 in the
    /// local fallback (absent with the in-process budget).
    pub budget_shared: Gauge<i64>,
    /// `ec2.budget.fallbacks`: times the shared budget fell back to the local one.
    pub budget_fallbacks: Counter<u64>,
    /// `ec2.budget.redis.calls`: the shared budget's round trips to Redis, by `outcome`.
    pub budget_redis_calls: Counter<u64>,
    /// `ec2.inventory.instances`: instances in the replica's view.
    pub inventory_instances: Gauge<u64>,
    /// `ec2.inventory.list.age` (s): how old the view's last complete full list is.
    pub inventory_list_age: Gauge<f64>,
    /// `ec2.inventory.events`: changes of the view, by `kind` (added, modified, deleted).
    pub inventory_events: Counter<u64>,
    /// `ec2.inventory.lists`: full lists of the account's instances, by `outcome`.
    pub inventory_lists: Counter<u64>,
    /// `ec2.inventory.watchers`: WatchInstances streams open.
    pub inventory_watchers: UpDownCounter<i64>,
    /// `ec2.inventory.waiters`: WaitInstances streams open.
    pub inventory_waiters: UpDownCounter<i64>,
    /// `ec2.inventory.event.messages`: messages read from the events queue, by `kind` (the
    /// event's, `unknown` or `malformed`).
    pub inventory_event_messages: Counter<u64>,
    /// `ec2.inventory.event.deleted`: messages deleted once handled.
    pub inventory_event_deleted: Counter<u64>,
    /// `ec2.inventory.event.lag` (s): from an event's time to its instances refreshed in the
    /// view.
    pub inventory_event_lag: Histogram<f64>,
    /// `ec2.inventory.event.failures`: failures of the events queue, by `stage` (receive,
    /// refresh, delete).
    pub inventory_event_failures: Counter<u64>,
    /// `ec2.audit.dropped`: audit events not written, by `reason` (queue_full, write, ...).
    pub audit_dropped: Counter<u64>,
    /// `ec2.sts.assume_role.calls`: sessions assumed for target accounts, by
    /// `cloud.account.alias` and `outcome` (one per session, not per call).
    pub sts_assume_role: Counter<u64>,
}

/// The instruments (made on first use, from the global meter provider).
pub fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = global::meter("ec2-grpc");
        Instruments {
            rpc_duration: meter
                .f64_histogram("rpc.server.call.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls served")
                .build(),
            rpc_active_streams: meter
                .i64_up_down_counter("rpc.server.active_streams")
                .with_description("Responses still being sent")
                .build(),
            rpc_refusals: meter
                .u64_counter("rpc.server.refusals")
                .with_description("Calls refused by a caller quota or by load shedding")
                .build(),
            ec2_duration: meter
                .f64_histogram("ec2.client.call.duration")
                .with_unit("s")
                .with_description("Duration of EC2 HTTP attempts")
                .build(),
            ec2_calls: meter
                .u64_counter("ec2.client.calls")
                .with_description("EC2 HTTP attempts")
                .build(),
            ec2_throttles: meter
                .u64_counter("ec2.client.throttles")
                .with_description("Throttling answers from EC2")
                .build(),
            ec2_retries: meter
                .u64_counter("ec2.client.retries")
                .with_description("EC2 attempts that were retries")
                .build(),
            budget_wait: meter
                .f64_histogram("ec2.budget.wait.duration")
                .with_unit("s")
                .with_description("Time EC2 attempts waited for budget")
                .build(),
            budget_refusals: meter
                .u64_counter("ec2.budget.refusals")
                .with_description("Calls refused for lack of EC2 budget before their deadline")
                .build(),
            coalesced: meter
                .u64_counter("ec2.coalesced.calls")
                .with_description("EC2 calls saved by coalescing")
                .build(),
            budget_shared: meter
                .i64_gauge("ec2.budget.shared")
                .with_description("1: the EC2 budget shared through Redis; 0: the local fallback")
                .build(),
            budget_fallbacks: meter
                .u64_counter("ec2.budget.fallbacks")
                .with_description("Times the shared EC2 budget fell back to the local one")
                .build(),
            budget_redis_calls: meter
                .u64_counter("ec2.budget.redis.calls")
                .with_description("Round trips of the shared EC2 budget to Redis")
                .build(),
            inventory_instances: meter
                .u64_gauge("ec2.inventory.instances")
                .with_description("Instances in the replica's view")
                .build(),
            inventory_list_age: meter
                .f64_gauge("ec2.inventory.list.age")
                .with_unit("s")
                .with_description("Age of the view's last complete full list")
                .build(),
            inventory_events: meter
                .u64_counter("ec2.inventory.events")
                .with_description("Changes of the instance view, by kind")
                .build(),
            inventory_lists: meter
                .u64_counter("ec2.inventory.lists")
                .with_description("Full lists of the account's instances, by outcome")
                .build(),
            inventory_watchers: meter
                .i64_up_down_counter("ec2.inventory.watchers")
                .with_description("WatchInstances streams open")
                .build(),
            inventory_waiters: meter
                .i64_up_down_counter("ec2.inventory.waiters")
                .with_description("WaitInstances streams open")
                .build(),
            inventory_event_messages: meter
                .u64_counter("ec2.inventory.event.messages")
                .with_description("Messages read from the events queue, by kind")
                .build(),
            inventory_event_deleted: meter
                .u64_counter("ec2.inventory.event.deleted")
                .with_description("Messages of the events queue deleted once handled")
                .build(),
            inventory_event_lag: meter
                .f64_histogram("ec2.inventory.event.lag")
                .with_unit("s")
                .with_description("From an EC2 event's time to its instances refreshed in the view")
                .build(),
            inventory_event_failures: meter
                .u64_counter("ec2.inventory.event.failures")
                .with_description("Failures of the events queue, by stage")
                .build(),
            audit_dropped: meter
                .u64_counter("ec2.audit.dropped")
                .with_description("Audit events not written, by reason")
                .build(),
            sts_assume_role: meter
                .u64_counter("ec2.sts.assume_role.calls")
                .with_description("Roles assumed for target accounts, by outcome")
                .build(),
        }
    })
}

/// `own` attributes, then a target's (its `cloud.account.id` and `cloud.region`): the
/// attributes of an instrument recorded for one target (see `Stats`, `Inventory`).
pub fn with_target<const N: usize>(own: [KeyValue; N], target: &[KeyValue]) -> Vec<KeyValue> {
    own.into_iter().chain(target.iter().cloned()).collect()
}

/// Counts something open (a watch, a wait) in an up-down counter for as long as it lives.
#[derive(Debug)]
pub struct Open(&'static UpDownCounter<i64>);

impl Open {
    /// Counts one more in `counter` until dropped.
    pub fn count(counter: &'static UpDownCounter<i64>) -> Open {
        counter.add(1, &[]);
        Open(counter)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.add(-1, &[]);
    }
}
