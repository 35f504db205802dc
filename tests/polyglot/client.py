"""The polyglot promise, checked: the Python client kit (clients/python, generated from proto/)
calls the gateway's four operations and one stream, and what it reads agrees with boto3 reading
the same EC2 endpoint directly.

Run by tests/gateway.rs (`python_client_generated_from_proto_agrees_with_boto3`), which starts
moto and the gateway binary and passes their addresses:

    python tests/polyglot/client.py --gateway 127.0.0.1:PORT --ec2 http://127.0.0.1:PORT

It prints one `agreement:` line per shape and exits non-zero when anything disagrees beyond
the threshold, or any call fails.
"""

import argparse
import base64
import datetime
import types

import boto3
import botocore
import grpc
from google.protobuf import json_format

THRESHOLD = 0.95
USER_DATA = b"#!/bin/sh\necho hello from ec2-grpc\n"


def contract():
    """The Python kit's generated modules (clients/python, installed into .venv by
    scripts/build-clients.sh) as one namespace of messages, and the stub's module."""
    import importlib
    import pkgutil

    import ec2.v1
    from ec2.v1 import ec2_service_pb2_grpc

    messages = types.SimpleNamespace()
    for module in sorted(m.name for m in pkgutil.iter_modules(ec2.v1.__path__)):
        if module.endswith("_pb2"):
            messages.__dict__.update({k: v for k, v in vars(
                importlib.import_module(f"ec2.v1.{module}")).items() if not k.startswith("_")})
    return messages, ec2_service_pb2_grpc


def leaves(value, path=""):
    """Flattens a JSON-like value into {path: scalar}; keys snake_cased like the contract."""
    out = {}
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "ResponseMetadata":
                continue
            out.update(leaves(child, f"{path}.{botocore.xform_name(key)}"))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.update(leaves(child, f"{path}[{i}]"))
    else:
        out[path] = normalise(value)
    return out


def normalise(value):
    """Timestamps compare as epoch seconds, numbers as text (protobuf JSON writes int64 as a
    string), everything else as itself."""
    if isinstance(value, datetime.datetime):
        return str(int(value.timestamp()))
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value.endswith("Z"):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return str(int(parsed.timestamp()))
        except ValueError:
            return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def agreement(name, boto_value, gateway_message):
    """Counts every leaf boto3 returned and how many the gateway answered identically."""
    ours = leaves(json_format.MessageToDict(gateway_message, preserving_proto_field_name=True))
    theirs = leaves(boto_value)
    # proto3 does not distinguish an empty string from an absent one.
    missing = sorted(k for k in theirs if ours.get(k, "") != theirs[k])
    ratio = (len(theirs) - len(missing)) / len(theirs)
    print(f"agreement: {name}: {len(theirs) - len(missing)}/{len(theirs)} fields "
          f"({ratio:.1%}); differing: {[(k, theirs[k], ours.get(k)) for k in missing]}")
    assert len(theirs) >= 20, f"{name}: too few fields to judge ({len(theirs)})"
    assert ratio >= THRESHOLD, f"{name}: only {ratio:.1%} of fields agree"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--ec2", required=True)
    args = parser.parse_args()

    pb, pb_grpc = contract()
    stub = pb_grpc.Ec2ServiceStub(grpc.insecure_channel(args.gateway))
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=args.ec2,
                       aws_access_key_id="testing", aws_secret_access_key="testing")

    image_id = ec2.describe_images()["Images"][0]["ImageId"]
    subnet = ec2.describe_subnets()["Subnets"][0]
    group = ec2.create_security_group(GroupName="polyglot", Description="polyglot",
                                      VpcId=subnet["VpcId"])["GroupId"]

    # RunInstances, rich, through the gateway.
    launched = stub.RunInstances(pb.RunInstancesRequest(
        image_id=image_id, instance_type="t3.micro", min_count=1, max_count=1,
        subnet_id=subnet["SubnetId"], security_group_ids=[group],
        monitoring=pb.RunInstancesMonitoringEnabled(enabled=True),
        user_data=USER_DATA,
        block_device_mappings=[pb.BlockDeviceMapping(
            device_name="/dev/sda1",
            ebs=pb.EbsBlockDevice(volume_size=20, volume_type="gp3", delete_on_termination=True))],
        tag_specifications=[pb.TagSpecification(resource_type="instance", tags=[
            pb.Tag(key="team", value="polyglot"), pb.Tag(key="Name", value="py")])],
        metadata_options=pb.InstanceMetadataOptionsRequest(
            http_tokens="required", http_put_response_hop_limit=2, http_endpoint="enabled"),
        client_token="polyglot-launch-1"))
    instance_id = launched.instances[0].instance_id
    print(f"launched {instance_id} through the gateway")

    # DescribeInstances: the gateway's answer against boto3's direct read.
    ours = stub.DescribeInstances(pb.DescribeInstancesRequest(instance_ids=[instance_id]))
    theirs = ec2.describe_instances(InstanceIds=[instance_id])
    agreement("instance", theirs["Reservations"][0]["Instances"][0],
              ours.reservations[0].instances[0])
    user_data = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    assert base64.b64decode(user_data["UserData"]["Value"]) == USER_DATA, "user data"

    # CreateNetworkInterface, rich, through the gateway.
    created = stub.CreateNetworkInterface(pb.CreateNetworkInterfaceRequest(
        subnet_id=subnet["SubnetId"], description="polyglot eni", groups=[group],
        secondary_private_ip_address_count=2,
        tag_specifications=[pb.TagSpecification(resource_type="network-interface", tags=[
            pb.Tag(key="team", value="polyglot")])]))
    eni_id = created.network_interface.network_interface_id
    print(f"created {eni_id} through the gateway")
    ours = stub.DescribeNetworkInterfaces(
        pb.DescribeNetworkInterfacesRequest(network_interface_ids=[eni_id]))
    theirs = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])
    agreement("network interface", theirs["NetworkInterfaces"][0], ours.network_interfaces[0])

    # One stream: every instance, in messages, exactly once.
    streamed = [i.instance_id
                for message in stub.DescribeInstancesStream(
                    pb.DescribeInstancesStreamRequest(max_results=5))
                for r in message.reservations for i in r.instances]
    assert streamed == [instance_id], streamed
    print(f"streamed {len(streamed)} instance(s)")
    print("polyglot: all calls agree")


if __name__ == "__main__":
    main()
