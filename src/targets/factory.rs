//! How a target is built: the target's AWS configuration (the home one, in the target's
//! region, with the account's assumed-role credentials), its counters, EC2 budget, SDK client,
//! coalescing describes and, where it is on, its instance view.

use super::accounts::Account;
use super::{Reached, Target, credentials};
use crate::ec2::{Ec2, MergeWindow, SdkSettings};
use crate::events::{EventsSettings, Fanout, sqs_client};
use crate::inventory::{Inventory, InventorySettings};
use crate::protection::budget::BudgetSettings;
use crate::protection::budget::settings::derived_key;
use crate::protection::stats::Stats;
use aws_config::SdkConfig;
use aws_sdk_ec2::config::{Region, SharedCredentialsProvider};
use std::sync::Arc;

/// How targets are built: the home AWS configuration and the settings every target gets.
#[derive(Debug, Clone)]
pub struct Factory {
    /// The home account's AWS configuration (credentials chain, region, endpoints), with the
    /// one HTTP client and identity cache every target's client shares.
    base: SdkConfig,
    /// How the SDK calls EC2.
    pub sdk: SdkSettings,
    /// The EC2 budget (a target's share may be overridden by the accounts file).
    pub budget: BudgetSettings,
    /// The merge window of describes by a few ids.
    pub merge_window: MergeWindow,
    /// How instance views are kept, when the inventory is on.
    pub inventory: Option<InventorySettings>,
    /// The SQS queue of the home account's EC2 events in the home region
    /// (`--inventory-events-queue-url`); other targets name theirs in the accounts file.
    pub home_events_queue: Option<String>,
}

/// Identity cache partitions kept: one per credentials provider and hop of a chain: each
/// account's own session (and the home's), the callers' sessions of accounts that set
/// `source_identity` (`caller_sessions::MAX_SESSIONS`, a chain's hops each), and the
/// partitions of sessions forgotten, until the cache evicts them (an arbitrary one when full:
/// an evicted live session costs an AssumeRole, never wrong credentials). An empty partition
/// is a few words.
const IDENTITY_PARTITIONS: usize = 16 * 1024;

impl Factory {
    /// Targets built from `base` (the standard AWS configuration of the home account): one
    /// HTTP client and one identity cache for all of them, and STS calls bounded by `sdk`'s
    /// timeouts (an AssumeRole never hangs a call).
    pub fn new(
        base: &SdkConfig,
        sdk: SdkSettings,
        budget: BudgetSettings,
        merge_window: MergeWindow,
        inventory: Option<InventorySettings>,
    ) -> Factory {
        use aws_sdk_ec2::config::IdentityCache;
        use aws_sdk_ec2::config::timeout::TimeoutConfig;
        let http = base
            .http_client()
            .unwrap_or_else(crate::ec2::default_https_client);
        let cache = IdentityCache::lazy()
            .buffer_time(credentials::IDENTITY_BUFFER)
            .max_partitions(IDENTITY_PARTITIONS)
            .build();
        let base = base
            .to_builder()
            .http_client(http)
            .identity_cache(cache)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(sdk.connect_timeout)
                    .operation_attempt_timeout(sdk.attempt_timeout)
                    .operation_timeout(sdk.operation_timeout)
                    .build(),
            )
            .build();
        Factory {
            base,
            sdk,
            budget,
            merge_window,
            inventory,
            home_events_queue: None,
        }
    }

    /// The home account's AWS configuration, which assumed roles are assumed with.
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The home region: the configured one.
    pub fn home_region(&self) -> String {
        self.base
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string())
    }

    /// The AWS configuration of a target: the home one in `region`, with `credentials` for an
    /// account reached through a role.
    pub fn target_config(
        &self,
        region: &str,
        credentials: Option<SharedCredentialsProvider>,
    ) -> SdkConfig {
        let mut conf = self.base.to_builder();
        conf.set_region(Some(Region::new(region.to_owned())));
        if let Some(credentials) = credentials {
            conf.set_credentials_provider(Some(credentials));
        }
        conf.build()
    }

    /// The channel of `target`'s events between the replicas, when they share Redis.
    fn fanout(&self, target: &Target) -> Option<Fanout> {
        let redis = self.budget.redis.as_ref()?;
        let password = redis
            .password()
            .map_err(|e| tracing::warn!("the events channel has no Redis: {e}"))
            .ok()?;
        let client = crate::protection::budget::shared::client(&redis.url, password.as_ref())
            .map_err(|e| tracing::warn!("the events channel has no Redis: {e}"))
            .ok()?;
        let key = format!("{}:{}", target.account_label(), target.region);
        Some(Fanout::new(client, crate::events::fanout::channel(&key)))
    }

    /// Builds what `target` of `account` needs, with `credentials` for an account reached
    /// through a role. Fails when its budget cannot be set up.
    pub(super) async fn build(
        &self,
        target: Target,
        account: &Account,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Reached, String> {
        let conf = self.target_config(&target.region, credentials);
        let stats = Arc::new(Stats::for_target(target.account_label(), &target.region));
        let settings = account.settings_in(&target.region);
        // The shared budget's name (with Redis): EC2 throttles per account and region.
        let key = match &target.account_id {
            _ if self.budget.redis.is_none() => None,
            // The home account in its configured region: `--ec2-budget-key`, else derived.
            _ if target.home && target.region == self.home_region() => None,
            Some(id) => Some(format!("{id}:{}", target.region)),
            None => Some(derived_key(&conf).await?),
        };
        let budget = self
            .budget
            .budget(&conf, key, settings.budget_share, stats.clone())
            .await?;
        let client = crate::ec2::protected_client(&conf, self.sdk, Arc::new(budget), stats.clone())
            .map_err(|e| e.to_string())?;
        let ec2 = Ec2::new(client, self.merge_window, stats);
        let kept = match (settings.inventory, self.inventory) {
            (Some(false), _) | (None, None) => None,
            (Some(true) | None, Some(kept)) => Some(kept),
            (Some(true), None) => Some(InventorySettings::default()),
        };
        let inventory = kept.map(|kept| Inventory::start(ec2.clone(), kept));
        let home_region = target.home && target.region == self.home_region();
        let queue = settings
            .events_queue_url
            .or_else(|| self.home_events_queue.clone().filter(|_| home_region));
        if let (Some(kept), Some(inventory), Some(queue_url)) = (kept, &inventory, &queue) {
            let events = EventsSettings {
                queue_url: queue_url.clone(),
                debounce: kept.event_debounce,
            };
            let fanout = self.fanout(&target).map(Arc::new);
            if let Some(fanout) = &fanout {
                let (fanout, inventory) = (fanout.clone(), inventory.clone());
                tokio::spawn(async move { fanout.follow(inventory).await });
            }
            crate::events::start(
                sqs_client(&conf),
                events,
                inventory.clone(),
                ec2.clone(),
                fanout,
            );
        }
        tracing::info!(
            account = %target.alias,
            region = %target.region,
            inventory = inventory.is_some(),
            events_queue = queue.as_deref().unwrap_or("none"),
            "target ready"
        );
        Ok(Reached::new(target, ec2, inventory))
    }
}
