/**
 * Lying endpoints for relayer tests: a JSON-RPC proxy in front of an EVM node and a gRPC
 * proxy in front of a Fabric gateway, each passing traffic through unchanged except what a
 * test's `forge` hook rewrites (and, on JSON-RPC, what its `intercept` hook answers itself). They model a compromised or malicious RPC provider / peer.
 */
import * as grpc from "@grpc/grpc-js";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface JsonRpcCall {
  readonly method: string;
  readonly params: unknown[];
}

/** `forge(call, result)` returns the result the client sees (the real one by default). */
export type JsonRpcForge = (call: JsonRpcCall, result: unknown) => unknown;

/** `intercept(call)` answers a call without forwarding it (e.g. a dropped broadcast), or returns undefined to forward it. */
export type JsonRpcIntercept = (call: JsonRpcCall) => { result: unknown } | undefined | Promise<{ result: unknown } | undefined>;

export interface JsonRpcProxy {
  readonly url: string;
  forge: JsonRpcForge | null;
  intercept: JsonRpcIntercept | null;
  close(): Promise<void>;
}

export async function startJsonRpcProxy(target: string): Promise<JsonRpcProxy> {
  const proxy: JsonRpcProxy = { url: "", forge: null, intercept: null, close: async () => {} };
  const rewrite = (req: { method?: string; params?: unknown[] }, res: { result?: unknown }) => {
    if (!proxy.forge || res.result === undefined || typeof req.method !== "string") return res;
    return { ...res, result: proxy.forge({ method: req.method, params: req.params ?? [] }, res.result) };
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      try {
        const sent = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        const calls = (Array.isArray(sent) ? sent : [sent]) as { id?: unknown; method?: string; params?: unknown[] }[];
        const answered = new Map<unknown, unknown>();
        for (const c of calls) {
          const hit = proxy.intercept && typeof c.method === "string" ? await proxy.intercept({ method: c.method, params: c.params ?? [] }) : undefined;
          if (hit) answered.set(c, { jsonrpc: "2.0", id: c.id, result: hit.result });
        }
        const forwarded = calls.filter((c) => !answered.has(c));
        let upstreamAnswers: { id?: unknown }[] = [];
        if (forwarded.length > 0) {
          const body = JSON.stringify(Array.isArray(sent) ? forwarded : forwarded[0]);
          const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
          const answer = (await upstream.json()) as unknown;
          upstreamAnswers = (Array.isArray(answer) ? answer : [answer]) as { id?: unknown }[];
        }
        const answers = calls.map((c, i) => answered.get(c) ?? rewrite(c, (upstreamAnswers.find((a) => a.id === c.id) ?? upstreamAnswers[i]) as never));
        const out = Array.isArray(sent) ? answers : answers[0];
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

/** `forge(path, response bytes)` returns the response bytes the client sees. */
export type GrpcForge = (path: string, response: Buffer) => Buffer;

/**
 * `fault(path)` for a unary call: "drop" answers UNAVAILABLE without forwarding (the request
 * never reached the server), "lose-answer" forwards it and then answers UNAVAILABLE (the
 * server acted, the client never heard), null passes it through.
 */
export type GrpcFault = (path: string) => "drop" | "lose-answer" | null;

export interface GrpcProxy {
  readonly address: string;
  forge: GrpcForge | null;
  fault: GrpcFault | null;
  /** Unary calls per method path: as received from the client, and as forwarded to the server. */
  readonly received: Map<string, number>;
  readonly forwarded: Map<string, number>;
  close(): Promise<void>;
}

const pass = (b: Buffer) => b;

/** A byte-level proxy for one gRPC service's unary and server-streaming methods. */
export async function startGrpcProxy(target: string, service: string, unary: readonly string[], serverStreaming: readonly string[] = []): Promise<GrpcProxy> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const proxy: GrpcProxy = { address: "", forge: null, fault: null, received: new Map(), forwarded: new Map(), close: async () => {} };
  const count = (m: Map<string, number>, path: string) => m.set(path, (m.get(path) ?? 0) + 1);
  const unavailable = (details: string): grpc.ServiceError => Object.assign(new Error(details), { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() });
  const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const impl: grpc.UntypedServiceImplementation = {};
  const method = (name: string, responseStream: boolean) => ({
    path: `/${service}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: pass,
    requestDeserialize: pass,
    responseSerialize: pass,
    responseDeserialize: pass,
  });
  for (const name of unary) {
    const m = method(name, false);
    def[name] = m;
    impl[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      count(proxy.received, m.path);
      const fault = proxy.fault?.(m.path) ?? null;
      if (fault === "drop") return cb(unavailable("proxy: request dropped"));
      count(proxy.forwarded, m.path);
      client.makeUnaryRequest(m.path, pass, pass, call.request, call.metadata, { deadline: call.getDeadline() }, (err, res) => {
        if (err) return cb(err);
        if (fault === "lose-answer") return cb(unavailable("proxy: answer lost"));
        cb(null, proxy.forge ? proxy.forge(m.path, res!) : res!);
      });
    };
  }
  for (const name of serverStreaming) {
    const m = method(name, true);
    def[name] = m;
    impl[name] = (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const up = client.makeServerStreamRequest(m.path, pass, pass, call.request, call.metadata, { deadline: call.getDeadline() });
      up.on("data", (b: Buffer) => call.write(proxy.forge ? proxy.forge(m.path, b) : b));
      up.on("end", () => call.end());
      up.on("error", (err: grpc.ServiceError) => call.destroy(err));
      call.on("cancelled", () => up.cancel());
    };
  }
  const server = new grpc.Server();
  server.addService(def, impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return Object.assign(proxy, {
    address: `127.0.0.1:${port}`,
    close: async () => {
      client.close();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    },
  });
}

/** The Fabric Gateway service (Evaluate, Endorse, Submit, CommitStatus; ChaincodeEvents streamed). */
export function startGatewayProxy(target: string): Promise<GrpcProxy> {
  return startGrpcProxy(target, "gateway.Gateway", ["Evaluate", "Endorse", "Submit", "CommitStatus"], ["ChaincodeEvents"]);
}

/** The consortium node API (chains/consortium/consortium.proto). */
export function startConsortiumProxy(target: string): Promise<GrpcProxy> {
  return startGrpcProxy(target, "isthmus.consortium.v1.ConsortiumNode", ["GetStatus", "GetBlock", "GetTx", "GetAccount", "GetLock", "GetEvents", "SubmitTx", "WaitTx"]);
}
