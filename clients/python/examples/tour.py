"""A tour of the Python kit against a running gateway: launch, describe, stream with a limit,
a NOT_FOUND read as a typed error, a refused request's field violations, a launch in another
account and region (with --account), and a burst of calls retried after the gateway's RetryInfo.

    python examples/tour.py --gateway 127.0.0.1:50051 --image-id ami-... [--token TOKEN]
        [--account ALIAS --region REGION]

It prints one line per step and exits non-zero when a step does not behave as described.
"""

from __future__ import annotations

import argparse

import grpc

from ec2.v1 import common_pb2, ec2_service_pb2 as pb, specifications_pb2
from ec2_grpc import ErrorReason, GatewayError, call_with_retry, connect

NO_SUCH_INSTANCE = "i-0123456789abcdef0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", required=True, help="host:port of the gateway")
    parser.add_argument("--image-id", required=True, help="an AMI the EC2 endpoint knows")
    parser.add_argument("--token", help="a bearer token, when the gateway authenticates")
    parser.add_argument("--burst", type=int, default=6, help="describes sent back to back")
    parser.add_argument("--account", help="another account of the gateway's accounts file")
    parser.add_argument("--region", default="", help="a region of that account")
    args = parser.parse_args()
    channel, ec2 = connect(args.gateway, token=args.token)
    retries: list[str] = []

    def note_retry(error: GatewayError, seconds: float) -> None:
        retries.append(f"{error.code.name} {error.reason_name} after {seconds:.2f} s")

    with channel:
        # Launch: three instances, tagged, in one call.
        launched = call_with_retry(lambda: ec2.RunInstances(pb.RunInstancesRequest(
            image_id=args.image_id, instance_type="t3.micro", min_count=3, max_count=3,
            tag_specifications=[specifications_pb2.TagSpecification(
                resource_type="instance", tags=[common_pb2.Tag(key="team", value="kit-python")])],
        )), on_retry=note_retry)
        ids = [i.instance_id for i in launched.instances]
        print(f"python: launched {len(ids)} instances: {', '.join(ids)}")

        # Describe: the first one, by id.
        described = call_with_retry(lambda: ec2.DescribeInstances(
            pb.DescribeInstancesRequest(instance_ids=ids[:1])), on_retry=note_retry)
        instance = described.reservations[0].instances[0]
        print(f"python: described {instance.instance_id}: {instance.state.name}, "
              f"{instance.instance_type}, tags {[(t.key, t.value) for t in instance.tags]}")

        # Stream: every instance tagged team=kit-python, at most two, five per EC2 page.
        streamed = [i.instance_id
                    for message in ec2.DescribeInstancesStream(pb.DescribeInstancesStreamRequest(
                        filters=[common_pb2.Filter(name="tag:team", values=["kit-python"])],
                        max_results=5, limit=2))
                    for reservation in message.reservations for i in reservation.instances]
        assert len(streamed) == 2 and set(streamed) <= set(ids), streamed
        print(f"python: streamed {len(streamed)} of {len(ids)} instances (limit 2)")

        # A typed error: the reason is a generated constant, EC2's code is in the metadata.
        try:
            ec2.DescribeInstances(pb.DescribeInstancesRequest(instance_ids=[NO_SUCH_INSTANCE]))
        except grpc.RpcError as raw:
            error = GatewayError.of(raw)
        else:
            raise SystemExit(f"{NO_SUCH_INSTANCE} was found")
        assert error.reason == ErrorReason.ERROR_REASON_EC2_NOT_FOUND, error.reason_name
        print(f"python: {NO_SUCH_INSTANCE}: {error.code.name}, reason {error.reason_name}, "
              f"aws_code {error.aws_code}, request_id {error.request_id}")

        # A request the gateway refuses before any EC2 call names each field it got wrong.
        try:
            call_with_retry(lambda: ec2.DescribeInstances(
                pb.DescribeInstancesRequest(max_results=3)), on_retry=note_retry)
        except GatewayError as refused:
            fields = [f"{v.field} ({v.description})" for v in refused.violations]
            assert refused.reason == ErrorReason.ERROR_REASON_INVALID_REQUEST and fields, refused
            print(f"python: refused: {refused.code.name}, reason {refused.reason_name}, "
                  f"fields {'; '.join(fields)}")
        else:
            raise SystemExit("max_results 3 (EC2 takes 5 to 1000) was accepted")

        # Another account and region: the same door, two more fields. What is launched there is
        # described there, and the home account does not see it.
        if args.account:
            mark = [common_pb2.Filter(name="tag:team", values=["kit-python-elsewhere"])]
            other = call_with_retry(lambda: ec2.RunInstances(pb.RunInstancesRequest(
                image_id=args.image_id, account=args.account, region=args.region,
                tag_specifications=[specifications_pb2.TagSpecification(
                    resource_type="instance",
                    tags=[common_pb2.Tag(key="team", value="kit-python-elsewhere")])],
            )), on_retry=note_retry)
            there = call_with_retry(lambda: ec2.DescribeInstances(pb.DescribeInstancesRequest(
                account=args.account, region=args.region, filters=mark)), on_retry=note_retry)
            at_home = call_with_retry(lambda: ec2.DescribeInstances(
                pb.DescribeInstancesRequest(filters=mark)), on_retry=note_retry)
            launched_there = [i.instance_id for i in other.instances]
            found = [i.instance_id for r in there.reservations for i in r.instances]
            assert found == launched_there and not at_home.reservations, (found, at_home)
            print(f"python: in account {args.account} / {args.region}: launched "
                  f"{', '.join(launched_there)}, owner {other.owner_id}, described there, "
                  "not at home")

        # A burst: calls the gateway refuses with RetryInfo are tried again after its delay.
        for _ in range(args.burst):
            call_with_retry(lambda: ec2.DescribeInstances(
                pb.DescribeInstancesRequest(instance_ids=ids)), on_retry=note_retry)
        print(f"python: {args.burst} describes answered, {len(retries)} retried after "
              f"RetryInfo: {'; '.join(retries) or 'none'}")
    print("python: tour complete")


if __name__ == "__main__":
    main()
