//! The audit trail on the real binary against moto behind a counting proxy (which keeps the
//! request ids moto answered): one complete event per change, naming the caller, the
//! resources (a selection's resolved ids), the EC2 calls with moto's own request ids, and the
//! outcome, and one per step of a streamed change (a stop's batches, a cleanup's deletions);
//! refusals audited with their reason and no EC2 call; no user data or token in the file;
//! the policy (reads for one caller, reloaded); `--audit-required` with an unwritable trail;
//! 2,000 events from 50 concurrent callers, none lost or interleaved; SourceIdentity
//! sessions per caller and account, seen by the proxy.

use crate::auth::bearer;
use crate::counting_proxy::CountingProxy;
use crate::support::{self, GatewayProcess, Moto, TempDir};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio::time::timeout;
use tonic::Code;
use tonic_types::StatusExt;

const OPS_TOKEN: &str = "audit-ops-token-5f1c2e8a9b7d";
const READER_TOKEN: &str = "audit-reader-token-0d3e6a1f4c";
const USER_DATA: &str = "#!/bin/sh\necho s3cr3t-in-user-data";

/// Two callers by token: `ops` (admin) and `reader`.
fn ops_and_reader(test: &str) -> support::AuthFiles {
    support::AuthFiles::write(
        test,
        &format!("ops {OPS_TOKEN}\nreader {READER_TOKEN}\n"),
        "[grants]\nops = [\"admin\"]\nreader = [\"reader\"]\n",
    )
}

/// The trail's events once it holds at least `count` (waiting up to 30 s: the writer is a
/// thread of its own).
async fn events(path: &Path, count: usize) -> Vec<Value> {
    let read = || -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is one JSON event"))
            .collect()
    };
    timeout(Duration::from_secs(30), async {
        loop {
            let events = read();
            if events.len() >= count {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} audit events within 30 s; got {:?}", read()))
}

/// The one (call's) event of `rpc`.
fn only<'a>(events: &'a [Value], rpc: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["rpc"] == rpc && e["stage"] == "complete")
        .collect();
    assert_eq!(found.len(), 1, "one {rpc} event: {events:#?}");
    found[0]
}

/// The request ids of an event's EC2 calls of `action`.
fn request_ids(event: &Value, action: &str) -> Vec<String> {
    event["ec2Calls"]
        .as_array()
        .expect("ec2Calls")
        .iter()
        .filter(|c| c["action"] == action)
        .map(|c| c["requestID"].as_str().expect("requestID").to_owned())
        .collect()
}

/// An event's resources, sorted.
fn resources(event: &Value) -> Vec<String> {
    let mut ids: Vec<String> = event["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_change_is_audited_once_with_its_caller_resources_and_aws_request_ids() {
    let moto = Moto::start().await;
    let image = moto.image_id().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let dir = TempDir::new("audit-changes");
    let trail = dir.path("audit.jsonl");
    let auth = ops_and_reader("audit");
    // One instance per batch: the stop's two batches are two step events.
    let args = [
        &auth.args()[..],
        &[
            "--audit-log",
            trail.to_str().expect("path"),
            "--action-batch-size",
            "1",
            // Three interfaces' creates in the EC2 budget, none more for a long while.
            "--ec2-rate",
            "CreateNetworkInterface=3/0.001",
            "--ec2-budget-share",
            "1",
        ],
    ]
    .concat();
    let process = GatewayProcess::start_with(&proxy.endpoint, &args, &[]).await;
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);

    // A launch with user data, a stop of a filter's selection, an interface's create and delete.
    let launched = client
        .run_instances(bearer(
            pb::RunInstancesRequest {
                image_id: image.clone(),
                min_count: Some(2),
                user_data: USER_DATA.as_bytes().to_vec(),
                tag_specifications: vec![pb::TagSpecification {
                    resource_type: "instance".into(),
                    tags: vec![pb::Tag {
                        key: "team".into(),
                        value: "audit".into(),
                    }],
                }],
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect("launch")
        .into_inner();
    let mut ids: Vec<String> = launched
        .instances
        .iter()
        .map(|i| i.instance_id.clone())
        .collect();
    ids.sort();
    let subnet = launched.instances[0].subnet_id.clone();
    let mut stop = client
        .stop_instances(bearer(
            pb::StopInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    filters: vec![pb::Filter {
                        name: "tag:team".into(),
                        values: vec!["audit".into()],
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect("stop")
        .into_inner();
    while stop.message().await.expect("stop stream").is_some() {}
    let eni = client
        .create_network_interface(bearer(
            pb::CreateNetworkInterfaceRequest {
                subnet_id: subnet,
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect("create an interface")
        .into_inner()
        .network_interface
        .expect("interface")
        .network_interface_id;
    client
        .delete_network_interface(bearer(
            pb::DeleteNetworkInterfaceRequest {
                network_interface_id: eni.clone(),
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect("delete the interface");
    // A cleanup of two more interfaces: a step event per deletion.
    let mut spare = Vec::new();
    for _ in 0..2 {
        let created = client
            .create_network_interface(bearer(
                pb::CreateNetworkInterfaceRequest {
                    subnet_id: launched.instances[0].subnet_id.clone(),
                    ..Default::default()
                },
                OPS_TOKEN,
            ))
            .await
            .expect("create an interface")
            .into_inner();
        spare.push(
            created
                .network_interface
                .expect("interface")
                .network_interface_id,
        );
    }
    spare.sort();
    // A fourth create: the budget has no room before its deadline, so EC2 never sees it.
    let mut over_budget = bearer(
        pb::CreateNetworkInterfaceRequest {
            subnet_id: launched.instances[0].subnet_id.clone(),
            ..Default::default()
        },
        OPS_TOKEN,
    );
    over_budget.set_timeout(Duration::from_secs(2));
    let refused_by_budget = client
        .create_network_interface(over_budget)
        .await
        .expect_err("no room in the budget");
    assert_eq!(refused_by_budget.code(), Code::Unavailable);
    assert_eq!(proxy.count("CreateNetworkInterface"), 3);
    let mut cleanup = client
        .delete_network_interfaces(bearer(
            pb::DeleteNetworkInterfacesRequest {
                selection: Some(pb::NetworkInterfaceSelection {
                    network_interface_ids: spare.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect("cleanup")
        .into_inner();
    while cleanup.message().await.expect("cleanup stream").is_some() {}
    // A read (not audited by default), a change refused by validation, one by permission.
    client
        .describe_instances(bearer(pb::DescribeInstancesRequest::default(), OPS_TOKEN))
        .await
        .expect("describe");
    let invalid = client
        .run_instances(bearer(
            pb::RunInstancesRequest {
                image_id: image,
                min_count: Some(0),
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect_err("min_count 0");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let denied = client
        .terminate_instances(bearer(
            pb::TerminateInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    instance_ids: ids.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            READER_TOKEN,
        ))
        .await
        .expect_err("a reader may not terminate");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let events = events(&trail, 14).await;
    assert_eq!(
        events.len(),
        14,
        "one event per change (10) and per step of the stop and the cleanup (4), none for the read: {events:#?}"
    );
    let launch = events
        .iter()
        .find(|e| e["rpc"] == "RunInstances" && e["outcome"]["code"] == "OK")
        .expect("the launch");
    assert_eq!(launch["identity"]["principal"], "ops");
    assert_eq!(launch["identity"]["method"], "token");
    assert_eq!(launch["level"], "request");
    assert_eq!(resources(launch), ids);
    assert_eq!(
        request_ids(launch, "RunInstances"),
        proxy.request_ids("RunInstances")
    );
    assert_eq!(launch["request"]["minCount"], 2);
    assert!(launch["request"].get("userData").is_none());
    assert_eq!(launch["target"]["region"], "us-east-1");
    assert!(launch["auditId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        !launch["sourceIPAddress"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );

    let stopped = only(&events, "StopInstances");
    assert_eq!(resources(stopped), ids, "the ids the filter resolved to");
    assert_eq!(
        request_ids(stopped, "StopInstances"),
        proxy.request_ids("StopInstances")
    );
    assert_eq!(stopped["outcome"]["code"], "OK");
    // Each batch of the stop, as it was done: its instance and its EC2 call, by the same caller,
    // tied to the call's event by the audit id.
    let steps: Vec<&Value> = events
        .iter()
        .filter(|e| e["stage"] == "step" && e["rpc"] == "StopInstances")
        .collect();
    assert_eq!(steps.len(), 2, "{steps:#?}");
    let mut step_ids = Vec::new();
    let mut step_requests = Vec::new();
    for (number, step) in steps.iter().enumerate() {
        assert_eq!(step["auditId"], stopped["auditId"]);
        assert_eq!(step["rpc"], "StopInstances");
        assert_eq!(step["step"], number + 1);
        assert_eq!(step["identity"]["principal"], "ops");
        assert_eq!(step["outcome"]["code"], "OK");
        assert_eq!(step["resources"].as_array().expect("resources").len(), 1);
        step_ids.extend(resources(step));
        step_requests.extend(request_ids(step, "StopInstances"));
        assert!(
            request_ids(step, "DescribeInstances").is_empty(),
            "{step:#}"
        );
    }
    step_ids.sort();
    assert_eq!(step_ids, ids);
    assert_eq!(step_requests, proxy.request_ids("StopInstances"));

    let cleaned = only(&events, "DeleteNetworkInterfaces");
    assert_eq!(resources(cleaned), spare);
    let deletions: Vec<&Value> = events
        .iter()
        .filter(|e| e["stage"] == "step" && e["rpc"] == "DeleteNetworkInterfaces")
        .collect();
    assert_eq!(deletions.len(), 2, "one step per deletion: {deletions:#?}");
    let mut deleted_ids = Vec::new();
    for (number, deletion) in deletions.iter().enumerate() {
        assert_eq!(deletion["auditId"], cleaned["auditId"]);
        assert_eq!(deletion["step"], number + 1);
        assert_eq!(request_ids(deletion, "DeleteNetworkInterface").len(), 1);
        deleted_ids.extend(resources(deletion));
    }
    deleted_ids.sort();
    assert_eq!(deleted_ids, spare);

    let deleted = only(&events, "DeleteNetworkInterface");
    assert_eq!(resources(deleted), std::slice::from_ref(&eni));
    // The single delete came first; the cleanup's two deletions after it.
    let moto_deletes = proxy.request_ids("DeleteNetworkInterface");
    assert_eq!(
        request_ids(deleted, "DeleteNetworkInterface"),
        moto_deletes[..1]
    );
    let step_deletes: Vec<String> = deletions
        .iter()
        .flat_map(|d| request_ids(d, "DeleteNetworkInterface"))
        .collect();
    assert_eq!(step_deletes, moto_deletes[1..]);
    let created: Vec<&Value> = events
        .iter()
        .filter(|e| e["rpc"] == "CreateNetworkInterface" && e["outcome"]["code"] == "OK")
        .collect();
    assert_eq!(created.len(), 3);
    assert!(created.iter().any(|e| resources(e) == [eni.clone()]));

    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["outcome"]["code"] != "OK")
        .collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    let budget = refused
        .iter()
        .find(|e| e["rpc"] == "CreateNetworkInterface")
        .expect("the create over budget");
    assert_eq!(budget["outcome"]["code"], "UNAVAILABLE");
    assert_eq!(budget["outcome"]["reason"], "EC2_BUDGET_EXHAUSTED");
    assert!(budget["ec2Calls"].as_array().expect("calls").is_empty());
    let invalid = refused
        .iter()
        .find(|e| e["rpc"] == "RunInstances")
        .expect("invalid launch");
    assert_eq!(invalid["outcome"]["reason"], "INVALID_REQUEST");
    assert!(invalid["ec2Calls"].as_array().expect("calls").is_empty());
    let denied = refused
        .iter()
        .find(|e| e["rpc"] == "TerminateInstances")
        .expect("denied");
    assert_eq!(denied["outcome"]["code"], "PERMISSION_DENIED");
    assert_eq!(denied["outcome"]["reason"], "MISSING_PERMISSION");
    assert_eq!(denied["identity"]["principal"], "reader");
    assert!(denied["ec2Calls"].as_array().expect("calls").is_empty());

    let text = std::fs::read_to_string(&trail).expect("the trail");
    for secret in ["s3cr3t", OPS_TOKEN, READER_TOKEN] {
        assert!(!text.contains(secret), "{secret} is in the audit trail");
    }
    println!(
        "audit: 10 call events (3 refused: validation, permission, budget) and 4 step events; RunInstances requestID {:?} as moto answered",
        proxy.request_ids("RunInstances")
    );
}

#[tokio::test]
async fn the_policy_audits_reads_for_one_caller_and_is_read_again_when_it_changes() {
    let moto = Moto::start().await;
    let dir = TempDir::new("audit-policy");
    let trail = dir.path("audit.jsonl");
    let policy = dir.path("policy.toml");
    std::fs::write(
        &policy,
        "[[rules]]\nprincipals = [\"reader\"]\nrpcs = [\"Describe*\"]\nlevel = \"metadata\"\n",
    )
    .expect("policy");
    let auth = ops_and_reader("audit-policy");
    let args = [
        &auth.args()[..],
        &[
            "--audit-log",
            trail.to_str().expect("path"),
            "--audit-policy-file",
            policy.to_str().expect("path"),
        ],
    ]
    .concat();
    let process = GatewayProcess::start_with(&moto.endpoint, &args, &[]).await;
    let client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let describe = |token: &'static str| {
        let mut client = client.clone();
        async move {
            client
                .describe_instances(bearer(pb::DescribeInstancesRequest::default(), token))
                .await
                .expect("describe");
        }
    };
    describe(OPS_TOKEN).await;
    describe(READER_TOKEN).await;
    let first = events(&trail, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["identity"]["principal"], "reader");
    assert_eq!(first[0]["level"], "metadata");
    assert!(
        first[0].get("request").is_none(),
        "metadata has no parameters"
    );

    // The file changes: ops' reads too, at request level.
    let next = policy.with_extension("next");
    std::fs::write(
        &next,
        "[[rules]]\nrpcs = [\"Describe*\"]\nlevel = \"request\"\n",
    )
    .expect("policy");
    std::fs::rename(&next, &policy).expect("replace the policy");
    let seen = timeout(Duration::from_secs(30), async {
        loop {
            describe(OPS_TOKEN).await;
            let text = std::fs::read_to_string(&trail).unwrap_or_default();
            if text.contains("\"principal\":\"ops\"") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "the new policy audits ops' reads");
}

#[tokio::test]
async fn with_audit_required_an_unwritable_trail_refuses_changes_before_ec2() {
    let moto = Moto::start().await;
    let image = moto.image_id().await;
    let (sdk, _) = moto.sdk();
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let unwritable = "/nonexistent-directory/audit.jsonl";
    let process = GatewayProcess::start_with(
        &proxy.endpoint,
        &["--audit-log", unwritable, "--audit-required"],
        &[],
    )
    .await;
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let refused = client
        .run_instances(pb::RunInstancesRequest {
            image_id: image.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no trail, no change");
    assert_eq!(refused.code(), Code::Unavailable);
    let info = refused.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "AUDIT_UNAVAILABLE");
    assert_eq!(proxy.count("RunInstances"), 0, "nothing reached EC2");
    let instances = sdk
        .describe_instances()
        .send()
        .await
        .expect("describe moto");
    assert!(
        instances.reservations().is_empty(),
        "moto has no new instance"
    );
    client
        .describe_instances(pb::DescribeInstancesRequest::default())
        .await
        .expect("reads are served");

    // Without --audit-required, the change is served and the lost event counted.
    let served = GatewayProcess::start_with(
        &proxy.endpoint,
        &["--audit-log", unwritable, "--metrics-listen", "127.0.0.1:0"],
        &[],
    )
    .await;
    let mut client = Ec2ServiceClient::new(support::channel(served.addr).await);
    client
        .run_instances(pb::RunInstancesRequest {
            image_id: image,
            ..Default::default()
        })
        .await
        .expect("served without --audit-required");
    let counted = timeout(Duration::from_secs(30), async {
        loop {
            if served
                .metric("ec2_audit_dropped_total")
                .await
                .is_some_and(|n| n >= 1.0)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "the dropped event is counted");
}

#[tokio::test]
async fn two_thousand_events_from_fifty_callers_are_all_written_whole() {
    let moto = Moto::start().await;
    let dir = TempDir::new("audit-load");
    let trail = dir.path("audit.jsonl");
    let policy = dir.path("policy.toml");
    std::fs::write(
        &policy,
        "[[rules]]\nrpcs = [\"DescribeInstances\"]\nlevel = \"request\"\n",
    )
    .expect("policy");
    let process = GatewayProcess::start_with(
        &moto.endpoint,
        &[
            "--audit-log",
            trail.to_str().expect("path"),
            "--audit-policy-file",
            policy.to_str().expect("path"),
        ],
        &[],
    )
    .await;
    let mut callers = Vec::new();
    for _ in 0..50 {
        let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
        callers.push(tokio::spawn(async move {
            for _ in 0..40 {
                client
                    .describe_instances(pb::DescribeInstancesRequest::default())
                    .await
                    .expect("describe");
            }
        }));
    }
    for caller in callers {
        caller.await.expect("caller");
    }
    let events = events(&trail, 2000).await;
    assert_eq!(events.len(), 2000, "none lost");
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["auditId"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids.len(), 2000, "each its own event");
}

#[tokio::test]
async fn source_identity_gives_each_caller_one_session_per_account_that_signs_its_calls() {
    use crate::counting_proxy::SIGNED_BY;
    let moto = Moto::start().await;
    let image = moto.image_id().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let dir = TempDir::new("audit-source-identity");
    let trail = dir.path("audit.jsonl");
    let accounts = support::AccountsFile::write(
        "audit-source-identity",
        r#"
[accounts.dev]
id = "111111111111"
role_arn = "arn:aws:iam::111111111111:role/ec2-grpc"
regions = ["us-east-1", "us-west-2"]
source_identity = true

[accounts.plain]
id = "222222222222"
role_arn = "arn:aws:iam::222222222222:role/ec2-grpc"
regions = ["us-east-1"]
"#,
    );
    let auth = support::AuthFiles::write(
        "audit-source-identity",
        &format!("alice {OPS_TOKEN}\nbob@corp {READER_TOKEN}\n"),
        "[grants]\nalice = [\"admin\"]\n\"bob@corp\" = [\"admin\"]\n\
         [targets]\nalice = { accounts = [\"*\"] }\n\"bob@corp\" = { accounts = [\"*\"] }\n",
    );
    let args = [
        &auth.args()[..],
        &[
            "--accounts-file",
            accounts.arg(),
            "--audit-log",
            trail.to_str().expect("path"),
        ],
    ]
    .concat();
    let process = GatewayProcess::start_with(
        &proxy.endpoint,
        &args,
        &[("AWS_ENDPOINT_URL_STS", proxy.endpoint.as_str())],
    )
    .await;
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let launch = |account: &str, region: &str| pb::RunInstancesRequest {
        image_id: image.clone(),
        account: account.into(),
        region: region.into(),
        tag_specifications: vec![pb::TagSpecification {
            resource_type: "instance".into(),
            tags: vec![pb::Tag {
                key: "case".into(),
                value: "source-identity".into(),
            }],
        }],
        ..Default::default()
    };

    // alice: three launches in dev's us-east-1, one in its us-west-2, one in plain; bob: two.
    for (account, region, token) in [
        ("dev", "us-east-1", OPS_TOKEN),
        ("dev", "us-east-1", OPS_TOKEN),
        ("dev", "us-east-1", OPS_TOKEN),
        ("dev", "us-west-2", OPS_TOKEN),
        ("plain", "us-east-1", OPS_TOKEN),
        ("dev", "us-east-1", READER_TOKEN),
        ("dev", "us-east-1", READER_TOKEN),
    ] {
        client
            .run_instances(bearer(launch(account, region), token))
            .await
            .unwrap_or_else(|e| panic!("launch in {account} {region}: {e:?}"));
    }

    // One AssumeRole per caller and account, with the caller's principal as SourceIdentity
    // (dev's two regions share alice's); plain's own session sets none.
    let issued = proxy.issued();
    let session = |role_account: &str, identity: Option<&str>| -> Vec<String> {
        issued
            .iter()
            .filter(|(form, _)| form["RoleArn"].contains(role_account))
            .filter(|(form, _)| form.get("SourceIdentity").map(String::as_str) == identity)
            .map(|(_, key)| key.clone())
            .collect()
    };
    let alice = session("111111111111", Some("alice"));
    let bob = session("111111111111", Some("bob@corp"));
    assert_eq!(alice.len(), 1, "one session for alice in dev: {issued:?}");
    assert_eq!(bob.len(), 1, "one session for bob in dev: {issued:?}");
    assert_ne!(alice, bob);
    assert_eq!(session("222222222222", None).len(), 1, "{issued:?}");
    let in_plain_with_identity = issued
        .iter()
        .filter(|(form, _)| form["RoleArn"].contains("222222222222"))
        .any(|(form, _)| form.contains_key("SourceIdentity"));
    assert!(!in_plain_with_identity, "plain gives callers no sessions");

    // Each launch in dev was signed by its caller's session.
    let signed_by = |key: &str| {
        proxy
            .forms("RunInstances")
            .iter()
            .filter(|form| form.get(SIGNED_BY).map(String::as_str) == Some(key))
            .count()
    };
    assert_eq!(signed_by(&alice[0]), 4, "alice's four launches in dev");
    assert_eq!(signed_by(&bob[0]), 2, "bob's two");

    // moto tied them to dev's account: the gateway's describe in dev's us-east-1 finds five.
    let described = client
        .describe_instances(bearer(
            pb::DescribeInstancesRequest {
                filters: vec![pb::Filter {
                    name: "tag:case".into(),
                    values: vec!["source-identity".into()],
                }],
                account: "dev".into(),
                region: "us-east-1".into(),
                ..Default::default()
            },
            OPS_TOKEN,
        ))
        .await
        .expect("describe")
        .into_inner();
    let count: usize = described
        .reservations
        .iter()
        .map(|r| r.instances.len())
        .sum();
    assert_eq!(count, 5, "dev's us-east-1 has alice's three and bob's two");

    // The trail says which session each call used.
    let events = events(&trail, 7).await;
    let launches: Vec<&Value> = events
        .iter()
        .filter(|e| e["rpc"] == "RunInstances")
        .collect();
    assert_eq!(launches.len(), 7);
    for event in launches {
        let expected = match (
            event["identity"]["principal"].as_str(),
            event["target"]["account"].as_str(),
        ) {
            (_, Some("222222222222")) => Value::Null,
            (Some(principal), Some("111111111111")) => Value::from(principal),
            other => panic!("unexpected event {other:?}: {event:#}"),
        };
        assert_eq!(event["target"]["sourceIdentity"], expected, "{event:#}");
    }
}
