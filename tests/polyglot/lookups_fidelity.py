"""Lookup fidelity: the gateway's eleven lookup RPCs answer, field for field, what boto3 reads
from the same EC2 endpoint (moto).

It seeds moto through boto3 (a tagged VPC, subnets, security groups, a key pair, launch
templates with versions, instances, an image made from one of them; every name carries a
per-run suffix, so a shared moto is fine), then asks each lookup twice: the gateway through
grpcurl (server reflection) and boto3 directly, with the same parameters, filters included.
Every question is read whole (following next tokens) on both sides; where the RPC pages, both
sides are also read page by page with a small `max_results` and the concatenations and page
sizes compared. moto ignores MaxResults for most describes, and stops the launch template ones
after one page with no NextToken: both are detected and said. The seeded resources are deleted
at the end (best effort).

Both answers are normalized to one form before comparing: keys squashed (lowercase, no
underscores: boto3 `ImageId` and proto JSON `imageId` are both `imageid`), None / "" / [] / {}
dropped (proto3 JSON omits them; boto3 omits absent members), false and 0 kept. Comparing then
treats a boto3 datetime and an RFC 3339 string as the same UTC instant (to the second), a number
and proto JSON's int64-as-string as the same number (floats to 1e-9 relative), and everything else
must be equal, recursively, list order included, with no key on one side only.
DescribeKeyPairs also proves no private key material leaves the gateway.

    .venv/bin/python tests/polyglot/lookups_fidelity.py MOTO_URL GATEWAY_ADDR
    .venv/bin/python tests/polyglot/lookups_fidelity.py http://127.0.0.1:5077 127.0.0.1:50077

Prints one `fidelity:` line per RPC and exits 0 when everything is equal; a mismatch prints the
RPC, the item and the differing path with both values, and any failed call says what failed;
either way the other RPCs still run, and the exit code is 1.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import math
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

SERVICE = "ec2.v1.Ec2Service"
MAX_PAGES = 200


# ---------------------------------------------------------------------------------------------
# The normalize / compare core
# ---------------------------------------------------------------------------------------------

def squash(key: str) -> str:
    """`ImageId`, `imageId` and `image_id` are all `imageid`."""
    return key.replace("_", "").lower()


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def normalize(value: Any) -> Any:
    """Squashed keys, empties dropped (after normalizing what they hold), datetimes in UTC to the
    second; everything else as it is (types are reconciled when comparing)."""
    if isinstance(value, dict):
        out = {}
        for key, child in value.items():
            child = normalize(child)
            if not is_empty(child):
                out[squash(key)] = child
        return out
    if isinstance(value, list):
        return [normalize(child) for child in value]
    if isinstance(value, datetime.datetime):
        return utc_seconds(value)
    return value


def utc_seconds(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0)


def parse_instant(text: str) -> datetime.datetime | None:
    """An RFC 3339 string (protobuf JSON's Timestamp) as a UTC instant to the second."""
    try:
        return utc_seconds(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def parse_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def scalars_equal(ours: Any, theirs: Any) -> bool:
    """`ours` from boto3, `theirs` from the gateway's JSON."""
    if isinstance(ours, datetime.datetime):
        return isinstance(theirs, str) and parse_instant(theirs) == ours
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, (int, float)):
        number = parse_number(theirs)
        if number is None:
            return False
        if isinstance(ours, float) or isinstance(number, float):
            return math.isclose(ours, number, rel_tol=1e-9, abs_tol=0.0)
        return ours == number
    return type(ours) is type(theirs) and ours == theirs


def differences(ours: Any, theirs: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every (path, boto3 value, gateway value) where two normalized values differ."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(ours.keys() | theirs.keys()):
            where = f"{path}.{key}" if path else key
            if key not in theirs:
                yield where, ours[key], "<absent>"
            elif key not in ours:
                yield where, "<absent>", theirs[key]
            else:
                yield from differences(ours[key], theirs[key], where)
    elif isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            yield f"{path} (length)", len(ours), len(theirs)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            yield from differences(a, b, f"{path}[{i}]")
    elif isinstance(ours, (dict, list)) or isinstance(theirs, (dict, list)):
        yield path, ours, theirs
    elif not scalars_equal(ours, theirs):
        yield path, ours, theirs


# ---------------------------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------------------------

class CallFailed(Exception):
    """A grpcurl or boto3 call that did not answer."""


@dataclass
class Gateway:
    address: str
    grpcurl: str
    transcript: list[str] = field(default_factory=list)  # every raw answer, for leak checks

    def call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        argv = [self.grpcurl, "-plaintext", "-format", "json", "-max-msg-sz", str(64 << 20),
                "-d", json.dumps(request), self.address, f"{SERVICE}/{method}"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired as e:
            raise CallFailed(f"grpcurl {method} {json.dumps(request)}: timed out") from e
        if done.returncode != 0:
            raise CallFailed(f"grpcurl {method} {json.dumps(request)}: exit {done.returncode}: "
                             f"{done.stderr.strip()}")
        self.transcript.append(done.stdout)
        answer: dict[str, Any] = json.loads(done.stdout or "{}")
        return answer


@dataclass
class Case:
    """One question asked of both sides: the gateway's JSON request and boto3's kwargs."""
    label: str
    request: dict[str, Any]
    kwargs: dict[str, Any]
    page: int | None = None  # page through both sides with this max_results


@dataclass
class Lookup:
    method: str        # the RPC, and the EC2 action
    boto3: str         # boto3's method
    items: str         # the answer's list member in boto3 (the gateway's is its lowerCamel)
    ids: tuple[str, ...]  # squashed members naming an item in messages
    cases: Callable[[Seed], list[Case]]


# One call of a describe: (max_results or None, next_token or "") -> (items, next token).
Fetch = Callable[[int | None, str], tuple[list[Any], str]]


@dataclass
class Read:
    items: list[Any]
    sizes: list[int]  # items per page


def read(fetch: Fetch, page: int | None) -> Read:
    """Every page of one question (a next token is followed even when no page size was asked)."""
    items: list[Any] = []
    sizes: list[int] = []
    token = ""
    while len(sizes) < MAX_PAGES:
        got, token = fetch(page, token)
        items += got
        sizes.append(len(got))
        if not token:
            return Read(items, sizes)
    raise CallFailed(f"still a next token after {MAX_PAGES} pages")


def gateway_fetch(gateway: Gateway, lookup: Lookup, case: Case) -> Fetch:
    member = lookup.items[0].lower() + lookup.items[1:]

    def fetch(page: int | None, token: str) -> tuple[list[Any], str]:
        request = dict(case.request)
        if page is not None:
            request["maxResults"] = page
        if token:
            request["nextToken"] = token
        answer = gateway.call(lookup.method, request)
        return answer.get(member, []), answer.get("nextToken", "")
    return fetch


def boto3_fetch(ec2: Any, lookup: Lookup, case: Case) -> Fetch:
    method = getattr(ec2, lookup.boto3)

    def fetch(page: int | None, token: str) -> tuple[list[Any], str]:
        kwargs = dict(case.kwargs)
        if page is not None:
            kwargs["MaxResults"] = page
        if token:
            kwargs["NextToken"] = token
        try:
            answer = method(**kwargs)
        except Exception as e:  # botocore's ClientError, ParamValidationError, connection errors
            raise CallFailed(f"boto3 {lookup.boto3}({kwargs}): {e}") from e
        return answer[lookup.items], answer.get("NextToken", "")
    return fetch


def item_id(lookup: Lookup, item: dict[str, Any]) -> str:
    return "/".join(str(item.get(key, "?")) for key in lookup.ids)


def compare(lookup: Lookup, ours: list[Any], theirs: list[Any]) -> list[str]:
    """The mismatches between boto3's items (`ours`) and the gateway's (`theirs`)."""
    mine = [normalize(item) for item in ours]
    gateway = [normalize(item) for item in theirs]
    mine_ids = [item_id(lookup, item) for item in mine]
    gateway_ids = [item_id(lookup, item) for item in gateway]
    mismatches = []
    if mine_ids != gateway_ids:
        mismatches.append(f"items differ (ids, in order): boto3 {mine_ids} gateway {gateway_ids}")
    by_id = dict(zip(gateway_ids, gateway))
    for name, item in zip(mine_ids, mine):
        if name in by_id:
            mismatches += [f"item {name}: {path}: boto3 {a!r} gateway {b!r}"
                           for path, a, b in differences(item, by_id[name])]
    return mismatches


# ---------------------------------------------------------------------------------------------
# What moto is seeded with
# ---------------------------------------------------------------------------------------------

@dataclass
class Seed:
    run: str
    vpc: str
    subnets: list[str]
    groups: list[str]
    web_group: str
    key_name: str
    key_pair_id: str
    key_material: str
    templates: list[str]
    template_name: str
    instances: list[str]
    zone: str  # the instances'
    stopped: str
    image: str
    amazon_images: str  # a name filter over amazon's images


def tags(run: str, name: str, **extra: str) -> list[dict[str, str]]:
    pairs = {"Name": name, "fid-run": run, **extra}
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def spec(kind: str, run: str, name: str, **extra: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": tags(run, name, **extra)}]


def seed(ec2: Any, undo: list[Callable[[], Any]]) -> Seed:
    """Creates this run's resources; `undo` collects their deletions (run in reverse)."""
    run = uuid.uuid4().hex[:10]
    prefix = f"fid-{run}"
    amazon_images = "al2023-ami-2023*"
    amis = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": [amazon_images]},
        {"Name": "architecture", "Values": ["x86_64"]}])["Images"]
    if not amis:
        amis = ec2.describe_images(Owners=["amazon"])["Images"]
    ami = amis[0]["ImageId"]

    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16", TagSpecifications=spec(
        "vpc", run, prefix, env="fidelity"))["Vpc"]["VpcId"]
    undo.append(functools.partial(ec2.delete_vpc, VpcId=vpc))
    subnets = []
    zones = ["us-east-1f", "us-east-1e", "us-east-1d"]  # the instances go to the first
    for i, zone in enumerate(zones):
        team = "blue" if i == 0 else "red"
        subnet = ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=zone,
            TagSpecifications=spec("subnet", run, f"{prefix}-{zone}", team=team),
        )["Subnet"]["SubnetId"]
        undo.append(functools.partial(ec2.delete_subnet, SubnetId=subnet))
        subnets.append(subnet)

    groups = []
    for i in range(5):  # with the VPC's default group, 6: two pages of 5
        group = ec2.create_security_group(
            GroupName=f"{prefix}-sg{i}", Description=f"fidelity group {i}", VpcId=vpc,
            TagSpecifications=spec("security-group", run, f"{prefix}-sg{i}"))["GroupId"]
        undo.append(functools.partial(ec2.delete_security_group, GroupId=group))
        groups.append(group)
    web_group = groups[0]
    ec2.authorize_security_group_ingress(GroupId=web_group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "UserIdGroupPairs": [{"GroupId": groups[1], "Description": "ssh from sg1"}]}])

    key = ec2.create_key_pair(KeyName=prefix, TagSpecifications=spec("key-pair", run, prefix))
    undo.append(functools.partial(ec2.delete_key_pair, KeyName=prefix))

    templates = []
    for t in range(2):
        name = f"{prefix}-lt{t}"
        data = {"ImageId": ami, "InstanceType": "t3.micro", "KeyName": prefix,
                "SecurityGroupIds": [web_group],
                "UserData": base64.b64encode(b"#!/bin/sh\necho fidelity\n").decode(),
                "TagSpecifications": spec("instance", run, f"{name}-instance")}
        template = ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData=data, VersionDescription="first",
            TagSpecifications=spec("launch-template", run, name))["LaunchTemplate"]
        undo.append(functools.partial(ec2.delete_launch_template,
                                      LaunchTemplateId=template["LaunchTemplateId"]))
        templates.append(template["LaunchTemplateId"])
    for version, size in [("second", "t3.small"), ("third", "m5.large")]:
        ec2.create_launch_template_version(
            LaunchTemplateId=templates[0], SourceVersion="1", VersionDescription=version,
            LaunchTemplateData={"InstanceType": size, "EbsOptimized": size == "m5.large"})

    instances = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=ami, MinCount=6, MaxCount=6, InstanceType="t3.micro", SubnetId=subnets[0],
        SecurityGroupIds=[web_group], KeyName=prefix,
        TagSpecifications=spec("instance", run, f"{prefix}-instance"))["Instances"]]
    undo.append(functools.partial(ec2.terminate_instances, InstanceIds=instances))
    stopped = instances[-1]
    ec2.stop_instances(InstanceIds=[stopped])

    image = ec2.create_image(InstanceId=instances[0], Name=f"{prefix}-image",
                             Description="fidelity image",
                             TagSpecifications=spec("image", run, f"{prefix}-image"))["ImageId"]
    undo.append(functools.partial(ec2.deregister_image, ImageId=image))

    return Seed(run=run, vpc=vpc, subnets=subnets, groups=groups, web_group=web_group,
                key_name=prefix, key_pair_id=key["KeyPairId"], key_material=key["KeyMaterial"],
                templates=templates, template_name=f"{prefix}-lt0", instances=instances,
                zone=zones[0], stopped=stopped, image=image, amazon_images=amazon_images)


# ---------------------------------------------------------------------------------------------
# The lookups and their questions
# ---------------------------------------------------------------------------------------------

def ask(label: str, page: int | None = None, filters: dict[str, list[str]] | None = None,
        **params: Any) -> Case:
    """One question in the gateway's JSON names (lowerCamel); boto3's are the same, capitalized."""
    request = dict(params)
    if filters:
        request["filters"] = [{"name": name, "values": values} for name, values in filters.items()]
    kwargs = {key[0].upper() + key[1:]: value for key, value in params.items()}
    if filters:
        kwargs["Filters"] = [{"Name": name, "Values": values} for name, values in filters.items()]
    return Case(label, request, kwargs, page)


def image_cases(s: Seed) -> list[Case]:
    return [
        ask("image_ids", imageIds=[s.image]),
        ask(f"owners amazon, filter name={s.amazon_images}", page=5, owners=["amazon"],
            filters={"name": [s.amazon_images]}),
        ask("filter tag:fid-run", filters={"tag:fid-run": [s.run]}),
    ]


def subnet_cases(s: Seed) -> list[Case]:
    return [
        ask("filter vpc-id", filters={"vpc-id": [s.vpc]}),
        ask("filter vpc-id, tag:team=blue", filters={"vpc-id": [s.vpc], "tag:team": ["blue"]}),
        ask("filter default-for-az=true", page=5, filters={"default-for-az": ["true"]}),
        ask("subnet_ids", subnetIds=s.subnets[1:]),
    ]


def group_cases(s: Seed) -> list[Case]:
    return [
        ask("filter vpc-id", page=5, filters={"vpc-id": [s.vpc]}),
        ask("group_ids", groupIds=[s.web_group]),
        ask("filter tag:fid-run, ip-permission.from-port=443",
            filters={"tag:fid-run": [s.run], "ip-permission.from-port": ["443"]}),
    ]


def vpc_cases(s: Seed) -> list[Case]:
    return [
        ask("vpc_ids", vpcIds=[s.vpc]),
        ask("filter tag:fid-run", page=5, filters={"tag:fid-run": [s.run]}),
        ask("filter is-default=true", filters={"is-default": ["true"]}),
    ]


def zone_cases(s: Seed) -> list[Case]:
    return [
        ask("all"),
        ask("filter zone-name", filters={"zone-name": ["us-east-1a", "us-east-1c"]}),
        ask("all_availability_zones", allAvailabilityZones=True),
    ]


def type_cases(s: Seed) -> list[Case]:
    named = ["t3.micro", "m5.large", "p4d.24xlarge", "g4dn.xlarge", "inf1.xlarge", "c6g.medium",
             "i3.large"]
    return [
        ask("instance_types", instanceTypes=named),
        ask("filter instance-type=t3.*", filters={"instance-type": ["t3.*"]}),
        ask("all", page=100),
    ]


def offering_cases(s: Seed) -> list[Case]:
    return [
        ask("location_type availability-zone, filter location=us-east-1a", page=5,
            locationType="availability-zone", filters={"location": ["us-east-1a"]}),
        ask("filter instance-type=t3.micro", filters={"instance-type": ["t3.micro"]}),
    ]


def template_cases(s: Seed) -> list[Case]:
    return [
        ask("filter tag:fid-run", page=1, filters={"tag:fid-run": [s.run]}),
        ask("launch_template_ids", launchTemplateIds=s.templates[:1]),
        ask("launch_template_names", launchTemplateNames=[s.template_name]),
    ]


def version_cases(s: Seed) -> list[Case]:
    return [
        ask("launch_template_id", page=1, launchTemplateId=s.templates[0]),
        ask("launch_template_name, versions $Latest and 1", launchTemplateName=s.template_name,
            versions=["$Latest", "1"]),
        ask("min_version 2", launchTemplateId=s.templates[0], minVersion="2"),
        ask("filter instance-type=t3.small", launchTemplateId=s.templates[0],
            filters={"instance-type": ["t3.small"]}),  # moto ignores it: all versions
    ]


def key_cases(s: Seed) -> list[Case]:
    return [
        ask("key_names", keyNames=[s.key_name]),
        ask("filter tag:fid-run", filters={"tag:fid-run": [s.run]}),
        ask("key_pair_ids, include_public_key", keyPairIds=[s.key_pair_id],
            includePublicKey=True),
    ]


def status_cases(s: Seed) -> list[Case]:
    # EC2 refuses MaxResults with InstanceIds (and so does the gateway): the paged question
    # is by zone, so it reads every instance there, not only this run's.
    return [
        ask("instance_ids", instanceIds=s.instances),
        ask("instance_ids, include_all_instances", instanceIds=s.instances,
            includeAllInstances=True),
        ask("include_all_instances, filter instance-state-name=stopped", instanceIds=s.instances,
            includeAllInstances=True, filters={"instance-state-name": ["stopped"]}),
        ask(f"include_all_instances, filter availability-zone={s.zone}", page=5,
            includeAllInstances=True, filters={"availability-zone": [s.zone]}),
    ]


LOOKUPS = [
    Lookup("DescribeImages", "describe_images", "Images", ("imageid",), image_cases),
    Lookup("DescribeSubnets", "describe_subnets", "Subnets", ("subnetid",), subnet_cases),
    Lookup("DescribeSecurityGroups", "describe_security_groups", "SecurityGroups",
           ("groupid",), group_cases),
    Lookup("DescribeVpcs", "describe_vpcs", "Vpcs", ("vpcid",), vpc_cases),
    Lookup("DescribeAvailabilityZones", "describe_availability_zones", "AvailabilityZones",
           ("zonename",), zone_cases),
    Lookup("DescribeInstanceTypes", "describe_instance_types", "InstanceTypes",
           ("instancetype",), type_cases),
    Lookup("DescribeInstanceTypeOfferings", "describe_instance_type_offerings",
           "InstanceTypeOfferings", ("instancetype", "location"), offering_cases),
    Lookup("DescribeLaunchTemplates", "describe_launch_templates", "LaunchTemplates",
           ("launchtemplateid",), template_cases),
    Lookup("DescribeLaunchTemplateVersions", "describe_launch_template_versions",
           "LaunchTemplateVersions", ("launchtemplateid", "versionnumber"), version_cases),
    Lookup("DescribeKeyPairs", "describe_key_pairs", "KeyPairs", ("keypairid",), key_cases),
    Lookup("DescribeInstanceStatus", "describe_instance_status", "InstanceStatuses",
           ("instanceid",), status_cases),
]


def leaks(s: Seed, transcript: list[str]) -> list[str]:
    """Private key material anywhere in the gateway's raw answers: the KeyMaterial
    create_key_pair returned (as is, JSON-escaped, or any line of its body), or "PRIVATE KEY"."""
    material = s.key_material.strip()
    markers = {"PRIVATE KEY", material, json.dumps(material)[1:-1]}
    markers |= {line for line in material.splitlines()
                if len(line) >= 40 and not line.startswith("-----")}
    found = {marker[:24] for answer in transcript for marker in markers if marker in answer}
    return [f"key material in the gateway's answer: {marker!r}..." for marker in sorted(found)]


def paging_note(page: int, full: Read, paged: Read) -> str:
    """What paging looked like, moto's liberties included."""
    if max(paged.sizes) > page:
        return f"by {page}: moto ignores MaxResults, 1 page (full list compared)"
    if len(paged.items) < len(full.items):
        return (f"by {page}: moto stops after {len(paged.items)} with no NextToken "
                f"(that page compared, and the full list unpaged)")
    return f"by {page}: {len(paged.sizes)} page{'s' * (len(paged.sizes) > 1)} {paged.sizes}"


def check(lookup: Lookup, s: Seed, ec2: Any, gateway: Gateway) -> tuple[int, list[str]]:
    """Asks every case of one lookup of both sides: (items compared, problems)."""
    compared, problems, notes = 0, [], []
    gateway.transcript.clear()
    for case in lookup.cases(s):
        ours, theirs = boto3_fetch(ec2, lookup, case), gateway_fetch(gateway, lookup, case)
        try:
            full = read(ours, None)
            problems += [f"[{case.label}] MISMATCH {m}"
                         for m in compare(lookup, full.items, read(theirs, None).items)]
            note = f"{case.label}: {len(full.items)}"
            if case.page is not None:
                paged, gateway_paged = read(ours, case.page), read(theirs, case.page)
                problems += [f"[{case.label}, paged by {case.page}] MISMATCH {m}"
                             for m in compare(lookup, paged.items, gateway_paged.items)]
                if paged.sizes != gateway_paged.sizes:
                    problems.append(f"[{case.label}, paged by {case.page}] MISMATCH page sizes: "
                                    f"boto3 {paged.sizes} gateway {gateway_paged.sizes}")
                note += f", paged {paging_note(case.page, full, paged)}"
        except CallFailed as e:
            problems.append(f"[{case.label}] FAILED {e}")
            continue
        if not full.items:
            problems.append(f"[{case.label}] FAILED boto3 read no items: nothing compared")
        compared += len(full.items)
        notes.append(note)
    if lookup.method == "DescribeKeyPairs" and gateway.transcript:
        problems += [f"LEAK {leak}" for leak in leaks(s, gateway.transcript)]
        notes.append("no key material in the gateway's answers")
    verdict = "equal" if not problems else "compared, NOT all equal"
    detail = f" ({'; '.join(notes)})" if notes else ""
    print(f"fidelity: {lookup.method}: {compared} items {verdict}{detail}")
    return compared, problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} MOTO_URL GATEWAY_ADDR", file=sys.stderr)
        return 2
    moto_url, address = argv[1], argv[2]
    grpcurl = Path(sys.executable).parent / "grpcurl"
    gateway = Gateway(address, str(grpcurl) if grpcurl.exists() else shutil.which("grpcurl")
                      or "grpcurl")
    ec2 = boto3.client("ec2", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    undo: list[Callable[[], Any]] = []
    try:
        try:
            s = seed(ec2, undo)
        except Exception as e:
            print(f"fidelity: seeding moto failed: {type(e).__name__}: {e}")
            return 1
        total, failed = 0, 0
        for lookup in LOOKUPS:
            compared, problems = check(lookup, s, ec2, gateway)
            total += compared
            for problem in problems:
                print(f"fidelity: {lookup.method}: {problem}")
            failed += bool(problems)
        if failed:
            print(f"fidelity: {failed} of {len(LOOKUPS)} lookups differ ({total} items compared)")
            return 1
        print(f"fidelity: {len(LOOKUPS)} lookups, {total} items compared, all equal")
        return 0
    finally:
        for step in reversed(undo):  # best effort: moto may be shared
            try:
                step()
            except Exception:
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
