//! Test harness: a real `moto_server` (the EC2 stand-in) on a free loopback port, SDK clients
//! that count the EC2 calls they send, the gateway served in-process or as the real binary,
//! and the project's grpcurl. Every tool comes from `scripts/setup-tools.sh`; a missing tool
//! fails the test loudly, it never skips.

#![allow(dead_code)] // each test uses part of the harness

use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ec2::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_ec2::error::BoxError;
use ec2_grpc::ec2::{Ec2, MergeWindow, SdkSettings};
use ec2_grpc::inventory::{Inventory, InventorySettings};
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_grpc::protection::Limits;
use ec2_grpc::protection::budget::{Budget, Rate};
use ec2_grpc::protection::stats::Stats;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// A tool the project's setup script installs under the repository.
pub fn tool(relative: &str) -> PathBuf {
    made_by(relative, "scripts/setup-tools.sh")
}

/// The checkout's file at `relative`, which `script` makes; fails loudly when it is missing.
pub fn made_by(relative: &str, script: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `bash {script}` (the README's test command runs it)",
        path.display()
    );
    path
}

/// A directory of the test's own under the system's temporary directory, removed when
/// dropped; each is new (the process id and a count in its name), so two never share files.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory named after `test`.
    pub fn new(test: &str) -> TempDir {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ec2-grpc-{test}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// The path of `name` in it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` to `name` in it; the file's path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tokens file and a roles file for the binary, written to a directory of the test's own
/// (removed when this is dropped).
pub struct AuthFiles {
    _dir: TempDir,
    /// `NAME TOKEN` lines (`--auth-tokens-file`).
    pub tokens: PathBuf,
    /// The roles file's TOML (`--auth-roles-file`).
    pub roles: PathBuf,
}

impl AuthFiles {
    /// Writes `tokens` and `roles` under a temporary directory named after `test`.
    pub fn write(test: &str, tokens: &str, roles: &str) -> AuthFiles {
        let dir = TempDir::new(test);
        let files = AuthFiles {
            tokens: dir.path("tokens"),
            roles: dir.path("roles.toml"),
            _dir: dir,
        };
        std::fs::write(&files.tokens, tokens).expect("tokens file");
        std::fs::write(&files.roles, roles).expect("roles file");
        files
    }

    /// The flags pointing the binary at both files.
    pub fn args(&self) -> [&str; 4] {
        [
            "--auth-tokens-file",
            self.tokens.to_str().expect("path"),
            "--auth-roles-file",
            self.roles.to_str().expect("path"),
        ]
    }
}

/// An accounts file in a directory of the test's own (removed when dropped).
pub struct AccountsFile {
    dir: TempDir,
    path: PathBuf,
}

impl AccountsFile {
    /// Writes `text` under a temporary directory named after `test`.
    pub fn write(test: &str, text: &str) -> AccountsFile {
        let dir = TempDir::new(test);
        let file = AccountsFile {
            path: dir.path("accounts.toml"),
            dir,
        };
        file.replace(text);
        file
    }

    /// Replaces the file's text (atomically, as a ConfigMap update does).
    pub fn replace(&self, text: &str) {
        let next = self.dir.path("accounts.toml.next");
        std::fs::write(&next, text).expect("accounts file");
        std::fs::rename(&next, &self.path).expect("rename");
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The file's path, as a flag's value.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("path")
    }
}

/// Whether moto answers on `port`: its data endpoint says 200 over HTTP/1.
async fn moto_answers(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request =
        "GET /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head)).await;
    matches!(read, Ok(Ok(_))) && head.starts_with(b"HTTP/1.") && head.ends_with(b" 200")
}

/// A free port on loopback (bound, read, released).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A running `moto_server`, killed when dropped. One per test, so tests never share state.
pub struct Moto {
    /// `http://127.0.0.1:PORT`, the value for `AWS_ENDPOINT_URL_EC2`.
    pub endpoint: String,
    _child: Child,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers HTTP as moto. The port
    /// is free when picked but may be taken before moto binds it (by another test's process,
    /// or by a TCP self-connect of the readiness probe), so moto exiting early or another
    /// server answering means: try another port.
    pub async fn start() -> Moto {
        let binary = tool(".venv/bin/moto_server");
        for _attempt in 0..5 {
            let port = free_port().await;
            let mut child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start moto_server");
            for _ in 0..300 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break; // it could not bind: the port was taken meanwhile
                }
                if moto_answers(port).await {
                    return Moto {
                        endpoint: format!("http://127.0.0.1:{port}"),
                        _child: child,
                    };
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("moto_server did not start answering on a loopback port (5 ports tried, 30 s each)");
    }

    /// An SDK client talking to this moto directly, counting what it sends.
    pub fn sdk(&self) -> (aws_sdk_ec2::Client, Ec2Calls) {
        sdk(&self.endpoint)
    }

    /// An AMI id moto knows.
    pub async fn image_id(&self) -> String {
        let (sdk, _) = self.sdk();
        let images = sdk.describe_images().send().await.expect("describe images");
        images.images()[0].image_id().expect("image id").to_owned()
    }
}

/// An SDK client for the EC2 endpoint at `endpoint` (moto or the stand-in), with test
/// credentials, counting what it sends.
pub fn sdk(endpoint: &str) -> (aws_sdk_ec2::Client, Ec2Calls) {
    let calls = Ec2Calls::default();
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .interceptor(calls.clone())
        .build();
    (aws_sdk_ec2::Client::from_conf(config), calls)
}

/// Counts the EC2 HTTP requests a client sends, by action (retries included).
#[derive(Clone, Debug, Default)]
pub struct Ec2Calls(Arc<Mutex<HashMap<String, usize>>>);

impl Ec2Calls {
    /// Requests sent for `action` so far.
    pub fn count(&self, action: &str) -> usize {
        self.0
            .lock()
            .expect("lock")
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// Requests sent for all actions so far.
    pub fn total(&self) -> usize {
        self.0.lock().expect("lock").values().sum()
    }
}

impl Intercept for Ec2Calls {
    fn name(&self) -> &'static str {
        "Ec2Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let body = String::from_utf8_lossy(body);
        let action = body
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or("unknown")
            .to_owned();
        *self.0.lock().expect("lock").entry(action).or_default() += 1;
        Ok(())
    }
}

/// The gateway served in-process on `127.0.0.1:0`; shut down when dropped.
pub struct Gateway {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A client generated from `proto/`.
    pub client: Ec2ServiceClient<Channel>,
    /// Triggers graceful shutdown.
    shutdown: Option<oneshot::Sender<()>>,
    /// The server task, finished once shutdown completes.
    pub task: tokio::task::JoinHandle<()>,
    /// The gateway served (a clone: its counters are shared).
    pub gateway: ec2_grpc::api::Gateway,
}

impl Gateway {
    /// Serves the gateway over `ec2` with a 1 s shutdown grace.
    pub async fn start(ec2: aws_sdk_ec2::Client) -> Gateway {
        Gateway::serve(ec2_grpc::api::Gateway::new(ec2)).await
    }

    /// Serves `gateway` with the default limits and a 1 s shutdown grace.
    pub async fn serve(gateway: ec2_grpc::api::Gateway) -> Gateway {
        Gateway::serve_with(gateway, Limits::default()).await
    }

    /// Serves `gateway` with `limits` and a 1 s shutdown grace.
    pub async fn serve_with(gateway: ec2_grpc::api::Gateway, limits: Limits) -> Gateway {
        let served = gateway.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (shutdown, on_shutdown) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let on_shutdown = async {
                let _ = on_shutdown.await;
            };
            ec2_grpc::server::serve(
                listener,
                gateway,
                limits,
                Default::default(),
                on_shutdown,
                Duration::from_secs(1),
            )
            .await
            .expect("server runs");
        });
        let client = Ec2ServiceClient::new(channel(addr).await);
        Gateway {
            addr,
            client,
            shutdown: Some(shutdown),
            task,
            gateway: served,
        }
    }

    /// Starts graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The gateway as the binary builds it (the EC2 budget at `rates` over EC2's defaults, the
/// caller's deadline on every attempt, coalescing, merging in `window`), over the EC2
/// endpoint at `endpoint`, served with `limits`.
pub async fn protected_gateway(
    endpoint: &str,
    rates: &[(String, Rate)],
    window: MergeWindow,
    limits: Limits,
) -> Gateway {
    let ec2 = protected_ec2(endpoint, rates, window).await;
    Gateway::serve_with(ec2_grpc::api::Gateway::with_ec2(ec2), limits).await
}

/// The gateway as the binary builds it with the instance inventory on (`settings`), over the
/// EC2 endpoint at `endpoint` with EC2's budget, served with `limits`.
pub async fn inventory_gateway(
    endpoint: &str,
    settings: InventorySettings,
    limits: Limits,
) -> Gateway {
    let window = Some(ec2_grpc::ec2::batch::DEFAULT_WINDOW);
    let ec2 = protected_ec2(endpoint, &[], window).await;
    let inventory = Inventory::start(ec2.clone(), settings);
    let gateway = ec2_grpc::api::Gateway::with_ec2(ec2).with_inventory(inventory);
    Gateway::serve_with(gateway, limits).await
}

/// The EC2 seam as the binary builds it (the EC2 budget at `rates` over EC2's defaults, the
/// caller's deadline on every attempt, coalescing, merging in `window`) over `endpoint`.
pub async fn protected_ec2(endpoint: &str, rates: &[(String, Rate)], window: MergeWindow) -> Ec2 {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let stats = Arc::new(Stats::default());
    let budget = Arc::new(Budget::new(1.0, rates));
    let client =
        ec2_grpc::ec2::protected_client(&shared, SdkSettings::default(), budget, stats.clone())
            .expect("the protected client");
    Ec2::new(client, window, stats)
}

/// A connected channel to `addr`.
pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect to the gateway")
}

/// The environment the binary gets: the standard AWS variables, nothing invented, no shared
/// config files and no instance-metadata lookups (tests only talk to loopback).
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_EC2", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
    ]
}

/// A `Command` for the real `ec2-grpc` binary with `aws_env(endpoint)`. The instance
/// inventory is off unless a test turns it on (`--inventory-resync-seconds N` beats the
/// environment): its background lists would add to the EC2 calls other tests count.
pub fn binary(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec2-grpc"));
    command
        .envs(aws_env(endpoint))
        .env("EC2_GRPC_INVENTORY_RESYNC_SECONDS", "0")
        .env_remove("EC2_GRPC_LISTEN")
        .env_remove("EC2_GRPC_ALLOW_UNAUTHENTICATED")
        .kill_on_drop(true);
    command
}

/// The real `ec2-grpc` binary, running.
pub struct GatewayProcess {
    /// Where it listens (read from its "listening on" log line).
    pub addr: SocketAddr,
    /// The child process.
    pub child: Child,
    /// The log lines printed up to "listening on".
    pub startup_lines: Vec<String>,
    /// Every log line after those, as they come.
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl GatewayProcess {
    /// Starts the binary on `127.0.0.1:0` and waits for its "listening on" line.
    pub async fn start(endpoint: &str) -> GatewayProcess {
        GatewayProcess::start_with(endpoint, &[], &[]).await
    }

    /// Starts the binary on `127.0.0.1:0` with more `args` and `envs`.
    pub async fn start_with(
        endpoint: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> GatewayProcess {
        let mut child = binary(endpoint)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .envs(envs.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ec2-grpc");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut startup_lines = Vec::new();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read stderr") {
                let found = line
                    .split("listening on ")
                    .nth(1)
                    .and_then(|rest| rest.split(['"', ' ']).next())
                    .map(str::to_owned);
                startup_lines.push(line);
                if let Some(rest) = found {
                    return rest.parse::<SocketAddr>().expect("address");
                }
            }
            panic!("ec2-grpc exited before listening: {startup_lines:?}");
        })
        .await
        .expect("ec2-grpc listens within 30 s");
        // Keep reading stderr (so the child never blocks on a full pipe), keeping the lines.
        let logs = Arc::new(Mutex::new(Vec::new()));
        let kept = logs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().expect("lock").push(line);
            }
        });
        GatewayProcess {
            addr,
            child,
            startup_lines,
            logs,
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits within 30 s of SIGTERM")
            .expect("exit status")
    }
}

/// Runs the project's grpcurl with `args`; returns stdout, asserting success.
pub async fn grpcurl(args: &[&str]) -> String {
    let output = Command::new(tool(".venv/bin/grpcurl"))
        .args(args)
        .output()
        .await
        .expect("run grpcurl");
    assert!(
        output.status.success(),
        "grpcurl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A `redis-server` of its own on a free loopback port (no persistence), killed when dropped.
/// Tests kill, restart, pause and resume it.
pub struct Redis {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port and waits until it answers PING.
    pub async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port().await,
            child: None,
        };
        redis.restart().await;
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection to it, for tests that look inside.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis-server")
    }

    /// Starts it again on the same port (after `kill`), empty.
    pub async fn restart(&mut self) {
        let binary = which("redis-server");
        let child = Command::new(binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        for _ in 0..300 {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut connection) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Kills it (SIGKILL): connections are refused until `restart`.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Sends `signal` (`STOP` hangs it: connections stay open and nothing answers; `CONT`
    /// resumes it).
    pub fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("redis-server running");
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {pid}");
    }
}

/// A program the project's setup script installs on the machine's PATH (Debian packages).
pub fn which(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{program} is missing: run `bash scripts/setup-redis.sh` (it installs Debian's {program})")
        })
}

/// The body of `GET path` from an HTTP/1.0 server at `addr`.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

impl GatewayProcess {
    /// Where it serves Prometheus metrics (started with `--metrics-listen`).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.startup_lines
            .iter()
            .find_map(|l| l.split("metrics on http://").nth(1))
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.parse().ok())
            .expect("the metrics address is logged")
    }

    /// The Prometheus metric `name` now (its samples summed), if it is there.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        self.metric_with(name, "").await
    }

    /// The samples of the Prometheus metric `name` whose labels contain `label`, summed.
    pub async fn metric_with(&self, name: &str, label: &str) -> Option<f64> {
        let text = http_get(self.metrics_addr(), "/metrics").await;
        let values: Vec<f64> = text
            .lines()
            .filter(|line| {
                let series = line.split([' ', '{']).next().unwrap_or_default();
                series == name && line.contains(label)
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }
}
