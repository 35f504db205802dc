#!/usr/bin/env bash
# The newcomer's first command: sets up a local EC2 stand-in (moto), launches a few demo
# instances in it, starts the gateway against it, and runs grpcurl examples like the README's.
# Then it keeps both running until Ctrl-C (and says what it stopped); with --once it exits
# after the examples (CI uses that to prove this script works as written). Nothing it started
# is left running either way.
#
# Ports: MOTO_PORT (default 5055) and GATEWAY_PORT (default 50051), both on 127.0.0.1; both
# must be free, which is checked before anything starts.
# The build: `cargo test --workspace --no-run`, the build `scripts/test.sh` uses too (the
# tests' dev-dependencies change the features of tokio, regex-syntax, opentelemetry-proto, ...,
# so a `cargo build` of the binary alone would be built again, dependencies and all, by the
# tests); the binary it makes is the one run here. EC2_GRPC_BIN=PATH runs an ec2-grpc already
# built instead (the tests of this script do).
set -euo pipefail
cd "$(dirname "$0")/.."

once=false
[ "${1:-}" = "--once" ] && once=true
MOTO_PORT="${MOTO_PORT:-5055}"
GATEWAY_PORT="${GATEWAY_PORT:-50051}"
GATEWAY="127.0.0.1:${GATEWAY_PORT}"

# Whether something listens on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The first port from PORT up that nothing listens on.
free_from() { local port=$1; while listening "$port"; do port=$((port + 1)); done; echo "$port"; }

for name in MOTO_PORT GATEWAY_PORT; do
  port=${!name}
  if listening "$port"; then
    other_moto=${MOTO_PORT} other_gateway=${GATEWAY_PORT}
    listening "${MOTO_PORT}" && other_moto=$(free_from $((MOTO_PORT + 1)))
    listening "${GATEWAY_PORT}" && other_gateway=$(free_from $((GATEWAY_PORT + 1)))
    echo "demo: port ${port} (${name}) is already in use on 127.0.0.1; pick free ports with MOTO_PORT and GATEWAY_PORT, e.g.:" >&2
    echo "  MOTO_PORT=${other_moto} GATEWAY_PORT=${other_gateway} bash scripts/demo.sh" >&2
    exit 1
  fi
done

bash scripts/setup-tools.sh
if [ -n "${EC2_GRPC_BIN:-}" ]; then
  binary="${EC2_GRPC_BIN}"
else
  echo "demo: building ec2-grpc and its tests (the first build takes several minutes)" >&2
  cargo test --workspace --locked --no-run
  binary="${CARGO_TARGET_DIR:-target}/debug/ec2-grpc"
fi

mkdir -p .demo
names=()
pids=()
# Stops what the demo started (the gateway first), waits for each, and says what it stopped.
stop_all() {
  local stopped=() i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    stopped+=("${names[$i]} (pid ${pids[$i]})")
  done
  wait 2>/dev/null || true
  if [ ${#stopped[@]} -gt 0 ]; then
    local listed
    listed=$(printf '%s and ' "${stopped[@]}")
    echo "demo: stopped ${listed% and }; nothing is left running." >&2
  fi
}
trap stop_all EXIT
trap 'echo >&2; exit 0' INT TERM

# Starts NAME (its output in LOG) with COMMAND..., and waits until it listens on PORT. When it
# exits first, or never listens, prints the last lines of its log and stops.
start() { # NAME PORT LOG COMMAND...
  local name=$1 port=$2 log=$3
  shift 3
  "$@" > "$log" 2>&1 &
  names+=("$name")
  pids+=($!)
  local pid=$!
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: ${name} exited while starting; the last lines of ${log}:" >&2
      tail -n 15 "$log" | sed 's/^/  /' >&2
      exit 1
    fi
    if listening "$port"; then
      echo "demo: ${name} is up on 127.0.0.1:${port} (pid ${pid})" >&2
      return 0
    fi
    sleep 0.1
  done
  echo "demo: ${name} did not listen on 127.0.0.1:${port} within 30 s; the last lines of ${log}:" >&2
  tail -n 15 "$log" | sed 's/^/  /' >&2
  exit 1
}

echo "demo: starting moto (local EC2 stand-in) on 127.0.0.1:${MOTO_PORT}" >&2
start moto "${MOTO_PORT}" .demo/moto.log .venv/bin/moto_server -H 127.0.0.1 -p "${MOTO_PORT}"

# Standard AWS variables only: dummy credentials, a region, and the EC2, STS and SQS endpoint
# overrides (STS: the gateway assumes a role in the demo's second account; SQS: the queue of
# EC2's events).
export AWS_ENDPOINT_URL_EC2="http://127.0.0.1:${MOTO_PORT}"
export AWS_ENDPOINT_URL_STS="http://127.0.0.1:${MOTO_PORT}"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:${MOTO_PORT}"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

echo "demo: launching 3 demo instances (tag team=demo) and 2 others (team=batch) in moto, and" \
  "leaving a network interface tagged cleanup=yes (the README's cleanup example)" >&2
SUBNET_ID=$(.venv/bin/python - <<'PY'
import os
import boto3
ec2 = boto3.client("ec2", region_name=os.environ["AWS_REGION"])
for team, count in (("demo", 3), ("batch", 2)):
    ec2.run_instances(
        ImageId="ami-03cf127a", InstanceType="t3.micro", MinCount=count, MaxCount=count,
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "team", "Value": team}]}])
subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
ec2.create_network_interface(
    SubnetId=subnet, Description="leaked",
    TagSpecifications=[{"ResourceType": "network-interface",
                        "Tags": [{"Key": "cleanup", "Value": "yes"}]}])
print(subnet)
PY
)

# A second account (moto ties an AssumeRole into account 111111111111's role to that account)
# and a second region: the gateway reaches both through the same door.
cat > .demo/accounts.toml <<'TOML'
[home]
regions = ["us-east-1", "us-west-2"]

[accounts.dev]
id = "111111111111"
role_arn = "arn:aws:iam::111111111111:role/ec2-grpc"
regions = ["us-west-2", "us-east-1"]
TOML

# EC2's events: an SQS queue and the EventBridge rule delivering EC2's events to it, as the
# README's CloudFormation makes them (moto emits none itself: scripts/ec2_events.py puts them).
EVENTS_QUEUE=$(.venv/bin/python scripts/ec2_events.py "${AWS_ENDPOINT_URL_EC2}" setup ec2-grpc-events)

echo "demo: starting ec2-grpc on ${GATEWAY} (accounts: .demo/accounts.toml; EC2's events: ${EVENTS_QUEUE}; audit trail: .demo/audit.jsonl)" >&2
# A short shutdown grace: at Ctrl-C, a watch pasted in another terminal does not hold it up.
start ec2-grpc "${GATEWAY_PORT}" .demo/ec2-grpc.log \
  "${binary}" --listen "${GATEWAY}" --accounts-file .demo/accounts.toml --shutdown-grace-seconds 2 \
  --inventory-events-queue-url "${EVENTS_QUEUE}" --audit-log .demo/audit.jsonl

# Each example is printed exactly as you can paste it, then run. Long answers are saved in
# .demo/NAME.json and summarised by the lines matching PATTERN; EXPECT must appear in the answer
# (so the demo fails loudly if an example stops working).
example() { # NAME COMMAND [PATTERN] [EXPECT]
  printf '\n$ %s\n' "$2"
  eval "$2" > ".demo/$1.json" 2>&1 || true
  if [ -n "${3:-}" ]; then
    grep -E "$3" ".demo/$1.json" || true
    echo "(full answer: .demo/$1.json)"
  else
    cat ".demo/$1.json"
  fi
  if [ -n "${4:-}" ] && ! grep -q -- "$4" ".demo/$1.json"; then
    echo "demo: example '$1' did not answer with: $4" >&2
    exit 1
  fi
}
G="-plaintext ${GATEWAY}"
example list ".venv/bin/grpcurl $G list" "" "ec2.v1.Ec2Service"
example health ".venv/bin/grpcurl $G grpc.health.v1.Health/Check" "" '"SERVING"'
example by-tag ".venv/bin/grpcurl -d '{\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}]}' $G ec2.v1.Ec2Service/DescribeInstances" \
  '"(instanceId|instanceType)"' '"instanceId"'
[ "$(grep -c '"instanceId"' .demo/by-tag.json)" = 3 ] || { echo "demo: expected 3 instances" >&2; exit 1; }
example page ".venv/bin/grpcurl -d '{\"max_results\": 5}' $G ec2.v1.Ec2Service/DescribeInstances" \
  '"(instanceId|nextToken)"' '"instanceId"'
example stream ".venv/bin/grpcurl -d '{\"max_results\": 5, \"limit\": 4}' $G ec2.v1.Ec2Service/DescribeInstancesStream" \
  '"(instanceId|nextToken)"' '"nextToken"'
example launch-dry-run ".venv/bin/grpcurl -d '{\"image_id\": \"ami-03cf127a\", \"dry_run\": true}' $G ec2.v1.Ec2Service/RunInstances" \
  "" '"dryRunSucceeded": true'
example launch ".venv/bin/grpcurl -d '{\"image_id\": \"ami-03cf127a\", \"instance_type\": \"t3.small\", \"min_count\": 2, \"tag_specifications\": [{\"resource_type\": \"instance\", \"tags\": [{\"key\": \"team\", \"value\": \"grpc\"}]}]}' $G ec2.v1.Ec2Service/RunInstances" \
  '"(reservationId|instanceId|instanceType)"' '"reservationId"'
# A lookup feeding a launch: Amazon's latest Amazon Linux 2023 image (the newest of the family)
# and a default subnet of us-east-1a, then that image launched there.
example images ".venv/bin/grpcurl -d '{\"owners\": [\"amazon\"], \"filters\": [{\"name\": \"name\", \"values\": [\"al2023-ami-2023*-x86_64\"]}]}' $G ec2.v1.Ec2Service/DescribeImages" \
  '"(imageId|creationDate)"' '"imageId"'
LATEST_IMAGE=$(.venv/bin/python -c 'import json, sys; print(max(json.load(sys.stdin)["images"], key=lambda i: i["creationDate"])["imageId"])' < .demo/images.json)
example subnets ".venv/bin/grpcurl -d '{\"filters\": [{\"name\": \"availability-zone\", \"values\": [\"us-east-1a\"]}, {\"name\": \"default-for-az\", \"values\": [\"true\"]}]}' $G ec2.v1.Ec2Service/DescribeSubnets" \
  '"(subnetId|availabilityZone)"' '"subnetId"'
LOOKUP_SUBNET=$(grep -o '"subnetId": "[^"]*"' .demo/subnets.json | head -1 | cut -d'"' -f4)
example lookup-launch ".venv/bin/grpcurl -d '{\"image_id\": \"${LATEST_IMAGE}\", \"subnet_id\": \"${LOOKUP_SUBNET}\", \"instance_type\": \"t3.micro\", \"tag_specifications\": [{\"resource_type\": \"instance\", \"tags\": [{\"key\": \"team\", \"value\": \"lookup\"}]}]}' $G ec2.v1.Ec2Service/RunInstances" \
  '"(instanceId|imageId|subnetId)"' "\"imageId\": \"${LATEST_IMAGE}\""
# The interface described "demo" stays, for the README's DescribeNetworkInterfaces example; a
# second one lives its whole life here: created, attached to a demo instance, detached, deleted.
example eni ".venv/bin/grpcurl -d '{\"subnet_id\": \"${SUBNET_ID}\", \"description\": \"demo\", \"secondary_private_ip_address_count\": 2}' $G ec2.v1.Ec2Service/CreateNetworkInterface" \
  '"(networkInterfaceId|privateIpAddress|status)"' '"networkInterfaceId"'
example enis ".venv/bin/grpcurl -d '{\"filters\": [{\"name\": \"description\", \"values\": [\"demo\"]}]}' $G ec2.v1.Ec2Service/DescribeNetworkInterfaces" \
  '"(networkInterfaceId|description)"' '"description": "demo"'
example scratch ".venv/bin/grpcurl -d '{\"subnet_id\": \"${SUBNET_ID}\", \"description\": \"scratch\"}' $G ec2.v1.Ec2Service/CreateNetworkInterface" \
  '"(networkInterfaceId|description)"' '"networkInterfaceId"'
ENI_ID=$(grep -o '"networkInterfaceId": "[^"]*"' .demo/scratch.json | head -1 | cut -d'"' -f4)
INSTANCE_ID=$(grep -o '"instanceId": "[^"]*"' .demo/by-tag.json | head -1 | cut -d'"' -f4)
example attach ".venv/bin/grpcurl -d '{\"network_interface_id\": \"${ENI_ID}\", \"instance_id\": \"${INSTANCE_ID}\", \"device_index\": 1}' $G ec2.v1.Ec2Service/AttachNetworkInterface" \
  "" '"attachmentId"'
ATTACHMENT_ID=$(grep -o '"attachmentId": "[^"]*"' .demo/attach.json | cut -d'"' -f4)
example detach ".venv/bin/grpcurl -d '{\"attachment_id\": \"${ATTACHMENT_ID}\"}' $G ec2.v1.Ec2Service/DetachNetworkInterface" \
  "" '{'
example delete-eni ".venv/bin/grpcurl -d '{\"network_interface_id\": \"${ENI_ID}\"}' $G ec2.v1.Ec2Service/DeleteNetworkInterface" \
  "" '{'
example preview ".venv/bin/grpcurl -d '{\"selection\": {\"filters\": [{\"name\": \"tag:team\", \"values\": [\"batch\"]}]}, \"preview\": true}' $G ec2.v1.Ec2Service/TerminateInstances" \
  "" '"matched": "2"'
example stop ".venv/bin/grpcurl -d '{\"selection\": {\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}], \"limit\": 2}}' $G ec2.v1.Ec2Service/StopInstances" \
  '"(instanceId|name|acted)"' '"acted": "2"'
example start ".venv/bin/grpcurl -d '{\"selection\": {\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}]}}' $G ec2.v1.Ec2Service/StartInstances" \
  '"(matched|acted)"' '"matched": "3"'
example tag ".venv/bin/grpcurl -d '{\"selection\": {\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}]}, \"tags\": [{\"key\": \"owner\", \"value\": \"me\"}]}' $G ec2.v1.Ec2Service/CreateTags" \
  '"(matched|acted)"' '"acted": "3"'
example wait ".venv/bin/grpcurl -max-time 20 -d '{\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}], \"target\": \"WAIT_TARGET_RUNNING\"}' $G ec2.v1.Ec2Service/WaitInstances" \
  '"(selected|ready|done)"' '"done": true'
example watch ".venv/bin/grpcurl -max-time 3 -d '{\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}]}' $G ec2.v1.Ec2Service/WatchInstances" \
  '"(type|instanceId|revision)"' 'WATCH_EVENT_TYPE_INITIAL_LIST_COMPLETE'
example from-view ".venv/bin/grpcurl -d '{\"filters\": [{\"name\": \"tag:team\", \"values\": [\"demo\"]}], \"max_staleness\": \"60s\"}' $G ec2.v1.Ec2Service/DescribeInstances" \
  '"(instanceId|staleness)"' '"staleness"'
# Another account and region: launched in dev / us-west-2, seen there and not at home.
example other-launch ".venv/bin/grpcurl -d '{\"account\": \"dev\", \"region\": \"us-west-2\", \"image_id\": \"ami-03cf127a\", \"tag_specifications\": [{\"resource_type\": \"instance\", \"tags\": [{\"key\": \"team\", \"value\": \"dev\"}]}]}' $G ec2.v1.Ec2Service/RunInstances" \
  '"(instanceId|availabilityZone|ownerId)"' '"ownerId": "111111111111"'
example other-account ".venv/bin/grpcurl -d '{\"account\": \"dev\", \"region\": \"us-west-2\", \"filters\": [{\"name\": \"tag:team\", \"values\": [\"dev\"]}]}' $G ec2.v1.Ec2Service/DescribeInstances" \
  '"(ownerId|instanceId|availabilityZone)"' '"availabilityZone": "us-west-2'
example not-at-home ".venv/bin/grpcurl -d '{\"filters\": [{\"name\": \"tag:team\", \"values\": [\"dev\"]}]}' $G ec2.v1.Ec2Service/DescribeInstances" \
  "" '{'
! grep -q '"instanceId"' .demo/not-at-home.json || { echo "demo: dev's instance showed up at home" >&2; exit 1; }
example unknown-account ".venv/bin/grpcurl -d '{\"account\": \"staging\"}' $G ec2.v1.Ec2Service/DescribeInstances" \
  "" '"field":"account"'
example empty-selection ".venv/bin/grpcurl -d '{\"selection\": {}}' $G ec2.v1.Ec2Service/StopInstances" \
  "" '"field":"selection"'
example not-found ".venv/bin/grpcurl -d '{\"instance_ids\": [\"i-0123456789abcdef0\"]}' $G ec2.v1.Ec2Service/DescribeInstances" \
  "" "InvalidInstanceID.NotFound"
example invalid ".venv/bin/grpcurl -d '{\"max_results\": 2}' $G ec2.v1.Ec2Service/DescribeInstances" \
  "" '"field":"max_results"'
# The audit trail: the stop's event (and its batch's) with the ids its filter resolved to and
# moto's request ids.
example audit "grep '\"rpc\":\"StopInstances\"' .demo/audit.jsonl" '"stage"' '"requestID"'

if $once; then
  echo; echo "demo: all examples ran; stopping (--once)." >&2
  exit 0
fi
cat >&2 <<MSG

demo: ec2-grpc is serving on ${GATEWAY} against moto on 127.0.0.1:${MOTO_PORT}.
Paste the README's grpcurl examples in another terminal, from this directory$( [ "${GATEWAY_PORT}" = 50051 ] || echo " (with ${GATEWAY} for 127.0.0.1:50051)"); logs are in .demo/.
Press Ctrl-C to stop both.
MSG
wait
