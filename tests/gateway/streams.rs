//! Streamed describes against moto: every instance exactly once, resumable from any message,
//! `limit`, DryRun, and cancellation that stops EC2 paging (counted at the gateway's SDK).

use crate::describe::launch;
use crate::support::{self, Moto};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use std::collections::HashSet;
use std::time::Duration;
use tonic::transport::Endpoint;

/// Every instance id of a stream's messages, in order, and the messages.
async fn read_all(
    client: &mut Ec2ServiceClient<tonic::transport::Channel>,
    request: pb::DescribeInstancesStreamRequest,
) -> (Vec<String>, Vec<pb::DescribeInstancesStreamResponse>) {
    let mut stream = client
        .describe_instances_stream(request)
        .await
        .expect("stream")
        .into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await.expect("message") {
        messages.push(message);
    }
    let ids = messages
        .iter()
        .flat_map(|m| &m.reservations)
        .flat_map(|r| &r.instances)
        .map(|i| i.instance_id.clone())
        .collect();
    (ids, messages)
}

#[tokio::test]
async fn sixty_reservations_stream_once_each_resume_anywhere_and_stop_when_cancelled() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let mut launched = HashSet::new();
    for _ in 0..60 {
        launched.extend(launch(&sdk, &image, 1, "fleet").await);
    }
    let (gateway_ec2, calls) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();
    let page_of_five = pb::DescribeInstancesStreamRequest {
        max_results: Some(5),
        ..Default::default()
    };

    // Every instance exactly once, over at least 12 messages, one EC2 page per message.
    let (ids, messages) = read_all(&mut client, page_of_five.clone()).await;
    assert_eq!(ids.len(), 60, "no duplicates, none missing");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), launched);
    assert!(messages.len() >= 12, "{} messages", messages.len());
    println!("60 instances in {} messages, 12 EC2 pages", messages.len());
    assert_eq!(calls.count("DescribeInstances"), 12);
    let (last, rest) = messages.split_last().expect("messages");
    assert!(rest.iter().all(|m| !m.next_token.is_empty()));
    assert!(
        last.next_token.is_empty(),
        "the last message ends the stream"
    );

    // Resuming from the 5th message's token delivers exactly what followed it.
    let delivered: usize = messages[..5]
        .iter()
        .flat_map(|m| &m.reservations)
        .map(|r| r.instances.len())
        .sum();
    let (resumed, _) = read_all(
        &mut client,
        pb::DescribeInstancesStreamRequest {
            next_token: messages[4].next_token.clone(),
            ..page_of_five.clone()
        },
    )
    .await;
    assert_eq!(resumed, ids[delivered..]);

    // A limit ends the stream early, and its last token resumes inside the page.
    let (limited, limited_messages) = read_all(
        &mut client,
        pb::DescribeInstancesStreamRequest {
            limit: Some(7),
            ..page_of_five.clone()
        },
    )
    .await;
    assert_eq!(limited, ids[..7]);
    let (after_limit, _) = read_all(
        &mut client,
        pb::DescribeInstancesStreamRequest {
            next_token: limited_messages.last().expect("message").next_token.clone(),
            ..page_of_five.clone()
        },
    )
    .await;
    assert_eq!(after_limit, ids[7..]);

    // Cancelling: a client with a small HTTP/2 window reads 2 messages and goes away; the
    // gateway stops paging (the count settles well below the 12 pages).
    let channel = Endpoint::from_shared(format!("http://{}", gateway.addr))
        .expect("uri")
        .initial_stream_window_size(Some(4 * 1024))
        .connect()
        .await
        .expect("connect");
    let mut slow = Ec2ServiceClient::new(channel);
    let before = calls.count("DescribeInstances");
    let mut stream = slow
        .describe_instances_stream(page_of_five.clone())
        .await
        .expect("stream")
        .into_inner();
    for _ in 0..2 {
        stream.message().await.expect("message").expect("a message");
    }
    drop(stream);
    drop(slow);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_cancel = calls.count("DescribeInstances") - before;
    println!("a client that read 2 of 12 pages and went away cost {after_cancel} EC2 pages");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        calls.count("DescribeInstances") - before,
        after_cancel,
        "no EC2 paging after the client went away"
    );
    assert!(
        (2..12).contains(&after_cancel),
        "{after_cancel} pages fetched for a client that read 2 messages"
    );
}

#[tokio::test]
async fn stream_dry_runs_and_network_interface_streams() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let subnets = sdk.describe_subnets().send().await.expect("subnets");
    let subnet_id = subnets.subnets()[0].subnet_id().expect("subnet").to_owned();
    let mut created = HashSet::new();
    for i in 0..3 {
        let eni = sdk
            .create_network_interface()
            .subnet_id(&subnet_id)
            .description(format!("stream {i}"))
            .send()
            .await
            .expect("eni");
        created.insert(
            eni.network_interface()
                .and_then(|n| n.network_interface_id())
                .expect("id")
                .to_owned(),
        );
    }
    let (gateway_ec2, calls) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();

    let mut stream = client
        .describe_network_interfaces_stream(pb::DescribeNetworkInterfacesStreamRequest {
            filters: vec![pb::Filter {
                name: "subnet-id".into(),
                values: vec![subnet_id.clone()],
            }],
            max_results: Some(5),
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let mut streamed = HashSet::new();
    while let Some(message) = stream.message().await.expect("message") {
        streamed.extend(
            message
                .network_interfaces
                .into_iter()
                .map(|n| n.network_interface_id),
        );
    }
    assert!(created.is_subset(&streamed), "{created:?} in {streamed:?}");

    let mut stream = client
        .describe_network_interfaces_stream(pb::DescribeNetworkInterfacesStreamRequest {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let mut count = 0;
    while let Some(message) = stream.message().await.expect("message") {
        count += message.network_interfaces.len();
    }
    assert_eq!(count, 2);

    let before = calls.total();
    let (ids, messages) = read_all(
        &mut client,
        pb::DescribeInstancesStreamRequest {
            dry_run: true,
            ..Default::default()
        },
    )
    .await;
    assert!(ids.is_empty());
    assert_eq!(messages.len(), 1);
    assert!(messages[0].dry_run_succeeded);
    assert_eq!(calls.total(), before + 1, "one EC2 call for the dry run");

    let status = client
        .describe_instances_stream(pb::DescribeInstancesStreamRequest {
            next_token: "ec2grpc-resume-v1:5:oops".into(),
            ..Default::default()
        })
        .await
        .expect_err("a forged token");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}
