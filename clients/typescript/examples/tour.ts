// A tour of the TypeScript kit against a running gateway: launch, describe, stream with a limit,
// a NOT_FOUND read as a typed error, a refused request's field violations, a launch in another
// account and region (with --account), and a burst of calls retried after the gateway's RetryInfo.
//
//   node examples/dist/tour.js --gateway http://127.0.0.1:50051 --image-id ami-... [--token T]
//     [--account ALIAS --region REGION]
//
// It prints one line per step and exits non-zero when a step does not behave as described.

import { parseArgs } from "node:util";
import { Code, ErrorReason, GatewayError, callWithRetry, connect } from "@ec2-grpc/client";

const NO_SUCH_INSTANCE = "i-0123456789abcdef0";

const { values: args } = parseArgs({
  options: {
    gateway: { type: "string" },
    "image-id": { type: "string" },
    token: { type: "string" },
    burst: { type: "string", default: "6" },
    account: { type: "string" },
    region: { type: "string", default: "" },
  },
});
if (args.gateway === undefined || args["image-id"] === undefined) {
  throw new Error("usage: tour.js --gateway URL --image-id AMI [--token TOKEN] [--burst N]");
}
const ec2 = connect({ baseUrl: args.gateway, token: args.token });
const retries: string[] = [];
const onRetry = (error: GatewayError, delayMs: number) =>
  retries.push(`${Code[error.code]} ${error.reasonName} after ${(delayMs / 1000).toFixed(2)} s`);

// Launch: three instances, tagged, in one call.
const launched = await callWithRetry(
  () =>
    ec2.runInstances({
      imageId: args["image-id"],
      instanceType: "t3.micro",
      minCount: 3,
      maxCount: 3,
      tagSpecifications: [{ resourceType: "instance", tags: [{ key: "team", value: "kit-typescript" }] }],
    }),
  { onRetry },
);
const ids = launched.instances.map((i) => i.instanceId);
console.log(`typescript: launched ${ids.length} instances: ${ids.join(", ")}`);

// Describe: the first one, by id.
const described = await callWithRetry(() => ec2.describeInstances({ instanceIds: ids.slice(0, 1) }), { onRetry });
const instance = described.reservations[0]?.instances[0];
if (instance === undefined) {
  throw new Error(`${ids[0]} was not described`);
}
console.log(
  `typescript: described ${instance.instanceId}: ${instance.state?.name}, ${instance.instanceType}, ` +
    `tags ${instance.tags.map((t) => `${t.key}=${t.value}`).join(",")}`,
);

// Stream: every instance tagged team=kit-typescript, at most two, five per EC2 page.
const streamed: string[] = [];
for await (const message of ec2.describeInstancesStream({
  filters: [{ name: "tag:team", values: ["kit-typescript"] }],
  maxResults: 5,
  limit: 2,
})) {
  streamed.push(...message.reservations.flatMap((r) => r.instances.map((i) => i.instanceId)));
}
if (streamed.length !== 2 || !streamed.every((id) => ids.includes(id))) {
  throw new Error(`streamed ${streamed.join(", ")}`);
}
console.log(`typescript: streamed ${streamed.length} of ${ids.length} instances (limit 2)`);

// A typed error: the reason is a generated enum value, EC2's code is in the metadata.
const error = await ec2.describeInstances({ instanceIds: [NO_SUCH_INSTANCE] }).then(
  () => {
    throw new Error(`${NO_SUCH_INSTANCE} was found`);
  },
  (thrown: unknown) => GatewayError.from(thrown),
);
if (error.reason !== ErrorReason.EC2_NOT_FOUND) {
  throw new Error(`expected EC2_NOT_FOUND, got ${error.reasonName}: ${error.message}`);
}
console.log(
  `typescript: ${NO_SUCH_INSTANCE}: code ${Code[error.code]}, reason ${error.reasonName}, ` +
    `aws_code ${error.awsCode}, request_id ${error.requestId}`,
);

// A request the gateway refuses before any EC2 call names each field it got wrong.
const refused = await callWithRetry(() => ec2.describeInstances({ maxResults: 3 }), { onRetry }).then(
  () => {
    throw new Error("maxResults 3 (EC2 takes 5 to 1000) was accepted");
  },
  (thrown: unknown) => GatewayError.from(thrown),
);
if (refused.reason !== ErrorReason.INVALID_REQUEST || refused.violations.length === 0) {
  throw new Error(`expected INVALID_REQUEST with field violations, got ${refused.message}`);
}
console.log(
  `typescript: refused: code ${Code[refused.code]}, reason ${refused.reasonName}, fields ` +
    refused.violations.map((v) => `${v.field} (${v.description})`).join("; "),
);

// Another account and region: the same door, two more fields. What is launched there is
// described there, and the home account does not see it.
if (args.account !== undefined) {
  const account = args.account;
  const region = args.region ?? "";
  const mark = [{ name: "tag:team", values: ["kit-typescript-elsewhere"] }];
  const other = await callWithRetry(
    () =>
      ec2.runInstances({
        imageId: args["image-id"],
        account,
        region,
        tagSpecifications: [{ resourceType: "instance", tags: [{ key: "team", value: "kit-typescript-elsewhere" }] }],
      }),
    { onRetry },
  );
  const there = await callWithRetry(() => ec2.describeInstances({ account, region, filters: mark }), { onRetry });
  const atHome = await callWithRetry(() => ec2.describeInstances({ filters: mark }), { onRetry });
  const launchedThere = other.instances.map((i) => i.instanceId);
  const found = there.reservations.flatMap((r) => r.instances.map((i) => i.instanceId));
  if (found.join() !== launchedThere.join() || atHome.reservations.length !== 0) {
    throw new Error(`in ${account}: found ${found.join(", ")}; at home ${atHome.reservations.length}`);
  }
  console.log(
    `typescript: in account ${account} / ${region}: launched ${launchedThere.join(", ")}, ` +
      `owner ${other.ownerId}, described there, not at home`,
  );
}

// A burst: calls the gateway refuses with RetryInfo are tried again after its delay.
const burst = Number(args.burst);
for (let i = 0; i < burst; i++) {
  await callWithRetry(() => ec2.describeInstances({ instanceIds: ids }), { onRetry });
}
console.log(
  `typescript: ${burst} describes answered, ${retries.length} retried after RetryInfo: ` +
    `${retries.join("; ") || "none"}`,
);
console.log("typescript: tour complete");
