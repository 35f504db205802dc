//! The tonic server: the EC2 service beside `grpc.health.v1` and server reflection (v1 and
//! v1alpha, since grpcurl 1.8 speaks only v1alpha), with graceful shutdown.

use crate::api::Gateway;
use crate::auth::jwt::JwtVerifier;
use crate::auth::roles;
use crate::auth::tokens;
use crate::auth::{Auth, AuthLayer};
use crate::config::Config;
use crate::ec2::Ec2;
use crate::pb;
use crate::pb::ec2_service_server::Ec2ServiceServer;
use crate::protection::budget::Budget;
use crate::protection::call::CallLayer;
use crate::protection::caller_quota::{CallerQuotaLayer, CallerQuotas};
use crate::protection::shed::ShedLayer;
use crate::protection::stats::Stats;
use crate::telemetry::Telemetry;
use crate::telemetry::rpc::RpcLayer;
use crate::tls::{self, ServerTls, TlsFiles, TlsIncoming};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower::ServiceBuilder;

/// Input limit: the largest request message decoded (gRPC's usual 4 MiB).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Input limit: concurrent HTTP/2 streams (calls) one connection may open.
pub const MAX_CONCURRENT_STREAMS_PER_CONNECTION: u32 = 256;

/// The gRPC-side limits: each caller's quota and how many calls run at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Calls per second per caller.
    pub caller_rate: f64,
    /// Burst per caller.
    pub caller_burst: f64,
    /// Calls handled at once; more are shed.
    pub max_concurrent_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            caller_rate: 50.0,
            caller_burst: 100.0,
            max_concurrent_calls: 1024,
        }
    }
}

/// Runs the service as the binary does: binds `config.listen`, builds the EC2 client from the
/// standard AWS configuration with the EC2 budget in it, and serves until SIGTERM or SIGINT.
pub async fn run(
    config: &Config,
    telemetry: &Telemetry,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    if let (Some(address), Some(registry)) = (config.metrics_listen, &telemetry.prometheus) {
        let metrics = TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot listen on {address} for metrics: {e}"))?;
        tracing::info!("metrics on http://{}/metrics", metrics.local_addr()?);
        tokio::spawn(crate::telemetry::prometheus::serve(
            metrics,
            registry.clone(),
        ));
    }
    let stats = Arc::new(Stats::default());
    let budget = Arc::new(Budget::new(config.ec2_budget_share, &config.ec2_rates));
    let shared = crate::ec2::aws_config_from_env().await;
    let settings = config.sdk_settings();
    let client = crate::ec2::protected_client(&shared, settings, budget, stats.clone())?;
    let ec2 = Ec2::new(client, config.merge_window(), stats);
    let gateway = Gateway::with_ec2(ec2).with_batch_size(usize::from(config.action_batch_size));
    let access = Access {
        auth: auth_from(config).await?,
        tls: tls_from(config)?,
    };
    let grace = config.shutdown_grace();
    serve(
        listener,
        gateway,
        config.limits(),
        access,
        shutdown_signal(),
        grace,
    )
    .await
}

/// Who may call, and over what: authentication and authorization, and TLS.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The credentials and permissions enforced; `None`: every caller may call every RPC.
    pub auth: Option<Auth>,
    /// TLS on the gRPC port (with client certificates for mTLS), kept current from its files;
    /// `None`: plaintext.
    pub tls: Option<Arc<ServerTls>>,
}

/// The TLS `config` asks for (`None`: plaintext), watched for renewals.
fn tls_from(config: &Config) -> Result<Option<Arc<ServerTls>>, String> {
    let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_key_file) else {
        return Ok(None);
    };
    let files = TlsFiles {
        cert,
        key,
        client_ca: config.auth_client_ca_file.as_deref(),
    };
    let tls = tls::load(&files)?;
    tls.watch();
    Ok(Some(tls))
}

/// The authentication `config` asks for (`None`: none).
async fn auth_from(config: &Config) -> Result<Option<Auth>, String> {
    let tokens = match &config.auth_tokens_file {
        Some(path) => {
            let tokens = tokens::load(path)?;
            tokens.watch();
            Some(tokens)
        }
        None => None,
    };
    let jwt = match (&config.auth_jwks_file, &config.auth_jwks_url) {
        (Some(path), _) => Some(Arc::new(JwtVerifier::load(path, config.jwt_rules())?)),
        (None, Some(url)) => Some(Arc::new(
            JwtVerifier::fetch(url, config.jwks_refresh(), config.jwt_rules()).await?,
        )),
        (None, None) => None,
    };
    if !config.auth_configured() {
        return Ok(None);
    }
    let authorization = match &config.auth_roles_file {
        Some(path) => {
            let roles = roles::load(path)?;
            roles.watch();
            Some(roles)
        }
        None => None,
    };
    Ok(Some(Auth {
        tokens,
        jwt,
        client_certificates: config.auth_client_ca_file.is_some(),
        reflection_requires_credentials: config.auth_reflection_requires_credentials,
        authorization,
    }))
}

/// Serves on `listener` (over TLS when `access` says so) until `shutdown` completes, behind the
/// tower stack (outermost first): the call's span and log line, the caller's deadline
/// (`grpc-timeout`, carried to the EC2 calls), authentication and authorization, the
/// per-caller quota (RESOURCE_EXHAUSTED + RetryInfo), load shedding (UNAVAILABLE + RetryInfo).
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
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
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
        async move {
            shutdown.await;
            tracing::info!("shutdown started: health is NOT_SERVING, in-flight calls finishing");
            health.set_not_serving::<Ec2ServiceServer<Gateway>>().await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            draining.notify_one();
        }
    };

    let stats = gateway.stats_handle();
    let quotas = CallerQuotas::new(limits.caller_rate, limits.caller_burst, stats.clone());
    let stack = ServiceBuilder::new()
        // Outermost: the call's span (continuing the caller's trace), its duration metric with
        // the final status, and its log line, whatever the layers below answer.
        .layer(RpcLayer)
        // Every layer below and every EC2 call sees the call's deadline and span.
        .layer(CallLayer)
        // Who is calling, and may they: before the quota, which counts per principal.
        .layer(AuthLayer::new(access.auth))
        // Then each caller's own quota, so one caller flooding cannot starve the others.
        .layer(CallerQuotaLayer::new(Arc::new(quotas)))
        // Then the service-wide concurrency limit: refuse at once rather than queue.
        .layer(ShedLayer::new(limits.max_concurrent_calls, stats))
        .into_inner();
    let router = Server::builder()
        // Input limit: concurrent streams one connection may open.
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS_PER_CONNECTION)
        .layer(stack)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(Ec2ServiceServer::new(gateway).max_decoding_message_size(MAX_REQUEST_BYTES));
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
