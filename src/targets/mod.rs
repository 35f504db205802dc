//! Targets: the AWS accounts and regions one gateway serves. Every call names its target
//! (`account`, `region`; empty: the home account and region); the gateway resolves it once at
//! the top of the call against the accounts file (`accounts`), checks the caller's grant, and
//! carries the result down as one value, `Reached`: the target's EC2 seam (SDK client,
//! budget, coalescing) and instance view.
//!
//! Per target, built on first use and kept: the SDK client (every client shares one HTTP
//! client and connection pool, and one identity cache), the EC2 budget (in-process, or in
//! Redis under the target's `ACCOUNT:REGION`), the describes that coalesce (never across
//! targets), and the inventory where it is on. Per account: one assumed-role credentials
//! provider (`credentials`), shared by its regions, so an account costs one AssumeRole per
//! session however many calls and regions it serves. Accounts that give each caller a session
//! of its own (`source_identity`, for CloudTrail) add one per caller (`caller_sessions`).
//!
//! Model: lyft/clutch's AWS module (`account` and `region` on every request, one assumed-role
//! provider per account, an unknown pair refused) and GCE's `project` / `zone`.

pub mod accounts;
pub mod caller_sessions;
pub mod credentials;
mod factory;

use crate::ec2::Ec2;
use crate::error::Error;
use crate::inventory::Inventory;
use accounts::{Account, Accounts, AccountsFile};
use aws_config::SdkConfig;
use aws_sdk_ec2::config::SharedCredentialsProvider;
use caller_sessions::{CallerClients, CallerSessions};
pub use factory::Factory;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// Where a call goes, as resolved from its `account` and `region`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The account's alias (`home` for the home account unless the accounts file names it).
    pub alias: String,
    /// The 12-digit account id; the home account's may be unknown.
    pub account_id: Option<String>,
    /// The region.
    pub region: String,
    /// Whether this is the home account (the gateway's own credentials).
    pub home: bool,
}

impl Target {
    /// How metrics, traces and logs name the account: its id, else its alias.
    pub fn account_label(&self) -> &str {
        self.account_id.as_deref().unwrap_or(&self.alias)
    }
}

/// What a call reaches: its target, and the target's EC2 seam and instance view.
#[derive(Debug)]
pub struct Reached {
    /// The target.
    pub target: Target,
    /// The target's EC2 client with its budget, coalescing describes.
    pub ec2: Ec2,
    /// The target's instance view, when its inventory is on.
    pub inventory: Option<Inventory>,
    /// The `SourceIdentity` of the caller's session this call's own EC2 calls (`ec2.client`:
    /// its changes) are signed with, when the account gives each caller its own.
    pub source_identity: Option<String>,
    /// The target's clients per caller (for accounts that give each caller a session).
    pub callers: CallerClients,
}

impl Reached {
    /// A target reached through the account's own session.
    pub fn new(target: Target, ec2: Ec2, inventory: Option<Inventory>) -> Reached {
        Reached {
            target,
            ec2,
            inventory,
            source_identity: None,
            callers: CallerClients::default(),
        }
    }
}

/// The accounts in force: fixed, or an accounts file kept current.
#[derive(Debug)]
enum Source {
    Fixed(Box<Accounts>),
    File(Arc<AccountsFile>),
}

impl Source {
    fn with<R>(&self, read: impl FnOnce(&Accounts) -> R) -> R {
        match self {
            Source::Fixed(accounts) => read(accounts),
            Source::File(file) => read(&file.get()),
        }
    }
}

/// A target as built, with the account settings it was built from.
#[derive(Debug)]
struct Built {
    account: Account,
    reached: Arc<Reached>,
}

/// The gateway's targets (cheap to clone): resolved per call, built on first use, kept.
#[derive(Debug, Clone)]
pub struct Targets {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    accounts: Source,
    /// Builds targets; `None`: only the prebuilt home target is served (tests).
    factory: Option<Factory>,
    /// The home account in its home region, built at start.
    home: Arc<Reached>,
    /// Targets built, by alias and region.
    built: RwLock<HashMap<(String, String), Built>>,
    /// One target is built at a time (two callers of a new target build it once).
    building: tokio::sync::Mutex<()>,
    /// Each account's credentials, shared by its regions, with the account they were made for.
    credentials: Mutex<HashMap<String, (Account, SharedCredentialsProvider)>>,
    /// The sessions of callers, in accounts that give each caller its own.
    caller_sessions: CallerSessions,
}

/// The outcome of looking a target up, with the account when its callers get sessions of
/// their own.
enum Lookup {
    Built(Arc<Reached>, Option<Box<Account>>),
    ToBuild(Box<(Target, Account)>),
}

impl Targets {
    /// The home target alone, over `ec2` (and `inventory`), in `ec2`'s region: a gateway
    /// without an accounts file or factory (tests).
    pub fn single(ec2: Ec2, inventory: Option<Inventory>) -> Targets {
        let region = ec2
            .client
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        let accounts = Accounts::home_only(&region, None);
        let target = accounts.target("", "").expect("the home target resolves");
        let home = Arc::new(Reached::new(target, ec2, inventory));
        Targets::with_home(Source::Fixed(Box::new(accounts)), None, home)
    }

    fn with_home(accounts: Source, factory: Option<Factory>, home: Arc<Reached>) -> Targets {
        let key = (home.target.alias.clone(), home.target.region.clone());
        let account = accounts.with(|a| a.home.clone());
        let built = HashMap::from([(
            key,
            Built {
                account,
                reached: home.clone(),
            },
        )]);
        Targets {
            inner: Arc::new(Inner {
                accounts,
                factory,
                home,
                built: RwLock::new(built),
                building: tokio::sync::Mutex::new(()),
                credentials: Mutex::new(HashMap::new()),
                caller_sessions: CallerSessions::default(),
            }),
        }
    }

    /// The targets `factory` builds, as `accounts_file` lists them (read again when it
    /// changes; without one, the home account in its configured region). Builds the home
    /// target now: its budget must be set up for the gateway to start.
    pub async fn start(factory: Factory, accounts_file: Option<&Path>) -> Result<Targets, String> {
        let home_region = factory.home_region();
        let accounts = match accounts_file {
            Some(path) => {
                let file = accounts::load(path, &home_region)?;
                file.watch();
                Source::File(file)
            }
            None => Source::Fixed(Box::new(Accounts::home_only(&home_region, None))),
        };
        let (account, target) = accounts.with(|a| {
            let (home, target) = a.resolve("", "").map_err(|e| e.to_string())?;
            Ok::<_, String>((home.clone(), target))
        })?;
        let home = factory.build(target, &account, None).await?;
        let targets = Targets::with_home(accounts, Some(factory), Arc::new(home));
        if matches!(targets.inner.accounts, Source::File(_)) {
            tokio::spawn(forget_removed(Arc::downgrade(&targets.inner)));
        }
        Ok(targets)
    }

    /// The home account in its home region (the counters of `Gateway::stats`).
    pub fn home(&self) -> &Arc<Reached> {
        &self.inner.home
    }

    /// Every target built so far.
    pub fn reached(&self) -> Vec<Arc<Reached>> {
        let built = self.inner.built.read().expect("targets lock");
        built.values().map(|b| b.reached.clone()).collect()
    }

    /// The target a call of `caller` names (`account`, `region`; empty: the home ones), once
    /// `permit` allows it, built on first use; in an account that gives callers sessions of
    /// their own, with the caller's (made on its first call). Unknown accounts and regions the
    /// account does not allow are INVALID_ARGUMENT naming the field; `permit`'s refusal is
    /// returned as it is. Neither makes an AWS call.
    pub async fn reach(
        &self,
        account: &str,
        region: &str,
        caller: Option<&str>,
        permit: impl FnOnce(&Target) -> Result<(), Error>,
    ) -> Result<Arc<Reached>, Error> {
        let lookup = self.inner.accounts.with(|accounts| {
            let (found, target) = accounts.resolve(account, region)?;
            permit(&target)?;
            let key = (target.alias.clone(), target.region.clone());
            let built = self.inner.built.read().expect("targets lock");
            Ok::<_, Error>(match built.get(&key) {
                Some(b) if b.account.reaches_as(found, &target.region) => {
                    let own_sessions = found.source_identity && !found.is_home();
                    Lookup::Built(
                        b.reached.clone(),
                        own_sessions.then(|| Box::new(found.clone())),
                    )
                }
                _ => Lookup::ToBuild(Box::new((target, found.clone()))),
            })
        })?;
        let (reached, account) = match lookup {
            Lookup::Built(reached, account) => (reached, account.map(|a| *a)),
            Lookup::ToBuild(to_build) => {
                let (target, account) = *to_build;
                let own_sessions = account.source_identity && !account.is_home();
                let reached = self.build(target, account.clone()).await?;
                (reached, own_sessions.then_some(account))
            }
        };
        match (account, caller, &self.inner.factory) {
            (Some(account), Some(caller), Some(factory)) => {
                Ok(self.as_caller(&reached, &account, caller, factory).await)
            }
            _ => Ok(reached),
        }
    }

    /// `reached` as `caller` reaches it: its EC2 calls signed with the caller's session.
    async fn as_caller(
        &self,
        reached: &Reached,
        account: &Account,
        caller: &str,
        factory: &Factory,
    ) -> Arc<Reached> {
        let identity = caller_sessions::source_identity(caller);
        let credentials = self
            .inner
            .caller_sessions
            .credentials(factory.base(), account, caller, &identity)
            .await;
        let client = reached
            .callers
            .client(caller, &reached.ec2.shared, credentials);
        Arc::new(Reached {
            target: reached.target.clone(),
            ec2: reached.ec2.for_caller(client),
            inventory: reached.inventory.clone(),
            source_identity: Some(identity),
            callers: CallerClients::default(),
        })
    }

    /// Builds `target` of `account` (unless a concurrent call just did) and keeps it.
    async fn build(&self, target: Target, account: Account) -> Result<Arc<Reached>, Error> {
        let Some(factory) = &self.inner.factory else {
            return Err(Error::Internal(format!(
                "this gateway serves only its home target, not {} in {}",
                target.alias, target.region
            )));
        };
        let _one_at_a_time = self.inner.building.lock().await;
        let key = (target.alias.clone(), target.region.clone());
        if let Some(b) = self.inner.built.read().expect("targets lock").get(&key)
            && b.account.reaches_as(&account, &target.region)
        {
            return Ok(b.reached.clone());
        }
        let credentials = if account.is_home() {
            None
        } else {
            Some(self.credentials(factory.base(), &account).await)
        };
        let reached = factory
            .build(target, &account, credentials)
            .await
            .map_err(Error::Internal)?;
        let reached = Arc::new(reached);
        let replaced = self.inner.built.write().expect("targets lock").insert(
            key,
            Built {
                account,
                reached: reached.clone(),
            },
        );
        if let Some(old) = replaced {
            close(&old.reached);
        }
        Ok(reached)
    }

    /// The credentials of `account`'s role, made once per account and kept while the
    /// account's role settings stay the same.
    async fn credentials(&self, base: &SdkConfig, account: &Account) -> SharedCredentialsProvider {
        if let Some((made_for, provider)) = self
            .inner
            .credentials
            .lock()
            .expect("credentials lock")
            .get(&account.alias)
            && made_for.same_credentials(account)
        {
            return provider.clone();
        }
        let provider = credentials::assumed_role(base, account, None).await;
        self.inner
            .credentials
            .lock()
            .expect("credentials lock")
            .insert(account.alias.clone(), (account.clone(), provider.clone()));
        provider
    }

    /// Ends every open watch and wait: the server is shutting down.
    pub fn close(&self) {
        for reached in self.reached() {
            close(&reached);
        }
    }
}

/// Ends the open watches and waits of `reached`'s view, if it has one.
fn close(reached: &Reached) {
    if let Some(inventory) = &reached.inventory {
        inventory.close();
    }
}

/// How often targets of accounts and regions no longer in the accounts file are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(5);

/// Forgets the targets whose account or region the accounts file no longer lists (their
/// views stop listing once their last call ends), for as long as the targets live.
async fn forget_removed(inner: Weak<Inner>) {
    let mut every = tokio::time::interval(FORGET_EVERY);
    loop {
        every.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut removed = Vec::new();
        inner.accounts.with(|accounts| {
            let mut built = inner.built.write().expect("targets lock");
            built.retain(|(alias, region), b| {
                let kept = accounts
                    .account(alias)
                    .is_ok_and(|a| a.regions.contains(region));
                if !kept {
                    removed.push(b.reached.clone());
                }
                kept
            });
            let mut credentials = inner.credentials.lock().expect("credentials lock");
            credentials.retain(|alias, _| accounts.others.contains_key(alias));
            inner
                .caller_sessions
                .retain(|alias| accounts.others.contains_key(alias));
        });
        for reached in removed {
            tracing::info!(
                account = %reached.target.alias,
                region = %reached.target.region,
                "target removed from the accounts file: forgotten"
            );
            close(&reached);
        }
    }
}
