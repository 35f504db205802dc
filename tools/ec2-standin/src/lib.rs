//! ec2-standin: a fast, controllable EC2 endpoint for ec2-grpc's tests and benchmarks.
//!
//! It speaks the EC2 query protocol that aws-sdk-ec2 uses (form-encoded POST in, EC2 XML out,
//! EC2 XML error documents) for the actions the gateway calls, and adds what moto, the
//! fidelity reference, lacks: fault injection, EC2's throttling buckets, idempotent client
//! tokens, Monitor/UnmonitorInstances, paging of network interfaces, attaching, detaching and
//! deleting them (refusing to delete an attached one), EC2's state transitions, and speed at
//! scale.
//!
//! # Layout
//!
//! - [`query`]: parsing EC2 query requests.
//! - [`model`]: the account's instances and network interfaces, seeding, filters.
//! - [`ec2`]: the actions, with EC2's validation, errors, paging and idempotency.
//! - [`xml`]: EC2's XML answers.
//! - [`throttle`]: EC2's request and instance-count token buckets.
//! - [`faults`]: faults a test arms.
//! - `server`: HTTP serving.
//!
//! A test starts one with [`Standin::builder`], points aws-sdk-ec2 (or the gateway) at
//! [`Standin::endpoint`], and reads [`Standin::counters`] afterwards. The `ec2-standin` binary
//! serves one from the command line for benchmarks.

pub mod ec2;
pub mod faults;
pub mod model;
pub mod query;
mod server;
pub mod throttle;
pub mod xml;

use faults::{Fault, Faults, Rule};
use model::Account;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use throttle::{Rate, Throttle};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Calls of one action as the stand-in saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests received (including throttled and faulted ones).
    pub calls: u64,
    /// Requests answered `RequestLimitExceeded`.
    pub throttled: u64,
    /// Requests a fault rule answered or reset.
    pub faulted: u64,
}

/// Everything the stand-in holds, behind one lock.
#[derive(Debug)]
pub struct World {
    /// The EC2 account.
    pub account: Account,
    /// Remembered client tokens.
    tokens: ec2::Tokens,
    /// EC2's buckets as each region starts with them; `None` when throttling is off.
    throttle: Option<Throttle>,
    /// EC2's buckets of each region called so far: EC2 throttles per account and region.
    regional: HashMap<String, Throttle>,
    /// Armed faults.
    faults: Faults,
    /// Counters by action.
    counters: HashMap<String, Counters>,
    /// Counters by region and action.
    region_counters: HashMap<(String, String), Counters>,
    /// Requests so far (request ids count up).
    requests: u64,
}

impl World {
    fn counters_json(&self) -> String {
        let sorted: BTreeMap<_, _> = self.counters.iter().collect();
        let entries: Vec<String> = sorted
            .iter()
            .map(|(action, c)| {
                format!(
                    "\"{action}\":{{\"calls\":{},\"throttled\":{},\"faulted\":{}}}",
                    c.calls, c.throttled, c.faulted
                )
            })
            .collect();
        format!("{{{}}}", entries.join(","))
    }
}

/// How to start a stand-in.
#[derive(Debug, Clone)]
pub struct Builder {
    /// Throttle like EC2.
    throttling: bool,
    /// Request buckets (EC2's by default).
    request_rates: HashMap<String, Rate>,
    /// Instance-count buckets (EC2's by default).
    instance_rates: HashMap<String, Rate>,
    /// Instances and network interfaces to seed.
    seed: (usize, usize),
    /// How long pending, stopping and shutting-down last (zero: settle at once).
    transition: std::time::Duration,
}

impl Builder {
    /// Throttling off: every call is admitted (for tests about other things, and benchmarks
    /// that measure the gateway rather than EC2's limits).
    pub fn without_throttling(mut self) -> Self {
        self.throttling = false;
        self
    }

    /// Sets the request bucket of `action` (or `Action#unpaginated`).
    pub fn request_rate(mut self, action: &str, capacity: f64, refill_per_sec: f64) -> Self {
        self.request_rates
            .insert(action.to_owned(), Rate::new(capacity, refill_per_sec));
        self
    }

    /// Seeds `instances` instances and `enis` extra network interfaces.
    pub fn seed(mut self, instances: usize, enis: usize) -> Self {
        self.seed = (instances, enis);
        self
    }

    /// Makes launches, starts, stops and terminations take `transition` (pending -> running,
    /// stopping -> stopped, shutting-down -> terminated), as EC2's do; by default they settle
    /// at once.
    pub fn transition(mut self, transition: std::time::Duration) -> Self {
        self.transition = transition;
        self
    }

    /// Starts serving on `127.0.0.1:0`.
    pub async fn start(self) -> std::io::Result<Standin> {
        self.start_on("127.0.0.1:0".parse().expect("a socket address"))
            .await
    }

    /// Starts serving on `addr`.
    pub async fn start_on(self, addr: SocketAddr) -> std::io::Result<Standin> {
        let mut account = Account::default();
        account.seed(self.seed.0, self.seed.1);
        account.transition = self.transition;
        let world = Arc::new(Mutex::new(World {
            account,
            tokens: ec2::Tokens::new(),
            throttle: self
                .throttling
                .then(|| Throttle::new(self.request_rates, self.instance_rates)),
            faults: Faults::default(),
            regional: HashMap::new(),
            counters: HashMap::new(),
            region_counters: HashMap::new(),
            requests: 0,
        }));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(server::serve(listener, world.clone(), stopped));
        Ok(Standin {
            addr,
            world,
            _stop: stop,
        })
    }
}

/// A running stand-in; it stops serving when dropped.
pub struct Standin {
    /// Where it listens.
    addr: SocketAddr,
    /// Its state.
    world: Arc<Mutex<World>>,
    /// Dropping it stops the accept loop.
    _stop: oneshot::Sender<()>,
}

impl Standin {
    /// A stand-in with EC2's throttling, empty.
    pub fn builder() -> Builder {
        Builder {
            throttling: true,
            request_rates: throttle::ec2_request_rates(),
            instance_rates: throttle::ec2_instance_rates(),
            seed: (0, 0),
            transition: std::time::Duration::ZERO,
        }
    }

    /// `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL_EC2`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Arms `fault` for the next `times` calls of `action`.
    pub fn fault(&self, action: &str, fault: Fault, times: usize) {
        self.arm(Rule {
            action: action.to_owned(),
            fault,
            times,
            page: None,
        });
    }

    /// Arms `fault` for page `page` (1-based) of the next pagination of `action`.
    pub fn fault_at_page(&self, action: &str, page: usize, fault: Fault) {
        self.arm(Rule {
            action: action.to_owned(),
            fault,
            times: 1,
            page: Some(page),
        });
    }

    fn arm(&self, rule: Rule) {
        self.world.lock().expect("world lock").faults.arm(rule);
    }

    /// Simulates other tools of the account taking `per_sec` tokens of `action`'s request
    /// bucket every second (in every region).
    pub fn drain(&self, action: &str, per_sec: f64) {
        let mut world = self.world.lock().expect("world lock");
        let world = &mut *world;
        for t in world.throttle.iter_mut().chain(world.regional.values_mut()) {
            t.drain(action, per_sec);
        }
    }

    /// The counters of `action`, every region.
    pub fn counters(&self, action: &str) -> Counters {
        let world = self.world.lock().expect("world lock");
        world.counters.get(action).copied().unwrap_or_default()
    }

    /// The counters of `action` in `region` (the region of the request's signature).
    pub fn counters_in(&self, region: &str, action: &str) -> Counters {
        let world = self.world.lock().expect("world lock");
        let key = (region.to_owned(), action.to_owned());
        world.region_counters.get(&key).copied().unwrap_or_default()
    }

    /// Changes the account directly, as another tool of the account would behind the
    /// gateway's back (transitions due by now are settled first).
    pub fn with_account_mut<R>(&self, change: impl FnOnce(&mut Account) -> R) -> R {
        let mut world = self.world.lock().expect("world lock");
        world.account.settle(tokio::time::Instant::now());
        change(&mut world.account)
    }

    /// Reads the account (for assertions).
    pub fn with_account<R>(&self, read: impl FnOnce(&Account) -> R) -> R {
        let mut world = self.world.lock().expect("world lock");
        world.account.settle(tokio::time::Instant::now());
        read(&world.account)
    }
}
