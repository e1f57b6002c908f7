/**
 * What gRPC and ECDSA alone cost on this machine, measured in the same run as the Fabric
 * bench: a grpc-js echo server in a child process (raw bytes, no protobuf, 16 calls in
 * flight like the bench's clients) gives CPU µs per unary call on each side and per
 * bidi-stream message round trip on each side; OpenSSL gives P-256 sign and verify.
 * `fabricFloor` turns them into the least CPU a Fabric transaction can cost each process
 * with the protocol's messages and signatures and nothing else (no protobuf, no policy, no
 * simulation, no ordering, no commit), to print beside what the network really costs.
 *
 * Run as a child with "--echo-server": serves, prints its port, answers "cpu" on stdin.
 */
import { fork } from "node:child_process";
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";

const bytes = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
const SERVICE = {
  echo: { path: "/isthmus.bench.Echo/Unary", requestStream: false, responseStream: false, ...bytes },
  chat: { path: "/isthmus.bench.Echo/Stream", requestStream: true, responseStream: true, ...bytes },
} as unknown as grpc.ServiceDefinition;

type Cpu = { user: number; system: number };
const us = (a: Cpu, b: Cpu) => b.user + b.system - a.user - a.system;

export interface GrpcFloor {
  readonly unaryServerUs: number;
  readonly unaryClientUs: number;
  readonly streamRoundTripServerUs: number;
  readonly streamRoundTripClientUs: number;
  readonly p256SignUs: number;
  readonly p256VerifyUs: number;
}

/** Measures the floor costs: `calls` unary calls and `calls` stream round trips of `payloadBytes`. */
export async function measureGrpcFloor(calls = 6000, payloadBytes = 2000): Promise<GrpcFloor> {
  const child = fork(fileURLToPath(import.meta.url), ["--echo-server"], { execArgv: ["--import", "tsx"], stdio: ["pipe", "pipe", "inherit", "ipc"] });
  try {
    const port = await new Promise<number>((res, rej) => {
      child.once("message", (m) => res((m as { port: number }).port));
      child.once("exit", () => rej(new Error("echo server exited")));
    });
    const serverCpu = () =>
      new Promise<Cpu>((res) => {
        child.once("message", (m) => res((m as { cpu: Cpu }).cpu));
        child.send("cpu");
      });
    const Client = grpc.makeGenericClientConstructor(SERVICE, "Echo");
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      echo: (b: Buffer, cb: (err: Error | null, v: Buffer) => void) => void;
      chat: () => grpc.ClientDuplexStream<Buffer, Buffer>;
    };
    const payload = Buffer.alloc(payloadBytes, 7);
    const unary = () => new Promise<Buffer>((res, rej) => client.echo(payload, (err, v) => (err ? rej(err) : res(v))));
    const inFlight = 16;
    const runUnary = async (n: number) => {
      let started = 0;
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (started < n) {
          started++;
          await unary();
        }
      }));
    };
    await runUnary(500); // warm-up
    let s0 = await serverCpu();
    let c0 = process.cpuUsage();
    await runUnary(calls);
    let c1 = process.cpuUsage();
    let s1 = await serverCpu();
    const unaryServerUs = us(s0, s1) / calls;
    const unaryClientUs = us(c0, c1) / calls;

    const stream = client.chat();
    const roundTrips = async (n: number) => {
      let got = 0;
      await new Promise<void>((res) => {
        const onData = () => {
          got++;
          if (got === n) {
            stream.off("data", onData);
            res();
          } else if (got % inFlight === 0) for (let i = 0; i < inFlight && got + i < n; i++) stream.write(payload);
        };
        stream.on("data", onData);
        for (let i = 0; i < inFlight; i++) stream.write(payload);
      });
    };
    await roundTrips(512);
    s0 = await serverCpu();
    c0 = process.cpuUsage();
    await roundTrips(calls);
    c1 = process.cpuUsage();
    s1 = await serverCpu();
    const streamRoundTripServerUs = us(s0, s1) / calls;
    const streamRoundTripClientUs = us(c0, c1) / calls;
    // half-close and wait for the server's status, so closing cannot cut a live stream
    await new Promise<void>((res) => {
      stream.once("status", () => res());
      stream.once("error", () => res());
      stream.resume();
      stream.end();
    });
    client.close();

    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const msg = Buffer.alloc(1024, 3);
    const sig = sign("sha256", msg, privateKey);
    const rate = (op: () => void) => {
      const t0 = process.cpuUsage();
      for (let i = 0; i < 2000; i++) op();
      return us(t0, process.cpuUsage()) / 2000;
    };
    const p256SignUs = rate(() => sign("sha256", msg, privateKey));
    const p256VerifyUs = rate(() => verify("sha256", msg, publicKey, sig));
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      unaryServerUs: r(unaryServerUs),
      unaryClientUs: r(unaryClientUs),
      streamRoundTripServerUs: r(streamRoundTripServerUs),
      streamRoundTripClientUs: r(streamRoundTripClientUs),
      p256SignUs: r(p256SignUs),
      p256VerifyUs: r(p256VerifyUs),
    };
  } finally {
    child.kill();
  }
}

/**
 * The least CPU (ms) per Fabric transaction of each process, from the floor costs, for what
 * one Mint takes here: the client signs a proposal and an envelope and makes two unary calls
 * (Endorse, Submit); the network serves those two calls, verifies the proposal's and the
 * envelope's creator signatures, signs two endorsements, and runs three chaincode-stream round
 * trips per endorser (TRANSACTION, GET_STATE / RESPONSE, PUT_STATE / RESPONSE, COMPLETED); the
 * chaincode process is the other end of those six round trips.
 */
export function fabricFloor(f: GrpcFloor, cores: number): { client: number; network: number; chaincode: number; all: number; tpsBound: number } {
  const client = (2 * f.unaryClientUs + 2 * f.p256SignUs) / 1000;
  const network = (2 * f.unaryServerUs + 6 * f.streamRoundTripServerUs + 2 * f.p256VerifyUs + 2 * f.p256SignUs) / 1000;
  const chaincode = (6 * f.streamRoundTripClientUs) / 1000;
  const all = client + network + chaincode;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { client: r(client), network: r(network), chaincode: r(chaincode), all: r(all), tpsBound: Math.round((cores * 1000) / all) };
}

if (process.argv[2] === "--echo-server") {
  const server = new grpc.Server();
  server.addService(SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", (b: Buffer) => call.write(b));
      call.on("end", () => call.end());
    },
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.send!({ port });
  });
  process.on("message", (m) => {
    if (m === "cpu") process.send!({ cpu: process.cpuUsage() });
  });
  process.on("disconnect", () => process.exit(0));
}
