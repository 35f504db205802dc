//! The EC2 budget and the caller's deadline, applied where every EC2 HTTP attempt passes: a
//! wrapper around the SDK's HTTP client. Each attempt (retries included) reserves its slot in
//! the budget first, is cut off at the caller's deadline, and reports throttling answers back
//! to the budget. One place, so no call site can forget it.

use crate::call::Call;
use crate::error::Error;
use crate::protection::budget::Budget;
use crate::protection::stats::Stats;
use aws_sdk_ec2::config::http::HttpRequest;
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents, SharedHttpClient};
use aws_sdk_ec2::error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use std::sync::Arc;
use tokio::time::Instant;
use tracing::Instrument;

/// `inner` with every attempt passing the budget and the deadline.
pub fn budgeted(
    inner: SharedHttpClient,
    budget: Arc<Budget>,
    stats: Arc<Stats>,
) -> SharedHttpClient {
    http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Budgeted {
            inner: inner.http_connector(settings, components),
            budget: budget.clone(),
            stats: stats.clone(),
        })
    })
}

/// The connector `budgeted` makes.
#[derive(Debug)]
struct Budgeted {
    /// The SDK's own connector.
    inner: SharedHttpConnector,
    /// The EC2 budget.
    budget: Arc<Budget>,
    /// Where waits, attempts and throttles are counted.
    stats: Arc<Stats>,
}

/// The EC2 action of a query-protocol request and how many instances it acts on (launched,
/// started, stopped or terminated: the instance buckets).
fn action_and_instances(body: &[u8]) -> (String, usize) {
    let mut action = String::new();
    let mut max_count = None;
    let mut ids = 0;
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "Action" => action = value.into_owned(),
            "MaxCount" => max_count = value.parse::<usize>().ok(),
            k if k.starts_with("InstanceId.") => ids += 1,
            _ => {}
        }
    }
    let instances = match action.as_str() {
        "RunInstances" => max_count.unwrap_or(1),
        "StartInstances" | "StopInstances" | "TerminateInstances" => ids,
        _ => 0,
    };
    (action, instances)
}

impl HttpConnector for Budgeted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (action, instances) = action_and_instances(request.body().bytes().unwrap_or_default());
        let deadline = Call::deadline();
        let inner = self.inner.clone();
        let budget = self.budget.clone();
        let stats = self.stats.clone();
        let span = tracing::info_span!(
            "ec2.attempt",
            otel.name = %format!("EC2 {action}"),
            otel.kind = "client",
            rpc.system = "aws-api",
            rpc.service = "EC2",
            rpc.method = %action,
            ec2.budget.wait_ms = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            aws.request_id = tracing::field::Empty,
            ec2.throttled = tracing::field::Empty,
            cloud.account.id = tracing::field::Empty,
            cloud.region = tracing::field::Empty,
        );
        // The target this client serves (its counters carry it).
        for attribute in self.stats.target_attributes() {
            let key = attribute.key.as_str();
            if key == "cloud.account.id" || key == "cloud.region" {
                span.record(key, tracing::field::display(&attribute.value));
            }
        }
        let attempt_span = span.clone();
        let future = async move {
            let own = |e: Error| ConnectorError::other(Box::new(e), None);
            match budget.acquire(&action, instances, deadline).await {
                Ok(wait) => {
                    stats.budget_waited(&action, wait);
                    span.record("ec2.budget.wait_ms", wait.as_millis() as u64);
                }
                Err(refused) => {
                    stats.budget_refused(&action);
                    return Err(own(refused));
                }
            }
            // Counted for the call's log line once the attempt really goes to EC2.
            Call::count_ec2_attempt();
            let started = Instant::now();
            let attempt = inner.call(request);
            let answered = match deadline {
                None => attempt.await,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, attempt).await {
                        Ok(answered) => answered,
                        Err(_) => {
                            stats.ec2_attempted(&action, "deadline", started.elapsed());
                            let passed = "the caller's deadline passed during the EC2 call";
                            return Err(own(Error::Timeout(passed.to_owned())));
                        }
                    }
                }
            };
            let response = match answered {
                Ok(response) => response,
                Err(failed) => {
                    stats.ec2_attempted(&action, "failed", started.elapsed());
                    return Err(failed);
                }
            };
            let status = response.status().as_u16();
            span.record("http.response.status_code", status);
            let request_id = response.headers().get("x-amzn-requestid");
            if let Some(id) = request_id {
                span.record("aws.request_id", id);
            }
            if let Some(notes) = Call::notes() {
                notes.ec2_call(&action, request_id, status);
            }
            let throttled = status == 503;
            span.record("ec2.throttled", throttled);
            let outcome = match status {
                200..=299 => "ok",
                503 => "throttled",
                _ => "error",
            };
            stats.ec2_attempted(&action, outcome, started.elapsed());
            if throttled {
                stats.ec2_throttled(&action);
                budget.throttled(&action);
            }
            Ok(response)
        };
        HttpConnectorFuture::new(future.instrument(attempt_span))
    }
}

/// Counts retries: attempts after the first of an operation.
#[derive(Debug)]
pub struct RetryCounter(pub Arc<Stats>);

impl Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "RetryCounter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            self.0.ec2_retry();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_counts_come_from_the_request() {
        let run = b"Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=7";
        assert_eq!(action_and_instances(run), ("RunInstances".into(), 7));
        let stop = b"Action=StopInstances&InstanceId.1=i-1&InstanceId.2=i-2";
        assert_eq!(action_and_instances(stop), ("StopInstances".into(), 2));
        let describe = b"Action=DescribeInstances&InstanceId.1=i-1";
        assert_eq!(
            action_and_instances(describe),
            ("DescribeInstances".into(), 0)
        );
    }
}
