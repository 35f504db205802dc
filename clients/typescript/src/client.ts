// A client of the gateway over Connect's gRPC transport, with the caller's bearer token on every
// call when it has one.

import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransportOptions } from "@connectrpc/connect-node";
import { Ec2Service } from "./gen/ec2/v1/ec2_service_pb.js";

/** The typed Ec2Service client: one async method per RPC, async iterables for streams. */
export type Ec2Client = Client<typeof Ec2Service>;

/** Where the gateway is and who is calling. */
export interface ConnectOptions {
  /** The gateway's base URL: "http://127.0.0.1:50051" (plaintext) or "https://..." (TLS). */
  baseUrl: string;
  /** A bearer token, sent as `authorization: Bearer ...` on every call. */
  token?: string;
  /** More transport options (TLS settings, interceptors, timeouts), passed through. */
  transport?: Partial<Omit<GrpcTransportOptions, "baseUrl">>;
}

/** Creates an Ec2Service client speaking gRPC (HTTP/2) to the gateway. */
export function connect(options: ConnectOptions): Ec2Client {
  const interceptors: Interceptor[] = [...(options.transport?.interceptors ?? [])];
  const token = options.token;
  if (token !== undefined) {
    interceptors.push((next) => (request) => {
      request.header.set("authorization", `Bearer ${token}`);
      return next(request);
    });
  }
  const transport = createGrpcTransport({ ...options.transport, baseUrl: options.baseUrl, interceptors });
  return createClient(Ec2Service, transport);
}
