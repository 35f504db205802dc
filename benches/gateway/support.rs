//! What every scenario uses: the gateway's release binary as a child process (its address,
//! RSS and log), clients of the gateway and of EC2, and latency statistics.

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tonic::transport::Channel;

/// Flags lifting the gateway's own protections, for the scenarios that measure its cost rather
/// than its protection (P1-P3): the EC2 budget for DescribeInstances, the per-caller quota.
pub const LIFTED: &[&str] = &[
    "--ec2-rate",
    "DescribeInstances=1000000/1000000",
    "--caller-rate",
    "1000000",
    "--caller-burst",
    "1000000",
    "--max-concurrent-calls",
    "100000",
];

/// Flags lifting only the per-caller quota (one benchmark process is one caller per
/// connection), for the scenarios that measure the EC2 budget and coalescing (P4, P5).
pub const QUOTA_LIFTED: &[&str] = &["--caller-rate", "1000000", "--caller-burst", "1000000"];

/// More gateway flags for every scenario, from `EC2_GRPC_BENCH_GATEWAY_FLAGS` (space-separated),
/// for experiments such as `--log-level warn`.
fn extra_flags() -> Vec<String> {
    std::env::var("EC2_GRPC_BENCH_GATEWAY_FLAGS")
        .map(|flags| flags.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The `ec2-grpc` release binary, running against an EC2 endpoint.
pub struct GatewayProcess {
    child: Child,
    /// Where it serves gRPC.
    pub addr: SocketAddr,
    /// Its log file.
    log: PathBuf,
}

impl GatewayProcess {
    /// Starts the binary on `127.0.0.1:0` against `endpoint` with `args`; its log goes
    /// straight to `target/bench/NAME.log` (not through this process, which is measuring).
    pub async fn start(endpoint: &str, args: &[&str], name: &str) -> GatewayProcess {
        GatewayProcess::spawn(&[], endpoint, args, &[], name).await
    }

    /// `start`, with more environment variables (`AWS_ENDPOINT_URL_STS`, say).
    pub async fn start_with_env(
        endpoint: &str,
        args: &[&str],
        envs: &[(&str, &str)],
        name: &str,
    ) -> GatewayProcess {
        GatewayProcess::spawn(&[], endpoint, args, envs, name).await
    }

    /// `start`, with the binary run by `wrapper` (a profiler: `valgrind --tool=callgrind ...`).
    pub async fn start_under(
        wrapper: &[&str],
        endpoint: &str,
        args: &[&str],
        name: &str,
    ) -> GatewayProcess {
        GatewayProcess::spawn(wrapper, endpoint, args, &[], name).await
    }

    async fn spawn(
        wrapper: &[&str],
        endpoint: &str,
        args: &[&str],
        envs: &[(&str, &str)],
        name: &str,
    ) -> GatewayProcess {
        let log = Path::new("target/bench").join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("the gateway's log file");
        let binary = env!("CARGO_BIN_EXE_ec2-grpc");
        let (program, before) = match wrapper {
            [] => (binary, &[][..]),
            [program, rest @ ..] => (*program, rest),
        };
        let mut child = Command::new(program)
            .args(before)
            .args((!wrapper.is_empty()).then_some(binary))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .args(extra_flags())
            .env("AWS_ENDPOINT_URL_EC2", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("EC2_GRPC_LISTEN")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            // The inventory's background lists would add to what P1-P8 measure; P9 turns it
            // on with the flag (which beats the environment).
            .env("EC2_GRPC_INVENTORY_RESYNC_SECONDS", "0")
            .envs(envs.iter().copied())
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .expect("start the ec2-grpc binary");
        let waiting_since = Instant::now();
        let addr = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let found = text
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split(['"', ' ', '\n']).next())
                .and_then(|a| a.parse::<SocketAddr>().ok());
            if let Some(addr) = found {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the gateway exited ({status}) before listening:\n{text}");
            }
            // A profiler slows the start up (valgrind: about fifty times).
            let patience = Duration::from_secs(if wrapper.is_empty() { 30 } else { 600 });
            assert!(
                waiting_since.elapsed() < patience,
                "the gateway did not listen within {patience:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        GatewayProcess { child, addr, log }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the gateway is running")
    }

    /// CPU time (user + system) the process has used so far, seconds.
    pub fn cpu_seconds(&self) -> f64 {
        crate::cpu::cpu_seconds(self.pid())
    }

    /// Ends it with SIGTERM (a clean exit: a profiler writes its data) and waits for the exit.
    pub async fn terminate(mut self) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM to the gateway");
        self.child.wait().await.expect("the gateway exits");
    }

    fn status_kib(&self, field: &str) -> f64 {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("a memory figure in /proc")
    }

    /// Resident memory now, MiB.
    pub fn rss_mib(&self) -> f64 {
        self.status_kib("VmRSS:") / 1024.0
    }

    /// The most resident memory the process has had, MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_kib("VmHWM:") / 1024.0
    }

    /// A client on a new connection.
    pub async fn client(&self) -> Ec2ServiceClient<Channel> {
        Ec2ServiceClient::new(channel(self.addr).await)
    }

    /// The Prometheus metric `name` (its series whose labels contain `label`, summed); the
    /// gateway must have been started with `--metrics-listen`.
    pub async fn metric(&self, name: &str, label: &str) -> f64 {
        let log = std::fs::read_to_string(&self.log).expect("the gateway's log");
        let addr: SocketAddr = log
            .split("metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.parse().ok())
            .expect("the gateway logs its metrics address");
        let mut stream = TcpStream::connect(addr).await.expect("connect to /metrics");
        let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut text = String::new();
        stream.read_to_string(&mut text).await.expect("read");
        text.lines()
            .filter(|line| line.split([' ', '{']).next() == Some(name) && line.contains(label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A free loopback port (bound, read, released).
async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A `redis-server` on a free loopback port, empty and without persistence (P8); killed
/// when dropped. The Debian package comes from `scripts/setup-tools.sh`.
pub struct RedisServer {
    _child: Child,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
}

impl RedisServer {
    /// Starts it and waits until it answers PING.
    pub async fn start() -> RedisServer {
        let port = free_port().await;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (bash scripts/setup-tools.sh installs it)");
        let url = format!("redis://127.0.0.1:{port}");
        let client = redis::Client::open(url.as_str()).expect("a Redis URL");
        for _ in 0..300 {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .is_ok()
            {
                return RedisServer { _child: child, url };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not answer on port {port}");
    }
}

/// A `moto_server` on a free loopback port (P10's STS: the stand-in serves EC2 only); killed
/// when dropped. `scripts/setup-tools.sh` installs it into `.venv`.
pub struct MotoServer {
    _child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl MotoServer {
    /// Starts it and waits until it accepts connections.
    pub async fn start() -> MotoServer {
        let port = free_port().await;
        let child = Command::new(".venv/bin/moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server (bash scripts/setup-tools.sh installs it)");
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return MotoServer {
                    _child: child,
                    endpoint: format!("http://127.0.0.1:{port}"),
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server did not listen on port {port}");
    }
}

/// A connected plaintext channel to `addr`.
pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

/// An aws-sdk-ec2 client of `endpoint`, as a service calling EC2 directly would have.
pub fn sdk(endpoint: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// A stand-in with `instances` instances that never throttles (for the scenarios measuring
/// cost, not protection).
pub async fn unthrottled_standin(instances: usize) -> Standin {
    Standin::builder()
        .without_throttling()
        .seed(instances, 0)
        .start()
        .await
        .expect("stand-in")
}

/// Latencies (µs) of `calls` calls made one after another, after `calls / 10` to warm up.
pub async fn sequential<F, Fut>(calls: usize, mut call: F) -> Vec<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..calls / 10 {
        call().await;
    }
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await;
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
    }
    latencies
}

/// Calls per second that `concurrency` loops of `call` complete in `duration`.
pub async fn throughput<F, Fut>(concurrency: usize, duration: Duration, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let until = Instant::now() + duration;
    let loops: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < until {
                    call().await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for l in loops {
        done += l.await.expect("a load loop");
    }
    done as f64 / duration.as_secs_f64()
}

/// The `p`-th percentile (0-100) of `values`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

/// `values` sorted and thinned to at most `max` evenly spaced points (for the results file).
pub fn thinned(values: &[f64], max: usize) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.len() <= max {
        return sorted;
    }
    (0..max)
        .map(|i| sorted[i * (sorted.len() - 1) / (max - 1)])
        .collect()
}

/// One DescribeInstances through the gateway, expecting the stand-in's one instance (P1's
/// gateway call and the profiled call).
pub async fn describe_the_one_instance(client: &mut Ec2ServiceClient<Channel>) {
    let answer = client
        .describe_instances(ec2_grpc::pb::DescribeInstancesRequest::default())
        .await
        .expect("describe through the gateway")
        .into_inner();
    assert_eq!(instances_in(&answer.reservations), 1);
}

/// Reads every instance with aws-sdk-ec2's paginator, `page` a page, as a service calling EC2
/// directly would; `after_each_page` sees the count so far. Answers the count.
pub async fn paginate(
    sdk: &aws_sdk_ec2::Client,
    page: i32,
    mut after_each_page: impl FnMut(usize),
) -> usize {
    let mut pages = sdk
        .describe_instances()
        .max_results(page)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.expect("a page");
        count += page
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum::<usize>();
        after_each_page(count);
    }
    count
}

/// The instances of a page of reservations.
pub fn instances_in(reservations: &[ec2_grpc::pb::Reservation]) -> usize {
    reservations.iter().map(|r| r.instances.len()).sum()
}
