//! Command-line flags and environment variables, validated once at start.
//!
//! AWS settings (region, credentials, `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL`, profile)
//! are deliberately absent: they come from the standard `aws-config` chain, under the names
//! AWS already documents.
//!
//! The configuration builds each component's own settings (`server::Settings`,
//! `telemetry::Settings`, `auth::Settings`, ...); no component imports the configuration.

use crate::audit::sink::Destination;
use crate::auth;
use crate::auth::jwt::JwtRules;
use crate::ec2::{MergeWindow, SdkSettings, batch};
use crate::inventory::InventorySettings;
use crate::protection::Limits;
use crate::protection::budget::Rate;
use crate::protection::budget::settings::{BudgetSettings, RedisSettings};
use crate::protection::budget::shared::RedisUrl;
use crate::server;
use crate::telemetry::{self, LogFormat};
use crate::tls::TlsFiles;
use clap::{CommandFactory, Parser};
use std::net::SocketAddr;
use std::time::Duration;

/// A share of the account's rate: 0 < share <= 1.
fn parse_share(value: &str) -> Result<f64, String> {
    let share: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if share > 0.0 && share <= 1.0 {
        Ok(share)
    } else {
        Err(format!("must be above 0 and at most 1, got {share}"))
    }
}

/// A positive number.
fn parse_positive(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(format!("must be a positive number, got {value:?}")),
    }
}

/// A budget key: what a Redis key may carry inside its hash tag.
fn parse_budget_key(value: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.');
    if !value.is_empty() && value.len() <= 100 && value.chars().all(allowed) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "expected letters, digits and : - _ . (at most 100), such as 123456789012:us-east-1; got {value:?}"
        ))
    }
}

/// ACTION=CAPACITY/REFILL.
fn parse_rate(value: &str) -> Result<(String, Rate), String> {
    let usage = || {
        format!("expected ACTION=CAPACITY/REFILL (e.g. DescribeInstances=100/20), got {value:?}")
    };
    let (action, numbers) = value.split_once('=').ok_or_else(usage)?;
    let (capacity, refill) = numbers.split_once('/').ok_or_else(usage)?;
    let capacity = parse_positive(capacity).map_err(|_| usage())?;
    let refill_per_sec = parse_positive(refill).map_err(|_| usage())?;
    if action.is_empty() || !action.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(usage());
    }
    Ok((action.to_owned(), Rate::new(capacity, refill_per_sec)))
}

/// The binary's command line: the service's configuration (serve), or `check` with the same
/// flags and environment (every flag is global: before or after `check`).
#[derive(Debug, Parser)]
#[command(
    name = "ec2-grpc",
    version,
    about = "A gRPC gateway to Amazon EC2.",
    long_about = "A gRPC gateway to Amazon EC2: internal services call EC2 through it over gRPC \
                  (server reflection included, so grpcurl needs no .proto file).\n\n\
                  AWS region, credentials and endpoint come from the standard AWS configuration: \
                  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, web identity \
                  (IRSA), instance metadata, and AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for a \
                  local EC2 stand-in."
)]
pub struct Cli {
    /// What to serve with, or to check.
    #[command(flatten)]
    pub config: Config,
    /// `check` instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does instead of serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Reads every configuration file and flag the gateway would use (the same flags and
    /// environment as serving) and reports each problem with its file and line; with --aws,
    /// also proves the AWS side and Redis. Exits 0 when all is well, 2 otherwise.
    Check(CheckArgs),
}

/// `ec2-grpc check`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also prove the outside: sts:GetCallerIdentity for the home credentials, each account's
    /// role assumed, one DryRun DescribeInstances per account and region, and Redis reachable
    /// with the budget script loaded.
    #[arg(long)]
    pub aws: bool,
}

/// The service configuration: every option of `ec2-grpc --help`.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to serve gRPC on. A non-loopback address needs authentication (a tokens file,
    /// a JWKS or a client CA) or --allow-unauthenticated.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_LISTEN",
        default_value = "127.0.0.1:50051"
    )]
    pub listen: SocketAddr,

    /// Bearer tokens: a file of `NAME TOKEN` lines (a Kubernetes Secret mount), read again when
    /// it changes. When set, every call but health and reflection needs a known token.
    #[arg(long, global = true, env = "EC2_GRPC_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<std::path::PathBuf>,

    /// JWT authentication: a JWKS file (RS256 / ES256 keys), read again when it changes. When
    /// set, a bearer JWT signed by one of its keys authenticates its principal claim.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_AUTH_JWKS_FILE",
        conflicts_with = "auth_jwks_url"
    )]
    pub auth_jwks_file: Option<std::path::PathBuf>,

    /// JWT authentication with the JWKS of an identity provider's URL (https): fetched at
    /// startup, again every --auth-jwks-refresh-secs, and when a token names an unknown key
    /// (at most every 30 s).
    #[arg(long, global = true, env = "EC2_GRPC_AUTH_JWKS_URL")]
    pub auth_jwks_url: Option<String>,

    /// How often the JWKS of --auth-jwks-url is fetched again, in seconds.
    #[arg(long, global = true, env = "EC2_GRPC_AUTH_JWKS_REFRESH_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub auth_jwks_refresh_secs: u64,

    /// The `iss` a JWT must carry.
    #[arg(long, global = true, env = "EC2_GRPC_AUTH_JWT_ISSUER")]
    pub auth_jwt_issuer: Option<String>,

    /// The `aud` a JWT must carry.
    #[arg(long, global = true, env = "EC2_GRPC_AUTH_JWT_AUDIENCE")]
    pub auth_jwt_audience: Option<String>,

    /// The JWT claim that names the principal.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_AUTH_JWT_PRINCIPAL_CLAIM",
        default_value = "sub"
    )]
    pub auth_jwt_principal_claim: String,

    /// mTLS: a PEM CA bundle. Callers may present a client certificate chaining to it; its
    /// URI SAN, else DNS SAN, else email SAN, else subject CN is the principal. Needs TLS
    /// (--tls-cert-file). The certificate is optional at the TLS level, so health stays
    /// reachable; every other RPC still needs some credential.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_AUTH_CLIENT_CA_FILE",
        requires = "tls_cert_file"
    )]
    pub auth_client_ca_file: Option<std::path::PathBuf>,

    /// Server reflection needs credentials too (by default health and reflection are public,
    /// so grpcurl can list the API).
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_AUTH_REFLECTION_REQUIRES_CREDENTIALS"
    )]
    pub auth_reflection_requires_credentials: bool,

    /// Roles, grants and tag scopes (TOML): which principal may call which RPC, on which
    /// resources. Read again when it changes. Without it, every authenticated principal may call
    /// every RPC. Needs an authentication method.
    #[arg(long, global = true, env = "EC2_GRPC_AUTH_ROLES_FILE")]
    pub auth_roles_file: Option<std::path::PathBuf>,

    /// Serve gRPC over TLS with this PEM certificate chain (with --tls-key-file).
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_TLS_CERT_FILE",
        requires = "tls_key_file"
    )]
    pub tls_cert_file: Option<std::path::PathBuf>,

    /// The PEM private key of --tls-cert-file.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_TLS_KEY_FILE",
        requires = "tls_cert_file"
    )]
    pub tls_key_file: Option<std::path::PathBuf>,

    /// Serve on a non-loopback address without authenticating callers. Only for networks where
    /// something else (a network policy, a sidecar) already decides who may connect.
    #[arg(long, global = true, env = "EC2_GRPC_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives such as
    /// `info,ec2_grpc=debug`.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,

    /// Serve Prometheus metrics (`GET /metrics`) on this address; off when unset. OTLP export
    /// is configured by the standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_SERVICE_NAME variables.
    #[arg(long, global = true, env = "EC2_GRPC_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, global = true, value_enum, env = "EC2_GRPC_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Most instance ids per EC2 call when acting on a selection (start, stop, reboot,
    /// terminate, monitor, unmonitor, tags): 1 to 1000, EC2's maximum.
    #[arg(long, global = true, env = "EC2_GRPC_ACTION_BATCH_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub action_batch_size: u16,

    /// The part of the AWS account's EC2 API rate the gateway may spend: EC2's bucket sizes
    /// and refill rates are multiplied by it (0 < share <= 1). With --ec2-budget-redis-url it
    /// is the share of all replicas together; without, each replica's own.
    #[arg(long, global = true, env = "EC2_GRPC_EC2_BUDGET_SHARE", default_value_t = 1.0, value_parser = parse_share)]
    pub ec2_budget_share: f64,

    /// Share the EC2 budget between replicas through this Redis (redis:// or rediss:// with
    /// TLS; a password in the URL or in --ec2-budget-redis-password-file; never logged).
    /// Unset: each replica keeps its own budget in memory.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_EC2_BUDGET_REDIS_URL",
        hide_env_values = true
    )]
    pub ec2_budget_redis_url: Option<String>,

    /// A file holding the Redis password (a Kubernetes Secret mount), for a URL without one.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_EC2_BUDGET_REDIS_PASSWORD_FILE",
        requires = "ec2_budget_redis_url"
    )]
    pub ec2_budget_redis_password_file: Option<std::path::PathBuf>,

    /// Names the account's shared budget in Redis (every replica of one AWS account and
    /// region must use the same). Default: the credentials' account id and the region, or
    /// `default:REGION` when the credentials do not say their account.
    #[arg(long, global = true, env = "EC2_GRPC_EC2_BUDGET_KEY", requires = "ec2_budget_redis_url",
          value_parser = parse_budget_key)]
    pub ec2_budget_key: Option<String>,

    /// The longest one Redis call of the shared budget may take before the replica falls back
    /// to its local share (milliseconds).
    #[arg(long, global = true, env = "EC2_GRPC_EC2_BUDGET_REDIS_TIMEOUT_MS", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub ec2_budget_redis_timeout_ms: u64,

    /// The most EC2 request slots one Redis round trip takes under load (a lease spent
    /// without asking Redis again; 1 turns leases off).
    #[arg(long, global = true, env = "EC2_GRPC_EC2_BUDGET_LEASE", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub ec2_budget_lease: u32,

    /// While Redis is away, each replica spends share / live replicas (the count last seen
    /// in Redis); never assume fewer replicas than this.
    #[arg(long, global = true, env = "EC2_GRPC_EC2_BUDGET_REPLICAS_FLOOR", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub ec2_budget_replicas_floor: u16,

    /// Replace EC2's numbers for one action's request bucket, as ACTION=CAPACITY/REFILL per
    /// second (for example DescribeInstances=100/20); repeat or separate with commas.
    #[arg(long = "ec2-rate", global = true, env = "EC2_GRPC_EC2_RATES", value_delimiter = ',', value_parser = parse_rate)]
    pub ec2_rates: Vec<(String, Rate)>,

    /// Attempts per EC2 call, the first included (the SDK's standard retry with backoff).
    #[arg(long, global = true, env = "EC2_GRPC_EC2_MAX_ATTEMPTS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub ec2_max_attempts: u32,

    /// Time limit of one EC2 attempt, budget wait included (milliseconds).
    #[arg(long, global = true, env = "EC2_GRPC_EC2_ATTEMPT_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ec2_attempt_timeout_ms: u64,

    /// Time limit of one EC2 call, all attempts together (milliseconds). A caller's
    /// grpc-timeout shortens it for that call.
    #[arg(long, global = true, env = "EC2_GRPC_EC2_OPERATION_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ec2_operation_timeout_ms: u64,

    /// Calls per second each caller may make (its own token bucket; health and reflection
    /// are free). A caller is its authenticated principal; without authentication, its
    /// connection.
    #[arg(long, global = true, env = "EC2_GRPC_CALLER_RATE", default_value_t = 50.0, value_parser = parse_positive)]
    pub caller_rate: f64,

    /// How many calls a caller may burst above its rate.
    #[arg(long, global = true, env = "EC2_GRPC_CALLER_BURST", default_value_t = 100.0, value_parser = parse_positive)]
    pub caller_burst: f64,

    /// Calls handled at once; one more is shed with UNAVAILABLE.
    #[arg(long, global = true, env = "EC2_GRPC_MAX_CONCURRENT_CALLS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_calls: u32,

    /// Describes of a few instance ids from many callers are merged into one EC2 call: the
    /// merge window closes after this long without a new request (milliseconds; 0 turns
    /// merging off).
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_MERGE_IDLE_MS",
        default_value_t = 100
    )]
    pub merge_idle_ms: u64,

    /// ... or this long after it opened, at the latest (milliseconds).
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_MERGE_MAX_WAIT_MS",
        default_value_t = 100
    )]
    pub merge_max_wait_ms: u64,

    /// ... or when it holds this many ids (1 to 1000).
    #[arg(long, global = true, env = "EC2_GRPC_MERGE_MAX_IDS", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub merge_max_ids: u16,

    /// The instance inventory: list every instance of the account and region this often
    /// (seconds; paging DescribeInstances through the EC2 budget) into the view that serves
    /// WatchInstances, WaitInstances and `max_staleness` reads. 0 turns the inventory off.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_INVENTORY_RESYNC_SECONDS",
        default_value_t = 60
    )]
    pub inventory_resync_seconds: u64,

    /// How often the instances the gateway launched or acted on are described again until
    /// they settle (milliseconds; they are described at once too).
    #[arg(long, global = true, env = "EC2_GRPC_INVENTORY_REFRESH_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub inventory_refresh_ms: u64,

    /// How often the waits on status checks (WAIT_TARGET_STATUS_OK, _SYSTEM_STATUS_OK) ask
    /// EC2 (milliseconds): one DescribeInstanceStatus per round serves every such wait of an
    /// account and region. boto3's waiters poll every 15 s.
    #[arg(long, global = true, env = "EC2_GRPC_INVENTORY_STATUS_INTERVAL_MS", default_value_t = 15000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub inventory_status_interval_ms: u64,

    /// The SQS queue EventBridge delivers the home account's EC2 events to, in the home
    /// region: the view hears state changes, spot interruptions and scheduled changes within
    /// seconds (other accounts and regions: `events_queue_url` in the accounts file).
    #[arg(long, global = true, env = "EC2_GRPC_INVENTORY_EVENTS_QUEUE_URL")]
    pub inventory_events_queue_url: Option<String>,

    /// How long EC2's events gather before their instances are described (milliseconds): one
    /// DescribeInstances per window, whatever the number of events.
    #[arg(long, global = true, env = "EC2_GRPC_INVENTORY_EVENTS_DEBOUNCE_MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub inventory_events_debounce_ms: u64,

    /// Changes of the view kept for watches to resume from (a watch resuming from an older
    /// revision, or falling further behind, lists again).
    #[arg(long, global = true, env = "EC2_GRPC_INVENTORY_HISTORY", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub inventory_history: u64,

    /// The audit trail of the calls that change something (and of reads the policy names):
    /// JSON lines appended to this file, or `-` for stdout, apart from the diagnostic logs.
    /// Unset: no audit trail.
    #[arg(long, global = true, env = "EC2_GRPC_AUDIT_LOG")]
    pub audit_log: Option<String>,

    /// The audit policy (TOML: levels none / metadata / request, rules by RPC and caller, the
    /// first match wins), read again when it changes. Unset: every change at `request`, no
    /// reads.
    #[arg(long, global = true, env = "EC2_GRPC_AUDIT_POLICY_FILE")]
    pub audit_policy_file: Option<std::path::PathBuf>,

    /// Refuse a change (UNAVAILABLE, AUDIT_UNAVAILABLE) before any EC2 call while its audit
    /// event cannot be written: nothing happens at EC2 that the trail does not record.
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_AUDIT_REQUIRED",
        default_value_t = false
    )]
    pub audit_required: bool,

    /// The accounts and regions served besides the home account's configured region (TOML:
    /// aliases, account ids, the IAM role to assume, allowed regions, budget and inventory
    /// overrides; see the README), read again when it changes. Unset: the home account in
    /// its configured region only.
    #[arg(long, global = true, env = "EC2_GRPC_ACCOUNTS_FILE")]
    pub accounts_file: Option<std::path::PathBuf>,

    /// On SIGTERM or SIGINT, how long in-flight calls may take to finish before the server
    /// exits anyway (seconds).
    #[arg(
        long,
        global = true,
        env = "EC2_GRPC_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30
    )]
    pub shutdown_grace_seconds: u64,
}

impl Config {
    /// This configuration once validated; on bad configuration prints a clear message and
    /// exits with code 2 (the usage-error convention clap also follows).
    pub fn validated(self) -> Self {
        if let Err(message) = self.validate() {
            Cli::command()
                .error(clap::error::ErrorKind::ValueValidation, message)
                .exit();
        }
        self
    }

    /// Checks what clap's types cannot: the log filter parses, and protected mode.
    pub fn validate(&self) -> Result<(), String> {
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| {
            format!(
                "--log-level {:?} is not a valid log filter: {e}",
                self.log_level
            )
        })?;
        let jwt_rules = self.auth_jwt_issuer.is_some() || self.auth_jwt_audience.is_some();
        if jwt_rules && self.auth_jwks_file.is_none() && self.auth_jwks_url.is_none() {
            return Err(
                "--auth-jwt-issuer and --auth-jwt-audience need --auth-jwks-file or \
                 --auth-jwks-url: they are rules for JWTs"
                    .into(),
            );
        }
        if self.auth_roles_file.is_some() && !self.auth_configured() {
            return Err(
                "--auth-roles-file needs an authentication method (--auth-tokens-file, \
                 --auth-jwks-file, --auth-jwks-url or --auth-client-ca-file): roles apply to \
                 authenticated principals"
                    .into(),
            );
        }
        self.check_protected_mode()
    }

    /// Whether callers must authenticate (static tokens, JWTs or client certificates).
    pub fn auth_configured(&self) -> bool {
        self.auth().configured()
    }

    /// How callers authenticate.
    pub fn auth(&self) -> auth::Settings {
        auth::Settings {
            tokens_file: self.auth_tokens_file.clone(),
            jwks_file: self.auth_jwks_file.clone(),
            jwks_url: self.auth_jwks_url.clone(),
            jwks_refresh: Duration::from_secs(self.auth_jwks_refresh_secs),
            jwt_rules: JwtRules {
                issuer: self.auth_jwt_issuer.clone(),
                audience: self.auth_jwt_audience.clone(),
                principal_claim: self.auth_jwt_principal_claim.clone(),
            },
            client_certificates: self.auth_client_ca_file.is_some(),
            roles_file: self.auth_roles_file.clone(),
            reflection_requires_credentials: self.auth_reflection_requires_credentials,
        }
    }

    /// What telemetry to install.
    pub fn telemetry(&self) -> telemetry::Settings {
        telemetry::Settings {
            log_level: self.log_level.clone(),
            log_format: self.log_format,
            prometheus: self.metrics_listen.is_some(),
            audit_queue: self
                .audit_log
                .is_some()
                .then_some(crate::audit::sink::QUEUE),
        }
    }

    /// Everything the server needs.
    pub fn server(&self) -> server::Settings {
        server::Settings {
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            budget: self.budget(),
            sdk: self.sdk_settings(),
            merge_window: self.merge_window(),
            action_batch_size: usize::from(self.action_batch_size),
            limits: self.limits(),
            auth: self.auth(),
            tls: self.tls(),
            inventory: self.inventory(),
            events_queue_url: self.inventory_events_queue_url.clone(),
            audit: self.audit(),
            accounts_file: self.accounts_file.clone(),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
        }
    }

    /// The audit trail, when `--audit-log` names where it goes.
    pub fn audit(&self) -> Option<server::AuditSettings> {
        let destination = match self.audit_log.as_deref()? {
            "-" => Destination::Stdout,
            path => Destination::File(path.into()),
        };
        Some(server::AuditSettings {
            destination,
            policy_file: self.audit_policy_file.clone(),
            required: self.audit_required,
        })
    }

    /// How the instance view is kept (`None`: the inventory is off).
    pub fn inventory(&self) -> Option<InventorySettings> {
        (self.inventory_resync_seconds > 0).then(|| InventorySettings {
            resync: Duration::from_secs(self.inventory_resync_seconds),
            refresh: Duration::from_millis(self.inventory_refresh_ms),
            history: usize::try_from(self.inventory_history).unwrap_or(usize::MAX),
            status_interval: Duration::from_millis(self.inventory_status_interval_ms),
            event_debounce: Duration::from_millis(self.inventory_events_debounce_ms),
        })
    }

    /// The EC2 budget: in memory, or shared through Redis.
    fn budget(&self) -> BudgetSettings {
        BudgetSettings {
            share: self.ec2_budget_share,
            rates: self.ec2_rates.clone(),
            redis: self.ec2_budget_redis_url.as_ref().map(|url| RedisSettings {
                url: RedisUrl(url.clone()),
                password_file: self.ec2_budget_redis_password_file.clone(),
                key: self.ec2_budget_key.clone(),
                timeout: Duration::from_millis(self.ec2_budget_redis_timeout_ms),
                lease: self.ec2_budget_lease,
                replicas_floor: usize::from(self.ec2_budget_replicas_floor),
            }),
        }
    }

    /// TLS on the gRPC port, when a certificate and key are configured.
    fn tls(&self) -> Option<TlsFiles> {
        let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) else {
            return None;
        };
        Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: self.auth_client_ca_file.clone(),
        })
    }

    /// Protected mode: this service can launch and terminate instances for anyone who reaches
    /// it, so without authentication it only serves on loopback unless told otherwise.
    fn check_protected_mode(&self) -> Result<(), String> {
        if self.listen.ip().is_loopback() || self.allow_unauthenticated || self.auth_configured() {
            return Ok(());
        }
        Err(format!(
            "refusing to listen on {} without authentication: any caller that can reach this \
             address could launch and terminate EC2 instances. Configure authentication \
             (--auth-tokens-file, --auth-jwks-file, --auth-jwks-url or --auth-client-ca-file), listen on a loopback address (for example --listen \
             127.0.0.1:{}), or pass --allow-unauthenticated (EC2_GRPC_ALLOW_UNAUTHENTICATED=true) \
             when something else already restricts who can connect.",
            self.listen,
            self.listen.port()
        ))
    }

    /// How the SDK calls EC2: attempts and timeouts.
    pub fn sdk_settings(&self) -> SdkSettings {
        SdkSettings {
            max_attempts: self.ec2_max_attempts,
            attempt_timeout: Duration::from_millis(self.ec2_attempt_timeout_ms),
            operation_timeout: Duration::from_millis(self.ec2_operation_timeout_ms),
            ..SdkSettings::default()
        }
    }

    /// The merge window of describes by a few ids (`None`: off).
    pub fn merge_window(&self) -> MergeWindow {
        (self.merge_idle_ms > 0).then(|| batch::Window {
            idle: Duration::from_millis(self.merge_idle_ms),
            max_wait: Duration::from_millis(self.merge_max_wait_ms.max(self.merge_idle_ms)),
            max_ids: usize::from(self.merge_max_ids),
        })
    }

    /// The gRPC-side limits: per-caller quotas and concurrency.
    pub fn limits(&self) -> Limits {
        Limits {
            caller_rate: self.caller_rate,
            caller_burst: self.caller_burst,
            max_concurrent_calls: self.max_concurrent_calls as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_parse(args: &[&str]) -> Result<Config, clap::Error> {
        Cli::try_parse_from(std::iter::once("ec2-grpc").chain(args.iter().copied()))
            .map(|cli| cli.config)
    }

    fn parse(args: &[&str]) -> Config {
        try_parse(args).expect("flags parse")
    }

    #[test]
    fn check_takes_the_same_flags_before_or_after_it() {
        let after = ["ec2-grpc", "check", "--aws", "--auth-tokens-file", "tokens"];
        let before = ["ec2-grpc", "--auth-tokens-file", "tokens", "check", "--aws"];
        for args in [after, before] {
            let cli = Cli::try_parse_from(args).expect("check parses");
            assert!(
                matches!(cli.command, Some(Command::Check(CheckArgs { aws: true }))),
                "{args:?}"
            );
            assert_eq!(
                cli.config.auth_tokens_file.as_deref(),
                Some(std::path::Path::new("tokens")),
                "{args:?}"
            );
        }
        assert!(parse(&[]).validate().is_ok());
    }

    #[test]
    fn loopback_needs_no_configuration() {
        assert_eq!(parse(&[]).validate(), Ok(()));
        assert_eq!(parse(&["--listen", "[::1]:9000"]).validate(), Ok(()));
    }

    #[test]
    fn non_loopback_without_auth_is_refused_with_the_way_out() {
        let err = parse(&["--listen", "0.0.0.0:50051"])
            .validate()
            .unwrap_err();
        assert!(err.contains("--allow-unauthenticated"), "{err}");
        assert!(err.contains("0.0.0.0:50051"), "{err}");
        assert_eq!(
            parse(&["--listen", "0.0.0.0:50051", "--allow-unauthenticated"]).validate(),
            Ok(())
        );
    }

    #[test]
    fn protection_settings_parse_and_bad_ones_are_refused() {
        let config = parse(&[
            "--ec2-budget-share",
            "0.5",
            "--ec2-rate",
            "DescribeInstances=10/2,RunInstances=2/1",
            "--merge-idle-ms",
            "0",
        ]);
        assert_eq!(config.ec2_budget_share, 0.5);
        assert_eq!(config.ec2_rates.len(), 2);
        assert_eq!(config.ec2_rates[0].1, Rate::new(10.0, 2.0));
        assert!(config.merge_window().is_none());
        let bad = |args: &[&str]| try_parse(args).is_err();
        assert!(bad(&["--ec2-budget-share", "0"]));
        assert!(bad(&["--ec2-rate", "DescribeInstances=10"]));
        assert!(bad(&["--caller-rate", "-1"]));
    }

    #[test]
    fn roles_need_authentication_and_authentication_opens_protected_mode() {
        let err = parse(&["--auth-roles-file", "r.toml"])
            .validate()
            .unwrap_err();
        assert!(err.contains("--auth-roles-file needs"), "{err}");
        let jwt = parse(&["--listen", "0.0.0.0:50051", "--auth-jwks-file", "jwks.json"]);
        assert_eq!(jwt.validate(), Ok(()));
        let tokens = parse(&["--listen", "0.0.0.0:50051", "--auth-tokens-file", "tokens"]);
        assert_eq!(tokens.validate(), Ok(()));
        let url = parse(&[
            "--listen",
            "0.0.0.0:50051",
            "--auth-jwks-url",
            "https://idp/jwks",
        ]);
        assert_eq!(url.validate(), Ok(()));
        let mtls = parse(&[
            "--listen",
            "0.0.0.0:50051",
            "--tls-cert-file",
            "tls.crt",
            "--tls-key-file",
            "tls.key",
            "--auth-client-ca-file",
            "ca.crt",
        ]);
        assert_eq!(mtls.validate(), Ok(()));
    }

    #[test]
    fn tls_and_jwt_settings_come_in_consistent_sets() {
        let refused = [
            &["--tls-cert-file", "tls.crt"][..],
            &["--auth-client-ca-file", "ca.crt"],
            &[
                "--auth-jwks-file",
                "j.json",
                "--auth-jwks-url",
                "https://idp/jwks",
            ],
        ];
        for args in refused {
            let parsed = try_parse(args);
            assert!(parsed.is_err(), "{args:?} should be refused");
        }
        let err = parse(&["--auth-jwt-audience", "ec2-grpc"])
            .validate()
            .unwrap_err();
        assert!(
            err.contains("need --auth-jwks-file or --auth-jwks-url"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_log_filter_is_refused() {
        let err = parse(&["--log-level", "info,=["]).validate().unwrap_err();
        assert!(err.contains("--log-level"), "{err}");
    }
}
