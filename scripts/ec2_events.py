"""Plays EC2's side of its events against moto (the demo, the README's example and
tests/gateway/events.rs use it): makes the SQS queue and the EventBridge rule that delivers
EC2's events to it (as the README's CloudFormation does), changes an instance behind the
gateway's back, puts events on the default bus as EC2 and AWS Health would, and sends garbage
straight to the queue. moto emits no EC2 events of its own.

Usage (.venv/bin/python scripts/ec2_events.py ENDPOINT COMMAND ...):
  setup NAME                       -> prints the queue's URL
  stop INSTANCE_ID                 stops it straight in moto (behind the gateway's back)
  put KIND INSTANCE_ID [ACTION]    KIND: state-change (ACTION: the state), spot, rebalance,
                                   scheduled (ACTION: the event type code), capacity
  garbage QUEUE_URL COUNT          COUNT bodies that are not EventBridge events
  depth QUEUE_URL                  -> prints the messages left (visible and in flight)
"""

import json
import sys
from datetime import datetime, timedelta, timezone

import boto3

RULE_PATTERN = {
    "source": ["aws.ec2", "aws.health"],
    "detail-type": [
        "EC2 Instance State-change Notification",
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Capacity Reservation Instance Interruption Warning",
        "AWS Health Event",
    ],
}


def clients(endpoint: str):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.client("sqs", **kw), boto3.client("events", **kw)


def setup(endpoint: str, name: str) -> None:
    sqs, events = clients(endpoint)
    url = sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{name}-rule", EventPattern=json.dumps(RULE_PATTERN))
    events.put_targets(Rule=f"{name}-rule", Targets=[{"Id": "queue", "Arn": arn}])
    print(url)


def put(endpoint: str, kind: str, instance_id: str, action: str = "") -> None:
    _, events = clients(endpoint)
    arn = f"arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}"
    now = datetime.now(timezone.utc)
    if kind == "state-change":
        entry = ("aws.ec2", "EC2 Instance State-change Notification",
                 {"instance-id": instance_id, "state": action or "stopped"}, [arn])
    elif kind == "spot":
        # The spot warning's resource ARN has no account, as EC2 sends it.
        entry = ("aws.ec2", "EC2 Spot Instance Interruption Warning",
                 {"instance-id": instance_id, "instance-action": action or "terminate"},
                 [f"arn:aws:ec2:us-east-1b:instance/{instance_id}"])
    elif kind == "rebalance":
        entry = ("aws.ec2", "EC2 Instance Rebalance Recommendation",
                 {"instance-id": instance_id}, [arn])
    elif kind == "capacity":
        entry = ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning",
                 {"instance-id": instance_id, "instance-action": "terminate"}, [arn])
    elif kind == "scheduled":
        start = now + timedelta(days=7)
        entry = ("aws.health", "AWS Health Event", {
            "service": "EC2",
            "eventTypeCategory": "scheduledChange",
            "eventTypeCode": action or "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED",
            "startTime": start.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "endTime": (start + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "eventDescription": [{"language": "en_US", "latestDescription": "Reboot for maintenance"}],
            "affectedEntities": [{"entityValue": instance_id}],
        }, [])
    else:
        sys.exit(f"unknown kind {kind}")
    source, detail_type, detail, resources = entry
    answer = events.put_events(Entries=[{
        "Source": source, "DetailType": detail_type,
        "Detail": json.dumps(detail), "Resources": resources,
    }])
    if answer["FailedEntryCount"]:
        sys.exit(f"PutEvents failed: {answer}")


def stop(endpoint: str, instance_id: str) -> None:
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ec2.stop_instances(InstanceIds=[instance_id])


def garbage(endpoint: str, url: str, count: int) -> None:
    sqs, _ = clients(endpoint)
    bodies = ["not json", "{}", '{"version":"0"}', '{"detail-type":"EC2 Instance State-change Notification"}']
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": bodies[i % len(bodies)]}
                   for i in range(start, min(start + 10, count))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def depth(endpoint: str, url: str) -> None:
    sqs, _ = clients(endpoint)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    print(sum(int(attributes[n]) for n in names))


if __name__ == "__main__":
    endpoint, command, *args = sys.argv[1:]
    if command == "setup":
        setup(endpoint, *args)
    elif command == "put":
        put(endpoint, *args)
    elif command == "stop":
        stop(endpoint, *args)
    elif command == "garbage":
        garbage(endpoint, args[0], int(args[1]))
    elif command == "depth":
        depth(endpoint, args[0])
    else:
        sys.exit(__doc__)
