//! Logs, traces and metrics.
//!
//! - Logs: `tracing` to stderr, as text or JSON lines; one line per gRPC call (`rpc`).
//! - Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
//!   set, spans go to that OTLP collector over gRPC: a server span per call continuing the
//!   caller's W3C trace, and a child span per EC2 attempt. No exporter otherwise.
//! - Metrics: the instruments of `metrics`, exported over OTLP under the same condition
//!   (every `OTEL_METRIC_EXPORT_INTERVAL` ms, default 60 s), and served as Prometheus text when
//!   `--metrics-listen` is set.
//! - Audit events: with the audit trail on, also exported as OpenTelemetry log records over
//!   OTLP under the same condition (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` too); see `audit::otlp`.
//!   The diagnostic logs stay on stderr.
//!
//! `OTEL_SERVICE_NAME` names the service (default `ec2-grpc`). `Telemetry::shutdown` flushes.

pub mod metrics;
pub mod prometheus;
pub mod rpc;

use crate::startup::StartupError;
use opentelemetry::global;
use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, SdkLogger, SdkLoggerProvider,
};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal;
use std::time::Duration;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for terminals.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What telemetry the service installs (OTLP export comes from the standard `OTEL_*`
/// variables).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The log filter: a level or `tracing` directives (validated by the configuration).
    pub log_level: String,
    /// Text or JSON lines.
    pub log_format: LogFormat,
    /// Whether metrics are served as Prometheus text (a registry is kept for it).
    pub prometheus: bool,
    /// With the audit trail on, its queue's depth (its events are exported as log records
    /// when OTLP is configured, through a queue as deep).
    pub audit_queue: Option<usize>,
}

/// The installed providers, kept to flush them at shutdown.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Exports spans, when OTLP is configured.
    tracer_provider: Option<SdkTracerProvider>,
    /// Exports and serves metrics, when OTLP or Prometheus is configured.
    meter_provider: Option<SdkMeterProvider>,
    /// Exports audit events as log records, when the trail is on and OTLP is configured.
    logger_provider: Option<SdkLoggerProvider>,
    /// What `--metrics-listen` serves.
    pub prometheus: Option<::prometheus::Registry>,
    /// The thread writing log lines; dropping it (at exit) flushes what is buffered.
    log_writer: Option<WorkerGuard>,
}

/// How many bytes of log lines the log thread gathers into one write at most.
const LOG_WRITE_BYTES: usize = 64 * 1024;

/// Whether an OTLP endpoint is configured for `signal` (the standard variables).
fn otlp_configured(signal: &str) -> bool {
    std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || std::env::var_os(format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")).is_some()
}

/// The resource every span and metric carries: `OTEL_SERVICE_NAME`, or `ec2-grpc`.
fn resource() -> Resource {
    let builder = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        builder.build()
    } else {
        builder.with_service_name("ec2-grpc").build()
    }
}

/// Installs logging, and the OpenTelemetry providers the environment and `settings` ask for.
pub fn init(settings: &Settings) -> Result<Telemetry, StartupError> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let mut telemetry = Telemetry::default();

    if otlp_configured("TRACES") {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| {
                StartupError::Telemetry(format!("cannot set up the OTLP span exporter: {e}"))
            })?;
        telemetry.tracer_provider = Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource())
                .build(),
        );
    }

    if let (Some(depth), true) = (settings.audit_queue, otlp_configured("LOGS")) {
        let exporter = opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| {
                StartupError::Telemetry(format!("cannot set up the OTLP log exporter: {e}"))
            })?;
        // As deep as the audit queue: a burst the trail takes, the export takes too.
        let batches = BatchConfigBuilder::default()
            .with_max_queue_size(depth)
            .build();
        let processor = BatchLogProcessor::builder(exporter)
            .with_batch_config(batches)
            .build();
        telemetry.logger_provider = Some(
            SdkLoggerProvider::builder()
                .with_log_processor(processor)
                .with_resource(resource())
                .build(),
        );
    }

    let mut meters = SdkMeterProvider::builder().with_resource(resource());
    let mut any_reader = false;
    if otlp_configured("METRICS") {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| {
                StartupError::Telemetry(format!("cannot set up the OTLP metric exporter: {e}"))
            })?;
        let interval = std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(60), Duration::from_millis);
        meters = meters.with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(interval)
                .build(),
        );
        any_reader = true;
    }
    if settings.prometheus {
        let registry = ::prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| {
                StartupError::Telemetry(format!("cannot set up the Prometheus exporter: {e}"))
            })?;
        meters = meters.with_reader(exporter);
        telemetry.prometheus = Some(registry);
        any_reader = true;
    }
    if any_reader {
        let provider = meters.build();
        global::set_meter_provider(provider.clone());
        telemetry.meter_provider = Some(provider);
    }

    // The filter was validated with the config; falling back to `info` beats running blind.
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    // Log lines go to stderr from a thread of their own, so a call never waits on the write
    // (a line per call written in place halved the throughput in the benchmarks). Not lossy:
    // when the buffer is full, callers wait rather than lines being dropped. The thread
    // writes the lines waiting for it in one write and flushes when none is left (a write
    // per line under load cost a syscall per call).
    let (writer, guard) =
        NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::BufWriter::with_capacity(
                LOG_WRITE_BYTES,
                std::io::stderr(),
            ));
    telemetry.log_writer = Some(guard);
    let (text, json) = match settings.log_format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(ansi),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(writer),
            ),
        ),
    };
    let otel = telemetry
        .tracer_provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("ec2-grpc")));
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel)
        .init();
    Ok(telemetry)
}

impl Telemetry {
    /// The logger audit events are exported with, when the trail is on and OTLP configured.
    pub fn audit_logger(&self) -> Option<SdkLogger> {
        self.logger_provider
            .as_ref()
            .map(|provider| provider.logger("ec2-grpc.audit"))
    }

    /// Flushes and stops the exporters (spans, metrics and log records still buffered are sent).
    pub fn shutdown(&self) {
        if let Some(provider) = &self.logger_provider {
            let _ = provider.shutdown();
        }
        if let Some(provider) = &self.tracer_provider {
            let _ = provider.shutdown();
        }
        if let Some(provider) = &self.meter_provider {
            let _ = provider.shutdown();
        }
    }
}
