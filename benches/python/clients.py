"""P3 of the benchmark: how long a Python program takes to list every instance, through the
gateway with a client generated from proto/, or straight from EC2 with boto3.

Run by the harness (benches/gateway/clients.rs) with .venv-bench's Python, which passes the addresses it started:

    python benches/python/clients.py grpc --gateway 127.0.0.1:PORT --runs N
    python benches/python/clients.py boto3 --ec2 http://127.0.0.1:PORT --runs N

Each run is timed whole with time.perf_counter, from creating the channel (or the boto3
client) to the last instance read, so a run pays what a fresh script would pay, less the
interpreter start and imports (and, for gRPC, the stub generation, which is done once before
the first run). It prints exactly one JSON line on stdout:

    {"mode": "grpc", "runs": [seconds, ...], "instances": count_of_last_run}

and exits non-zero on any error.
"""

import argparse
import glob
import importlib
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE_SIZE = 1000
MAX_RECEIVE = 64 * 1024 * 1024


def generate_stubs():
    """Compiles proto/ec2/v1/*.proto into a temporary package; answers (messages, grpc)."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="ec2grpc-bench-py-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    protos = sorted(glob.glob(os.path.join(REPO, "proto", "ec2", "v1", "*.proto")))
    if not protos:
        sys.exit(f"no .proto files under {REPO}/proto/ec2/v1")
    args = ["protoc", f"-I{REPO}/proto", f"-I{include}", f"--python_out={out}",
            f"--grpc_python_out={out}", *protos]
    if protoc.main(args) != 0:
        sys.exit("grpc_tools.protoc failed")
    sys.path.insert(0, out)
    return (importlib.import_module("ec2.v1.ec2_service_pb2"),
            importlib.import_module("ec2.v1.ec2_service_pb2_grpc"))


def run_grpc(gateway, runs):
    import grpc

    pb, pb_grpc = generate_stubs()
    request = pb.DescribeInstancesStreamRequest(max_results=PAGE_SIZE)
    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with grpc.insecure_channel(
                gateway, options=[("grpc.max_receive_message_length", MAX_RECEIVE)]) as channel:
            stub = pb_grpc.Ec2ServiceStub(channel)
            count = 0
            for message in stub.DescribeInstancesStream(request):
                for reservation in message.reservations:
                    count += len(reservation.instances)
        times.append(time.perf_counter() - start)
    return times, count


def run_boto3(ec2, runs):
    import boto3

    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        client = boto3.client("ec2", region_name="us-east-1", endpoint_url=ec2,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        count = 0
        pages = client.get_paginator("describe_instances").paginate(
            PaginationConfig={"PageSize": PAGE_SIZE})
        for page in pages:
            for reservation in page.get("Reservations", []):
                count += len(reservation.get("Instances", []))
        times.append(time.perf_counter() - start)
    return times, count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    grpc_mode = modes.add_parser("grpc", help="DescribeInstancesStream through the gateway")
    grpc_mode.add_argument("--gateway", required=True, help="HOST:PORT of the gateway")
    grpc_mode.add_argument("--runs", type=int, required=True)
    boto_mode = modes.add_parser("boto3", help="describe_instances paginator, straight to EC2")
    boto_mode.add_argument("--ec2", required=True, help="EC2 endpoint URL")
    boto_mode.add_argument("--runs", type=int, required=True)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    if args.mode == "grpc":
        times, count = run_grpc(args.gateway, args.runs)
    else:
        times, count = run_boto3(args.ec2, args.runs)
    print(json.dumps({"mode": args.mode, "runs": times, "instances": count}), flush=True)


if __name__ == "__main__":
    main()  # any exception (gRPC status, botocore error) exits 1 with its traceback
