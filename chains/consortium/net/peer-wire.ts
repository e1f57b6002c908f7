/**
 * Loading peer.proto (the validator-to-validator gRPC protocol) and its limits.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const PEER_PROTO_PATH = fileURLToPath(new URL("../peer.proto", import.meta.url));

/** Default cap on one gRPC message between peers (a full block of 500 txs is ~300 KB of JSON). */
export const DEFAULT_MAX_PEER_MESSAGE_BYTES = 4 * 1024 * 1024;
/** A gossip stream is ended after this many envelopes that do not decode. */
export const MAX_MALFORMED_PER_STREAM = 16;
/** GetBlocks answers at most this many blocks. */
export const MAX_SYNC_BATCH = 64;

/** Reconnect quickly to a restarted peer (gRPC's default backoff grows to 120 s). */
export const PEER_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.min_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  "grpc.keepalive_time_ms": 10_000,
});

interface PeerPackage {
  Peer: grpc.ServiceClientConstructor;
  DevnetAdmin: grpc.ServiceClientConstructor;
}

let cached: PeerPackage | undefined;

export function peerServices(): PeerPackage {
  if (!cached) {
    const def = protoLoader.loadSync(PEER_PROTO_PATH, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { isthmus: { consortium: { peer: { v1: PeerPackage } } } };
    cached = pkg.isthmus.consortium.peer.v1;
  }
  return cached;
}
