// TypeScript client kit for the ec2-grpc gateway: the generated contract (messages, enums and
// the Ec2Service descriptor, from proto/ with protoc-gen-es) and what every caller needs around
// it: a client with the caller's token, GatewayError for the gateway's rich errors, and
// callWithRetry for the calls the gateway asks to be retried.

export { connect, type ConnectOptions, type Ec2Client } from "./client.js";
export { DOMAIN, GatewayError, type FieldViolation } from "./errors.js";
export { RETRYABLE, callWithRetry, type RetryOptions } from "./retry.js";
export * from "./gen/ec2/v1/actions_pb.js";
export * from "./gen/ec2/v1/common_pb.js";
export * from "./gen/ec2/v1/ec2_service_pb.js";
export * from "./gen/ec2/v1/error_reason_pb.js";
export * from "./gen/ec2/v1/instance_pb.js";
export * from "./gen/ec2/v1/inventory_pb.js";
export * from "./gen/ec2/v1/network_interface_pb.js";
export * from "./gen/ec2/v1/specifications_pb.js";
export { Code } from "@connectrpc/connect";
