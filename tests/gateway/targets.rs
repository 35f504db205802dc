//! Targets: one gateway serving several AWS accounts and regions of moto, which ties the
//! credentials of an AssumeRole into `arn:aws:iam::ACCOUNT:role/...` to that account and keeps
//! each region's EC2 apart. The binary runs with an accounts file, behind a counting proxy
//! that sees every EC2 and STS request (and plays an STS refusing one role).

use crate::auth::bearer;
use crate::counting_proxy::{CountingProxy, REFUSAL_REQUEST_ID};
use crate::support::{self, AccountsFile, GatewayProcess, Moto};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::process::Command;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// Four accounts besides home, two regions each (one for `locked`, whose role STS refuses).
const ACCOUNTS: &str = r#"
[home]
regions = ["us-east-1", "us-west-2"]

[accounts.dev-b]
id = "111111111111"
role_arn = "arn:aws:iam::111111111111:role/ec2-grpc"
regions = ["us-east-1", "us-west-2"]

[accounts.prod]
id = "222222222222"
role_arn = "arn:aws:iam::222222222222:role/ec2-grpc"
external_id = "prod-gateway"
regions = ["us-east-1", "us-west-2"]

[accounts.ops]
id = "333333333333"
roles = ["arn:aws:iam::111111111111:role/hop", "arn:aws:iam::333333333333:role/ec2-grpc"]
regions = ["us-east-1", "us-west-2"]

[accounts.locked]
id = "444444444444"
role_arn = "arn:aws:iam::444444444444:role/denied"
regions = ["us-east-1"]
"#;

/// The binary with `accounts`, sending EC2 and STS requests through `proxy`.
async fn gateway(proxy: &CountingProxy, accounts: &AccountsFile, more: &[&str]) -> GatewayProcess {
    // The caller quota lifted: a test's hundreds of calls come from one connection.
    let mut args = vec![
        "--accounts-file",
        accounts.arg(),
        "--caller-rate",
        "100000",
        "--caller-burst",
        "100000",
    ];
    args.extend_from_slice(more);
    GatewayProcess::start_with(
        &proxy.endpoint,
        &args,
        &[("AWS_ENDPOINT_URL_STS", proxy.endpoint.as_str())],
    )
    .await
}

/// A describe of the instances tagged `case=<case>` in `account` / `region`.
fn describe(case: &str, account: &str, region: &str) -> pb::DescribeInstancesRequest {
    pb::DescribeInstancesRequest {
        filters: vec![pb::Filter {
            name: "tag:case".into(),
            values: vec![case.into()],
        }],
        account: account.into(),
        region: region.into(),
        ..Default::default()
    }
}

/// Launches `count` instances tagged `case=<case>` in `account` / `region`; their ids.
async fn launch(
    client: &mut Ec2ServiceClient<Channel>,
    image_id: &str,
    case: &str,
    count: i32,
    (account, region): (&str, &str),
) -> Vec<String> {
    let launched = client
        .run_instances(pb::RunInstancesRequest {
            image_id: image_id.into(),
            min_count: Some(count),
            tag_specifications: vec![pb::TagSpecification {
                resource_type: "instance".into(),
                tags: vec![pb::Tag {
                    key: "case".into(),
                    value: case.into(),
                }],
            }],
            account: account.into(),
            region: region.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("launch in {account}/{region}: {e:?}"))
        .into_inner();
    let mut ids: Vec<String> = launched
        .instances
        .into_iter()
        .map(|i| i.instance_id)
        .collect();
    ids.sort();
    ids
}

/// The instance ids of a DescribeInstances answer, sorted.
fn ids(answer: &pb::DescribeInstancesResponse) -> Vec<String> {
    let mut ids: Vec<String> = answer
        .reservations
        .iter()
        .flat_map(|r| r.instances.iter().map(|i| i.instance_id.clone()))
        .collect();
    ids.sort();
    ids
}

/// What boto3 reads of moto directly (no gateway): the instances tagged `case=<case>`, by
/// `account/region`.
async fn boto3_reads(moto: &Moto, case: &str, targets: &[&str]) -> BTreeMap<String, Vec<String>> {
    let script = format!(
        "{}/tests/fixtures/targets/instances_by_target.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = Command::new(support::tool(".venv/bin/python"))
        .arg(script)
        .arg(&moto.endpoint)
        .arg(case)
        .args(targets)
        .output()
        .await
        .expect("run boto3");
    assert!(
        output.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("boto3's JSON")
}

/// The `ErrorInfo` reason and metadata of `status`.
fn reason(status: &tonic::Status) -> (String, std::collections::HashMap<String, String>) {
    let info = status.get_details_error_info().expect("ErrorInfo");
    (info.reason, info.metadata)
}

/// The fields `status`'s BadRequest names.
fn violated_fields(status: &tonic::Status) -> Vec<String> {
    let bad = status.get_details_bad_request().expect("BadRequest");
    bad.field_violations.into_iter().map(|v| v.field).collect()
}

#[tokio::test]
async fn each_target_sees_its_own_instances_and_each_account_assumes_its_role_once() {
    let moto = Moto::start().await;
    let image_id = moto.image_id().await;
    let proxy = CountingProxy::start(&moto.endpoint, Some("role/denied")).await;
    let accounts = AccountsFile::write("targets-isolation", ACCOUNTS);
    let gateway = gateway(&proxy, &accounts, &[]).await;
    let mut client = Ec2ServiceClient::new(support::channel(gateway.addr).await);

    // Launched in account B / us-west-2 and at home: each seen there and nowhere else, as
    // boto3 reads moto directly.
    let in_b = launch(&mut client, &image_id, "iso", 2, ("dev-b", "us-west-2")).await;
    let at_home = launch(&mut client, &image_id, "iso", 1, ("", "")).await;
    let seen = boto3_reads(
        &moto,
        "iso",
        &[
            "home/us-east-1",
            "home/us-west-2",
            "111111111111/us-east-1",
            "111111111111/us-west-2",
        ],
    )
    .await;
    assert_eq!(seen["111111111111/us-west-2"], in_b);
    assert_eq!(seen["home/us-east-1"], at_home);
    assert!(seen["home/us-west-2"].is_empty(), "{seen:?}");
    assert!(seen["111111111111/us-east-1"].is_empty(), "{seen:?}");

    // grpcurl, as a user types it: the target's instances with account and region, the home
    // account's without (the account named by id works as its alias does).
    let addr = gateway.addr.to_string();
    let read = |body: &str| {
        let addr = addr.clone();
        let body = body.to_owned();
        async move {
            let out = support::grpcurl(&[
                "-plaintext",
                "-d",
                &body,
                &addr,
                "ec2.v1.Ec2Service/DescribeInstances",
            ])
            .await;
            let answer: serde_json::Value = serde_json::from_str(&out).expect("grpcurl JSON");
            let mut ids: Vec<String> = answer["reservations"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
                .map(|i| i["instanceId"].as_str().expect("id").to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let filter = r#""filters": [{"name": "tag:case", "values": ["iso"]}]"#;
    assert_eq!(
        read(&format!(
            r#"{{{filter}, "account": "dev-b", "region": "us-west-2"}}"#
        ))
        .await,
        in_b
    );
    assert_eq!(
        read(&format!(
            r#"{{{filter}, "account": "111111111111", "region": "us-west-2"}}"#
        ))
        .await,
        in_b
    );
    assert_eq!(read(&format!("{{{filter}}}")).await, at_home);
    assert!(
        read(&format!(r#"{{{filter}, "account": "dev-b"}}"#))
            .await
            .is_empty(),
        "dev-b's first region, us-east-1, has none"
    );

    // The answer's metadata names the target reached (here the account's default region).
    let answer = client
        .describe_instances(describe("iso", "dev-b", ""))
        .await
        .expect("dev-b");
    let said = |key: &str| {
        answer
            .metadata()
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(said("ec2-account").as_deref(), Some("111111111111"));
    assert_eq!(said("ec2-region").as_deref(), Some("us-east-1"));

    // 200 calls over 3 accounts and 2 regions: one AssumeRole per account (dev-b assumed its
    // role for the launch already; ops is a chain of two roles, one session).
    assert_eq!(proxy.count("AssumeRole"), 1);
    for n in 0..200 {
        let account = ["dev-b", "prod", "ops"][n % 3];
        let region = ["us-east-1", "us-west-2"][n / 3 % 2];
        let answer = client
            .describe_instances(describe("iso", account, region))
            .await
            .unwrap_or_else(|e| panic!("{account}/{region}: {e:?}"))
            .into_inner();
        let expected = if (account, region) == ("dev-b", "us-west-2") {
            in_b.clone()
        } else {
            Vec::new()
        };
        assert_eq!(ids(&answer), expected, "{account}/{region}");
    }
    assert_eq!(
        proxy.count("AssumeRole"),
        1 + 1 + 2,
        "dev-b once, prod once, ops once (two hops)"
    );

    // Refused before any AWS call: an unknown account, a region the account does not allow.
    let before = proxy.total();
    let unknown = client
        .describe_instances(describe("iso", "staging", ""))
        .await
        .expect_err("unknown account");
    assert_eq!(unknown.code(), Code::InvalidArgument, "{unknown:?}");
    assert_eq!(violated_fields(&unknown), ["account"]);
    assert!(unknown.message().contains("dev-b"), "{}", unknown.message());
    let region = client
        .describe_instances(describe("iso", "prod", "eu-west-3"))
        .await
        .expect_err("region not allowed");
    assert_eq!(region.code(), Code::InvalidArgument, "{region:?}");
    assert_eq!(violated_fields(&region), ["region"]);
    assert!(
        region.message().contains("allowed: us-east-1, us-west-2"),
        "{}",
        region.message()
    );
    assert_eq!(proxy.total(), before, "neither reached STS or EC2");

    // STS refuses one account's role: that target fails with STS's code and request id, the
    // others serve, health stays SERVING.
    let described = proxy.count("DescribeInstances");
    let refused = client
        .describe_instances(describe("iso", "locked", ""))
        .await
        .expect_err("STS refuses the role");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let (why, metadata) = reason(&refused);
    assert_eq!(why, "ASSUME_ROLE_FAILED");
    assert_eq!(metadata["aws_code"], "AccessDenied");
    assert_eq!(metadata["request_id"], REFUSAL_REQUEST_ID);
    assert_eq!(
        metadata["role_arn"],
        "arn:aws:iam::444444444444:role/denied"
    );
    assert_eq!(
        proxy.count("DescribeInstances"),
        described,
        "nothing reached EC2"
    );
    // Asked again at once, the refusal is answered from memory: STS is not asked per call.
    let assumed = proxy.count("AssumeRole");
    let again = client
        .describe_instances(describe("iso", "locked", ""))
        .await
        .expect_err("still refused");
    let (why, metadata) = reason(&again);
    assert_eq!(why, "ASSUME_ROLE_FAILED");
    assert_eq!(metadata["request_id"], REFUSAL_REQUEST_ID);
    assert_eq!(
        proxy.count("AssumeRole"),
        assumed,
        "the refusal is held a few seconds"
    );
    client
        .describe_instances(describe("iso", "dev-b", "us-west-2"))
        .await
        .expect("another target still serves");
    let health = support::grpcurl(&["-plaintext", &addr, "grpc.health.v1.Health/Check"]).await;
    assert!(health.contains("SERVING"), "{health}");
    let logs = gateway.logs.lock().expect("logs").join("\n");
    assert!(
        logs.contains("cannot assume arn:aws:iam::444444444444:role/denied"),
        "the refusal is logged: {logs}"
    );
}

#[tokio::test]
async fn roles_grant_accounts_and_regions_and_refuse_the_rest_before_any_aws_call() {
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let accounts = AccountsFile::write("targets-grants", ACCOUNTS);
    let auth = support::AuthFiles::write(
        "targets-grants",
        "devbot devbot-token-0123456789abcdef\nops ops-token-0123456789abcdef0\n",
        "[grants]\ndevbot = [\"reader\"]\nops = [\"reader\"]\n\
         [targets]\ndevbot = { accounts = [\"dev-*\"], regions = [\"us-west-*\"] }\n",
    );
    let gateway = gateway(&proxy, &accounts, &auth.args()).await;
    let mut client = Ec2ServiceClient::new(support::channel(gateway.addr).await);
    let call = |account: &str, region: &str, token: &str| {
        bearer(describe("grants", account, region), token)
    };

    client
        .describe_instances(call("dev-b", "us-west-2", "devbot-token-0123456789abcdef"))
        .await
        .expect("dev-* in us-west-* is granted");
    let before = proxy.total();
    for (account, region) in [("prod", "us-west-2"), ("dev-b", "us-east-1"), ("", "")] {
        let denied = client
            .describe_instances(call(account, region, "devbot-token-0123456789abcdef"))
            .await
            .expect_err("not granted");
        assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
        let (why, metadata) = reason(&denied);
        assert_eq!(why, "TARGET_NOT_GRANTED");
        assert!(metadata.contains_key("account") && metadata.contains_key("region"));
        assert!(
            denied
                .message()
                .contains("accounts dev-* in regions us-west-*"),
            "{}",
            denied.message()
        );
    }
    assert_eq!(proxy.total(), before, "STS and EC2 saw no call");

    // A principal the [targets] table does not name reaches the home account only.
    client
        .describe_instances(call("", "us-west-2", "ops-token-0123456789abcdef0"))
        .await
        .expect("home is everyone's");
    let denied = client
        .describe_instances(call("dev-b", "", "ops-token-0123456789abcdef0"))
        .await
        .expect_err("no [targets] entry: home only");
    assert_eq!(reason(&denied).0, "TARGET_NOT_GRANTED");
}

#[tokio::test]
async fn the_accounts_file_is_read_again_when_it_changes() {
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let first = "[accounts.dev-b]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/ec2-grpc\"\nregions = [\"us-east-1\"]\n";
    let accounts = AccountsFile::write("targets-reload", first);
    let gateway = gateway(&proxy, &accounts, &[]).await;
    let mut client = Ec2ServiceClient::new(support::channel(gateway.addr).await);
    client
        .describe_instances(describe("reload", "dev-b", ""))
        .await
        .expect("dev-b is served");
    let ops_unknown = client
        .describe_instances(describe("reload", "ops", ""))
        .await
        .expect_err("ops is not in the file yet");
    assert_eq!(violated_fields(&ops_unknown), ["account"]);

    // Added: served without a restart (the file is checked every 5 s).
    let second = "[accounts.ops]\nid = \"333333333333\"\nrole_arn = \"arn:aws:iam::333333333333:role/ec2-grpc\"\nregions = [\"us-east-1\"]\n";
    accounts.replace(second);
    let mut served = false;
    for _ in 0..150 {
        if client
            .describe_instances(describe("reload", "ops", ""))
            .await
            .is_ok()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "ops is served once the file says so");
    // ... and dev-b, no longer in the file, is refused.
    let removed = client
        .describe_instances(describe("reload", "dev-b", ""))
        .await
        .expect_err("dev-b was removed");
    assert_eq!(violated_fields(&removed), ["account"]);

    // A broken file keeps the last good one, and the logs say why.
    accounts.replace("[accounts.ops]\nid = \"not-an-id\"\n");
    let mut said = false;
    for _ in 0..150 {
        let logs = gateway.logs.lock().expect("logs").join("\n");
        if logs.contains("accounts.toml changed but cannot be used") {
            said = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(said, "the broken file is reported");
    client
        .describe_instances(describe("reload", "ops", ""))
        .await
        .expect("the last good file is in force");
}

/// The watch's next message (within 30 s).
async fn next_event(
    watch: &mut tonic::Streaming<pb::WatchInstancesResponse>,
) -> pb::WatchInstancesResponse {
    tokio::time::timeout(Duration::from_secs(30), watch.message())
        .await
        .expect("an event within 30 s")
        .expect("the watch goes on")
        .expect("a message")
}

#[tokio::test]
async fn a_watch_on_one_target_sees_that_targets_changes_only() {
    let moto = Moto::start().await;
    let image_id = moto.image_id().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let accounts = AccountsFile::write("targets-watch", ACCOUNTS);
    let gateway = gateway(&proxy, &accounts, &["--inventory-resync-seconds", "60"]).await;
    let mut client = Ec2ServiceClient::new(support::channel(gateway.addr).await);
    let mut watch = client
        .watch_instances(pb::WatchInstancesRequest {
            filters: vec![pb::Filter {
                name: "tag:case".into(),
                values: vec!["watch".into()],
            }],
            account: "dev-b".into(),
            region: "us-west-2".into(),
            ..Default::default()
        })
        .await
        .expect("watch dev-b/us-west-2")
        .into_inner();
    let listed = next_event(&mut watch).await;
    assert_eq!(
        listed.r#type(),
        pb::WatchEventType::InitialListComplete,
        "nothing to list: {listed:?}"
    );

    // The same tag launched at home and in dev-b/us-east-1 first: not this watch's target.
    launch(&mut client, &image_id, "watch", 1, ("", "")).await;
    launch(&mut client, &image_id, "watch", 1, ("dev-b", "us-east-1")).await;
    let in_b = launch(&mut client, &image_id, "watch", 1, ("dev-b", "us-west-2")).await;
    loop {
        let event = next_event(&mut watch).await;
        if event.r#type() == pb::WatchEventType::Bookmark {
            continue;
        }
        assert_eq!(event.r#type(), pb::WatchEventType::Added, "{event:?}");
        let id = event.instance.map(|i| i.instance_id).unwrap_or_default();
        assert_eq!(vec![id], in_b, "only dev-b/us-west-2's instance");
        break;
    }
}

/// The wall clock, moved forward by a test: what the SDK reads the time from.
#[derive(Debug, Clone, Default)]
struct MovableClock(std::sync::Arc<std::sync::Mutex<Duration>>);

impl MovableClock {
    /// Moves the clock to `ahead` of the wall clock.
    fn set(&self, ahead: Duration) {
        *self.0.lock().expect("clock") = ahead;
    }
}

impl aws_smithy_async::time::TimeSource for MovableClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now() + *self.0.lock().expect("clock")
    }
}

#[tokio::test]
async fn an_assumed_session_about_to_expire_is_assumed_again_before_a_call_fails() {
    use ec2_grpc::targets::{Factory, Targets};
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    // Sessions of 15 minutes (STS's shortest), renewed 2.5 to 5 minutes before they end (the
    // identity cache jitters its 5-minute margin by up to half).
    let accounts = AccountsFile::write(
        "targets-refresh",
        "[accounts.dev-b]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/ec2-grpc\"\nsession_seconds = 900\nregions = [\"us-east-1\"]\n",
    );
    let clock = MovableClock::default();
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(&proxy.endpoint)
        .time_source(clock.clone())
        .load()
        .await;
    let factory = Factory::new(
        &base,
        ec2_grpc::ec2::SdkSettings::default(),
        ec2_grpc::protection::budget::BudgetSettings {
            share: 1.0,
            rates: Vec::new(),
            redis: None,
        },
        None,
        None,
    );
    let targets = Targets::start(factory, Some(accounts.path()))
        .await
        .expect("targets");
    let gateway = support::Gateway::serve(ec2_grpc::api::Gateway::with_targets(targets)).await;
    let mut client = gateway.client.clone();
    let call = |client: &mut Ec2ServiceClient<Channel>| {
        let mut client = client.clone();
        async move {
            client
                .describe_instances(describe("refresh", "dev-b", ""))
                .await
                .map(|_| ())
        }
    };
    for _ in 0..5 {
        call(&mut client).await.expect("dev-b");
    }
    assert_eq!(proxy.count("AssumeRole"), 1, "one session for five calls");
    // Thirteen minutes on, two are left, within the margin: the next call assumes the role
    // again first, and succeeds.
    clock.set(Duration::from_secs(13 * 60));
    call(&mut client).await.expect("dev-b, on a new session");
    assert_eq!(proxy.count("AssumeRole"), 2, "renewed before it expired");
    // Back to now, the new session has its 15 minutes: it is kept.
    clock.set(Duration::ZERO);
    call(&mut client).await.expect("dev-b");
    assert_eq!(proxy.count("AssumeRole"), 2, "and kept");
}
