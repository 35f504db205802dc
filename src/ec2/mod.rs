//! The EC2 seam: the SDK client built from the standard AWS configuration with the account's
//! protection in it (budget, deadline, timeouts, retries), and the describe calls that
//! coalesce.
//!
//! - `budgeted`: every HTTP attempt passes the EC2 budget and the caller's deadline.
//! - `coalesce`: identical in-flight describes share one call.
//! - `batch`: describes of a few instance ids from many callers merge into one call.
//! - `lookup_calls`: the lookups' identical calls share one, and slow-changing answers are kept.

pub mod batch;
pub mod budgeted;
pub mod coalesce;
pub mod lookup_calls;

use crate::error::Error;
use crate::protection::budget::Budget;
use crate::protection::stats::Stats;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::types::Filter;
use batch::IdBatcher;
use coalesce::SingleFlight;
use lookup_calls::LookupCalls;
use std::sync::Arc;
use std::time::Duration;

/// How the SDK calls EC2: attempts and timeouts (the SDK sets no timeouts of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkSettings {
    /// Attempts per EC2 call, the first included (the SDK's standard retry, with backoff).
    pub max_attempts: u32,
    /// Time to connect to EC2.
    pub connect_timeout: Duration,
    /// Time for one attempt (budget wait included).
    pub attempt_timeout: Duration,
    /// Time for all attempts of one call.
    pub operation_timeout: Duration,
}

impl Default for SdkSettings {
    fn default() -> Self {
        SdkSettings {
            max_attempts: 3,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// Loads the standard AWS configuration: region, credentials (environment, profile, web
/// identity / IRSA, container and instance metadata) and endpoint overrides
/// (`AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`).
pub async fn aws_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The EC2 client for `shared`, with every attempt passing `budget` and the caller's deadline,
/// and `settings`' retries and timeouts.
pub fn protected_client(
    shared: &SdkConfig,
    settings: SdkSettings,
    budget: Arc<Budget>,
    stats: Arc<Stats>,
) -> Result<aws_sdk_ec2::Client, Error> {
    let http = shared.http_client().unwrap_or_else(default_https_client);
    let config = aws_sdk_ec2::config::Builder::from(shared)
        .http_client(budgeted::budgeted(http, budget, stats.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.connect_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .operation_timeout(settings.operation_timeout)
                .build(),
        )
        .interceptor(budgeted::RetryCounter(stats))
        .build();
    Ok(aws_sdk_ec2::Client::from_conf(config))
}

/// The HTTPS client the SDK would use by default: hyper 1 with rustls (aws-lc), connector
/// settings and sleep from the SDK's runtime, proxies from `HTTPS_PROXY` / `NO_PROXY`. One
/// serves every target: its connectors (and their pools) are kept per connector settings.
pub fn default_https_client() -> aws_sdk_ec2::config::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// One DescribeInstances or DescribeNetworkInterfaces page as the gateway asks for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescribePage {
    /// Instance or network interface ids (at most 1000).
    pub ids: Vec<String>,
    /// EC2 filters.
    pub filters: Vec<Filter>,
    /// Page size.
    pub max_results: Option<i32>,
    /// The page.
    pub next_token: Option<String>,
    /// EC2's `IncludeManagedResources`.
    pub include_managed_resources: Option<bool>,
    /// Permission check only.
    pub dry_run: bool,
}

/// A key equal for requests EC2 answers identically: ids as a set, filters by name with
/// their values as sets.
fn normalized_key(
    action: &str,
    ids: &[String],
    filters: &[Filter],
    rest: impl std::fmt::Debug,
) -> String {
    let mut ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut filters: Vec<(&str, Vec<&str>)> = filters
        .iter()
        .map(|f| {
            let mut values: Vec<&str> = f.values().iter().map(String::as_str).collect();
            values.sort_unstable();
            values.dedup();
            (f.name().unwrap_or_default(), values)
        })
        .collect();
    filters.sort();
    format!("{action}|{ids:?}|{filters:?}|{rest:?}")
}

/// How describes by a few ids merge (see `batch`); `None` turns merging off.
pub type MergeWindow = Option<batch::Window>;

/// The gateway's EC2 client: the protected SDK client, and the describes that coalesce.
#[derive(Debug, Clone)]
pub struct Ec2 {
    /// The SDK client of this call, for every call that does not coalesce: the caller's
    /// session where the account gives callers their own (`targets::caller_sessions`), else
    /// the target's.
    pub client: aws_sdk_ec2::Client,
    /// The target's own SDK client, for the describes that may be shared by callers
    /// (coalesced or merged describes, lookups in flight or kept).
    pub shared: aws_sdk_ec2::Client,
    /// In-flight DescribeInstances pages.
    instances: Arc<SingleFlight<DescribeInstancesOutput>>,
    /// In-flight DescribeNetworkInterfaces pages.
    interfaces: Arc<SingleFlight<DescribeNetworkInterfacesOutput>>,
    /// The merger of describes by a few ids, when on.
    batcher: Option<IdBatcher>,
    /// The lookups' calls in flight, and their kept answers.
    pub lookups: Arc<LookupCalls>,
    /// Protection counters.
    pub stats: Arc<Stats>,
}

impl Ec2 {
    /// Coalescing describes over `client`, merging describes by ids within `window`. Must be
    /// called inside a tokio runtime (the merger runs as a task).
    pub fn new(client: aws_sdk_ec2::Client, window: MergeWindow, stats: Arc<Stats>) -> Ec2 {
        Ec2 {
            instances: SingleFlight::new(stats.clone()),
            interfaces: SingleFlight::new(stats.clone()),
            lookups: Arc::new(LookupCalls::new(stats.clone())),
            batcher: window.map(|w| IdBatcher::start(client.clone(), w, stats.clone())),
            shared: client.clone(),
            client,
            stats,
        }
    }

    /// The same seam, with `client` (a caller's session) for the calls that do not coalesce;
    /// shared calls stay on the target's own client.
    pub fn for_caller(&self, client: aws_sdk_ec2::Client) -> Ec2 {
        Ec2 {
            client,
            ..self.clone()
        }
    }

    /// One DescribeInstances page, merged with other callers' describes by a few ids, or
    /// shared with an identical call in flight.
    pub async fn describe_instances(
        &self,
        page: DescribePage,
    ) -> Result<DescribeInstancesOutput, Error> {
        let by_ids_only = !page.ids.is_empty()
            && page.ids.len() <= batch::MAX_IDS_PER_CALLER
            && page.ids.iter().all(|id| batch::is_instance_id(id))
            && page.filters.is_empty()
            && page.max_results.is_none()
            && page.next_token.is_none()
            && page.include_managed_resources.is_none()
            && !page.dry_run;
        if let (true, Some(batcher)) = (by_ids_only, &self.batcher) {
            return batcher.describe(page.ids).await;
        }
        let key = normalized_key(
            "DescribeInstances",
            &page.ids,
            &page.filters,
            (
                page.max_results,
                &page.next_token,
                page.include_managed_resources,
                page.dry_run,
            ),
        );
        let call = self
            .shared
            .describe_instances()
            .set_instance_ids((!page.ids.is_empty()).then_some(page.ids))
            .set_filters((!page.filters.is_empty()).then_some(page.filters))
            .set_max_results(page.max_results)
            .set_next_token(page.next_token)
            .set_include_managed_resources(page.include_managed_resources)
            .dry_run(page.dry_run);
        // Boxed: the SDK's future is tens of KiB, and every future holding it unboxed (this
        // one, the single flight's task) would copy it whole on each move.
        self.instances
            .run(
                key,
                Box::pin(async move { call.send().await.map_err(Error::from) }),
            )
            .await
    }

    /// One DescribeNetworkInterfaces page, shared with an identical call in flight.
    pub async fn describe_network_interfaces(
        &self,
        page: DescribePage,
    ) -> Result<DescribeNetworkInterfacesOutput, Error> {
        let key = normalized_key(
            "DescribeNetworkInterfaces",
            &page.ids,
            &page.filters,
            (
                page.max_results,
                &page.next_token,
                page.include_managed_resources,
                page.dry_run,
            ),
        );
        let ids = page.ids;
        let call = self
            .shared
            .describe_network_interfaces()
            .set_network_interface_ids((!ids.is_empty()).then_some(ids))
            .set_filters((!page.filters.is_empty()).then_some(page.filters))
            .set_max_results(page.max_results)
            .set_next_token(page.next_token)
            .set_include_managed_resources(page.include_managed_resources)
            .dry_run(page.dry_run);
        self.interfaces
            .run(
                key,
                Box::pin(async move { call.send().await.map_err(Error::from) }),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_the_order_of_ids_filters_and_values() {
        let f = |name: &str, values: &[&str]| {
            Filter::builder()
                .name(name)
                .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                .build()
        };
        let a = normalized_key(
            "D",
            &["i-2".into(), "i-1".into()],
            &[f("b", &["y", "x"]), f("a", &["1"])],
            (Some(5), "t"),
        );
        let b = normalized_key(
            "D",
            &["i-1".into(), "i-2".into(), "i-1".into()],
            &[f("a", &["1"]), f("b", &["x", "y"])],
            (Some(5), "t"),
        );
        assert_eq!(a, b);
        assert_ne!(a, normalized_key("D", &[], &[], (Some(5), "t")));
    }
}
