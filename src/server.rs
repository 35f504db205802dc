//! The tonic server: the EC2 service beside `grpc.health.v1` and server reflection (v1 and
//! v1alpha, since grpcurl 1.8 speaks only v1alpha), with graceful shutdown.
//!
//! The server takes its `Settings` (built by the configuration, which nothing here imports)
//! and wires the components: the EC2 client with its budget, the gateway, authentication, TLS
//! and the tower stack.

use crate::api::Gateway;
use crate::audit::sink::{Destination, Sink};
use crate::audit::{AuditLayer, Auditor};
use crate::auth::{self, AuthLayer, AuthPolicy};
use crate::call::CallScopeLayer;
use crate::ec2::{MergeWindow, SdkSettings};
use crate::inventory::InventorySettings;
use crate::pb;
use crate::pb::ec2_service_server::Ec2ServiceServer;
use crate::protection::Limits;
use crate::protection::budget::BudgetSettings;
use crate::protection::caller_quota::{CallerQuotaLayer, CallerQuotas};
use crate::protection::shed::ShedLayer;
use crate::startup::StartupError;
use crate::targets::{Factory, Targets};
use crate::telemetry::Telemetry;
use crate::telemetry::rpc::ObserveLayer;
use crate::tls::{self, ServerTls, TlsFiles, TlsIncoming};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::service::LayerExt;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower::ServiceBuilder;

/// Input limit: the largest request message decoded (gRPC's usual 4 MiB).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Input limit: concurrent HTTP/2 streams (calls) one connection may open.
pub const MAX_CONCURRENT_STREAMS_PER_CONNECTION: u32 = 256;

/// Everything `run` needs, as the configuration builds it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to serve gRPC on.
    pub listen: SocketAddr,
    /// Address to serve Prometheus metrics on, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// The EC2 budget.
    pub budget: BudgetSettings,
    /// How the SDK calls EC2: attempts and timeouts.
    pub sdk: SdkSettings,
    /// The merge window of describes by a few ids.
    pub merge_window: MergeWindow,
    /// Most instance ids per EC2 call of the collection actions.
    pub action_batch_size: usize,
    /// Caller quotas and concurrency.
    pub limits: Limits,
    /// How callers authenticate.
    pub auth: auth::Settings,
    /// TLS on the gRPC port, if any.
    pub tls: Option<TlsFiles>,
    /// The instance inventory, if on.
    pub inventory: Option<InventorySettings>,
    /// The SQS queue of the home account's EC2 events in the home region, if any.
    pub events_queue_url: Option<String>,
    /// The accounts and regions served besides the home one (TOML, kept current); `None`:
    /// the home account in its configured region.
    pub accounts_file: Option<PathBuf>,
    /// How long in-flight calls may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// The audit trail, if on.
    pub audit: Option<AuditSettings>,
}

/// Where the audit trail goes and what it takes.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// The file, or stdout.
    pub destination: Destination,
    /// The policy file; `None`: the default (changes at `request`, no reads).
    pub policy_file: Option<PathBuf>,
    /// Refuse changes while the trail cannot be written.
    pub required: bool,
}

/// Runs the service as the binary does: binds `settings.listen`, builds the EC2 client from
/// the standard AWS configuration with the EC2 budget in it, and serves until SIGTERM or
/// SIGINT.
pub async fn run(settings: Settings, telemetry: &Telemetry) -> Result<(), StartupError> {
    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| StartupError::Listen {
                address: settings.listen,
                purpose: "",
                source,
            })?;
    if let (Some(address), Some(registry)) = (settings.metrics_listen, &telemetry.prometheus) {
        let metrics = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Listen {
                address,
                purpose: " for metrics",
                source,
            })?;
        tracing::info!("metrics on http://{}/metrics", metrics.local_addr()?);
        tokio::spawn(crate::telemetry::prometheus::serve(
            metrics,
            registry.clone(),
        ));
    }
    let shared = crate::ec2::aws_config_from_env().await;
    let mut factory = Factory::new(
        &shared,
        settings.sdk,
        settings.budget,
        settings.merge_window,
        settings.inventory,
    );
    factory.home_events_queue = settings.events_queue_url.clone();
    let targets = Targets::start(factory, settings.accounts_file.as_deref())
        .await
        .map_err(StartupError::Targets)?;
    let gateway = Gateway::with_targets(targets).with_batch_size(settings.action_batch_size);
    let access = Access {
        auth: AuthPolicy::load(&settings.auth)
            .await
            .map_err(StartupError::Auth)?,
        reflection_requires_credentials: settings.auth.reflection_requires_credentials,
        audit: match &settings.audit {
            Some(audit) => {
                let sink = Sink::start(audit.destination.clone(), telemetry.audit_logger())
                    .map_err(StartupError::Audit)?;
                Some(
                    Auditor::new(sink, audit.policy_file.as_deref(), audit.required)
                        .map_err(StartupError::Audit)?,
                )
            }
            None => None,
        },
        tls: match &settings.tls {
            Some(files) => {
                let tls = tls::load(files).map_err(StartupError::Tls)?;
                tls.watch();
                Some(tls)
            }
            None => None,
        },
    };
    let audit_writer = access.audit.as_ref().map(Auditor::writer);
    let served = serve(
        listener,
        gateway,
        settings.limits,
        access,
        shutdown_signal(),
        settings.shutdown_grace,
    )
    .await;
    // The events still queued (and the calls cancelled at the end of the grace) are written
    // before the process exits.
    if let Some(writer) = audit_writer {
        writer.finish(AUDIT_DRAIN).await;
    }
    served
}

/// How long the audit writer may take to write what is queued at exit.
const AUDIT_DRAIN: Duration = Duration::from_secs(5);

/// Who may call, and over what: authentication and authorization, and TLS.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The credentials and permissions enforced on `Ec2Service`; `None`: every caller may call
    /// every RPC.
    pub auth: Option<AuthPolicy>,
    /// Whether server reflection needs credentials too (health never does: probes call it).
    pub reflection_requires_credentials: bool,
    /// TLS on the gRPC port (with client certificates for mTLS), kept current from its files;
    /// `None`: plaintext.
    pub tls: Option<Arc<ServerTls>>,
    /// The audit trail of `Ec2Service`'s calls; `None`: off.
    pub audit: Option<Auditor>,
}

/// Serves on `listener` (over TLS when `access` says so) until `shutdown` completes, behind the
/// tower stack (outermost first): the call's span and log line, the caller's deadline
/// (`grpc-timeout`, carried to the EC2 calls), and on `Ec2Service` authentication and
/// authorization, the per-caller quota (RESOURCE_EXHAUSTED + RetryInfo), load shedding
/// (UNAVAILABLE + RetryInfo).
/// When `shutdown` completes, health turns NOT_SERVING at once, new calls are refused,
/// in-flight calls get up to `grace` to finish, and the function returns.
/// Tests call this directly with a listener on `127.0.0.1:0`.
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    limits: Limits,
    access: Access,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), StartupError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<Ec2ServiceServer<Gateway>>().await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc error details, so grpcurl can print ErrorInfo and BadRequest.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let address = listener.local_addr()?;
    tracing::info!("listening on {address}");

    let draining = Arc::new(Notify::new());
    let on_shutdown = {
        let draining = draining.clone();
        let gateway = gateway.clone();
        async move {
            shutdown.await;
            tracing::info!("shutdown started: health is NOT_SERVING, in-flight calls finishing");
            health.set_not_serving::<Ec2ServiceServer<Gateway>>().await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            // Watches and waits never end on their own: end them now, so their clients
            // move to another replica instead of holding this one for the whole grace.
            gateway.shutting_down();
            draining.notify_one();
        }
    };

    let stats = gateway.stats_handle();
    let quotas = CallerQuotas::new(limits.caller_rate, limits.caller_burst, stats.clone());
    // Around every service: the call's span (continuing the caller's trace), its duration
    // metric with the final status, and its log line, whatever the layers below answer; then
    // the call's deadline and span, seen by every layer below and every EC2 call.
    let every_call = ServiceBuilder::new()
        .layer(ObserveLayer)
        .layer(CallScopeLayer)
        .into_inner();
    // Around Ec2Service only (health and reflection are never refused by these):
    let ec2_calls = ServiceBuilder::new()
        // The audit record of the call, outside authentication so refusals are audited too.
        .layer(AuditLayer::new(access.audit.clone()))
        // Who is calling, and may they: before the quota, which counts per principal.
        .layer(AuthLayer::new(access.auth.clone()))
        // Then each caller's own quota, so one caller flooding cannot starve the others.
        .layer(CallerQuotaLayer::new(Arc::new(quotas)))
        // Then the service-wide concurrency limit: refuse at once rather than queue.
        .layer(ShedLayer::new(limits.max_concurrent_calls, stats))
        .into_inner();
    // Reflection needs credentials only when configured to; health never does.
    let reflection_auth = AuthLayer::new(
        access
            .auth
            .clone()
            .filter(|_| access.reflection_requires_credentials),
    );
    let router = Server::builder()
        // Input limit: concurrent streams one connection may open.
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS_PER_CONNECTION)
        .layer(every_call)
        .add_service(health_service)
        .add_service(reflection_auth.named_layer(reflection_v1))
        .add_service(reflection_auth.named_layer(reflection_v1alpha))
        .add_service(ec2_calls.named_layer(
            Ec2ServiceServer::new(gateway).max_decoding_message_size(MAX_REQUEST_BYTES),
        ));
    let server: Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>> =
        match access.tls {
            Some(tls) => Box::pin(router.serve_with_incoming_shutdown(
                TlsIncoming::new(incoming(listener), tls),
                on_shutdown,
            )),
            None => Box::pin(router.serve_with_incoming_shutdown(incoming(listener), on_shutdown)),
        };

    tokio::select! {
        served = server => served?,
        () = async { draining.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("shutdown grace of {grace:?} is over; dropping the calls still running");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The connections of `listener`, with Nagle's algorithm off: a response's headers, message
/// and trailers are separate small writes, and with Nagle on the last waits for the client's
/// delayed ACK (40 ms on Linux). The benchmarks found it: every unary call took 44 ms.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Completes on the first SIGTERM (Kubernetes, systemd) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing a SIGTERM handler works on unix");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
