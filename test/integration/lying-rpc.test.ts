/**
 * A lying RPC must not move relayer funds. The real relayer daemon (engine, adapters,
 * store, API) runs with its EVM adapter behind a JSON-RPC proxy, its Fabric adapter behind
 * a gateway proxy and its consortium adapter behind a node-API proxy; a user really locks,
 * and the proxy forges what the relayer reads: a storage value, a block or a lock event on the
 * EVM, a block or an endorsement on Fabric, a state value, a header or a lock event on the
 * consortium chain. In each case the relayer refuses with a logged reason and a metric, places
 * no counter-lock, and its balances do not move. A lying EVM provider that swallows the
 * relayer's own counter-lock or claim and answers with a successful receipt cannot advance
 * the swap either: the engine moves only on proven final lock state, never on a receipt.
 * Each case runs a fresh daemon (fresh store, fresh light clients).
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { common, gateway, peer } from "@hyperledger/fabric-protos";
import * as protoLoader from "@grpc/proto-loader";
import { AbiCoder, Interface, keccak256, toQuantity, Transaction } from "ethers";
import { signLowS } from "../../chains/fabric/crypto.ts";
import { blockDataHash, blockHeaderBytes } from "../../chains/fabric/protoutil.ts";
import type { Hex, LedgerAdapter, LockParams } from "../../chains/ledger.ts";
import { decodeEvent, encodeEvent, type ChainEvent } from "../../proofs/consortium/index.ts";
import { lockWritesOf } from "../../proofs/fabric/index.ts";
import { RelayerClient } from "../../sdk/relayer-client.ts";
import type { ChainConfig, RelayerConfig } from "../../relayer/config.ts";
import { startRelayer, type RelayerDaemon } from "../../relayer/daemon.ts";
import { readDevnetFile } from "../../relayer/devnet-file.ts";
import { startDevnet, type Devnet } from "../../relayer/devnet.ts";
import { openLedger } from "../../relayer/ledgers.ts";
import { createLogger, silentLogger } from "../../relayer/log.ts";
import { startConsortiumProxy, startGatewayProxy, startJsonRpcProxy, type GrpcProxy, type JsonRpcProxy } from "./support/forging-proxies.ts";

const consortiumWire = protoLoader.loadSync(join(import.meta.dirname, "../../chains/consortium/consortium.proto"), {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
})["isthmus.consortium.v1.ConsortiumNode"] as protoLoader.ServiceDefinition;
const getLockWire = consortiumWire.GetLock!;
const getEventsWire = consortiumWire.GetEvents!;

/** A consortium node's GetLock answer for a found lock, rewritten by `edit` (nothing re-signed). */
function forgeLockAnswer(res: Buffer, edit: (answer: Record<string, any>) => void): Buffer {
  const answer = getLockWire.responseDeserialize(res) as Record<string, any>;
  if (!answer.found) return res;
  edit(answer);
  return getLockWire.responseSerialize(answer);
}

/**
 * A consortium node's GetEvents answer with the Locked event for `hashlock` re-encoded by
 * `edit` (its Merkle proof and the block's commit left as they were: nothing re-signed).
 */
function forgeLockedEvent(res: Buffer, hashlock: string, edit: (e: Extract<ChainEvent, { kind: "locked" }>) => ChainEvent): Buffer {
  const answer = getEventsWire.responseDeserialize(res) as { blocks: { events: { value: Uint8Array }[] }[] };
  let hit = false;
  for (const block of answer.blocks) {
    for (const e of block.events) {
      const d = decodeEvent(e.value);
      if (!d.ok || d.value.event.kind !== "locked" || d.value.event.hashlock.toLowerCase() !== hashlock.toLowerCase()) continue;
      e.value = encodeEvent(d.value.txHash, edit(d.value.event));
      hit = true;
    }
  }
  return hit ? getEventsWire.responseSerialize(answer) : res;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function secret(): { preimage: Hex; hashlock: Hex } {
  const preimage = `0x${randomBytes(32).toString("hex")}` as Hex;
  return { preimage, hashlock: `0x${createHash("sha256").update(Buffer.from(preimage.slice(2), "hex")).digest("hex")}` as Hex };
}

// ------------------------------------------------------------------ Fabric forgeries

/** Decodes a gateway Evaluate response as a block that writes `lockId`, or null. */
function lockBlockIn(response: Buffer, lockId: string): { ev: gateway.EvaluateResponse; block: common.Block; txIndex: number } | null {
  try {
    const ev = gateway.EvaluateResponse.deserializeBinary(response);
    const block = common.Block.deserializeBinary(ev.getResult()?.getPayload_asU8() ?? new Uint8Array());
    const w = lockWritesOf(block, "isthmus").find((x) => x.lockId === lockId);
    return w ? { ev, block, txIndex: w.txIndex } : null;
  } catch {
    return null;
  }
}

function withBlock(ev: gateway.EvaluateResponse, block: common.Block): Buffer {
  ev.getResult()!.setPayload(block.serializeBinary());
  return Buffer.from(ev.serializeBinary());
}

/** A lying peer's edit: one byte of the lock transaction changed, nothing re-signed. */
function tamperEnvelope(block: common.Block, txIndex: number): void {
  const envs = block.getData()!.getDataList_asU8().map((e) => Uint8Array.from(e));
  envs[txIndex]![envs[txIndex]!.length - 40]! ^= 0x01;
  block.getData()!.setDataList(envs);
}

/**
 * The lock transaction's endorsements replaced by signatures of keys no peer org issued,
 * re-signed by the submitting user and by the orderer (a colluding user and orderer): only
 * the endorsement check can catch it.
 */
function forgeEndorsements(block: common.Block, txIndex: number, userKey: KeyObject, ordererKey: KeyObject): void {
  const envs = block.getData()!.getDataList_asU8().map((e) => Uint8Array.from(e));
  const env = common.Envelope.deserializeBinary(envs[txIndex]!);
  const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
  const tx = peer.Transaction.deserializeBinary(payload.getData_asU8());
  const action = tx.getActionsList()[0]!;
  const cap = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8());
  const cea = cap.getAction()!;
  const rogue = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  for (const e of cea.getEndorsementsList()) e.setSignature(signLowS(rogue, Buffer.concat([cea.getProposalResponsePayload_asU8(), e.getEndorser_asU8()])));
  cap.setAction(cea);
  action.setPayload(cap.serializeBinary());
  payload.setData(tx.serializeBinary());
  const payloadBytes = payload.serializeBinary();
  env.setPayload(payloadBytes);
  env.setSignature(signLowS(userKey, payloadBytes));
  envs[txIndex] = Uint8Array.from(env.serializeBinary());
  block.getData()!.setDataList(envs);
  const header = block.getHeader()!;
  header.setDataHash(blockDataHash(block.getData()!));
  const list = block.getMetadata()!.getMetadataList_asU8().map((m) => Uint8Array.from(m));
  const md = common.Metadata.deserializeBinary(list[common.BlockMetadataIndex.SIGNATURES]!);
  const sig = md.getSignaturesList()[0]!;
  sig.setSignature(signLowS(ordererKey, Buffer.concat([md.getValue_asU8(), sig.getSignatureHeader_asU8(), blockHeaderBytes(header)])));
  list[common.BlockMetadataIndex.SIGNATURES] = Uint8Array.from(md.serializeBinary());
  block.getMetadata()!.setMetadataList(list);
}

// ------------------------------------------------------------------ EVM forgeries

const htlcAbi = new Interface([
  "event Locked(bytes32 indexed lockId, address indexed sender, address indexed receiver, address token, uint256 amount, bytes32 hashlock, uint64 timelock)",
  "function lock(address receiver, address token, uint256 amount, bytes32 hashlock, uint64 timelock)",
  "function claim(bytes32 lockId, bytes32 preimage)",
]);

interface LockedFields {
  sender: string;
  receiver: string;
  token: string;
  amount: bigint;
  hashlock: string;
  timelock: bigint;
}

/** A log as eth_getLogs / a receipt carries it (quantities hex-encoded). */
type RpcLog = { address: string; topics: string[]; data: string } & Record<string, unknown>;

/** The HTLC's lock id: keccak256(abi.encode(sender, receiver, token, amount, hashlock, timelock)). */
function evmLockId(f: LockedFields): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["address", "address", "address", "uint256", "bytes32", "uint64"], [f.sender, f.receiver, f.token, f.amount, f.hashlock, f.timelock]));
}

/** A self-consistent Locked log (its id hashes from its fields, so only the state proof can expose it). */
function lockedLog(f: LockedFields, at: Record<string, unknown>): RpcLog {
  const { topics, data } = htlcAbi.encodeEventLog("Locked", [evmLockId(f), f.sender, f.receiver, f.token, f.amount, f.hashlock, f.timelock]);
  return { ...at, address: String(at.address), topics, data };
}

/** The Locked log for `hashlock` re-encoded with `edit`'s fields; other logs unchanged. */
function rewriteLockedLog(log: RpcLog, hashlock: string, edit: (f: LockedFields) => LockedFields): RpcLog {
  const parsed = htlcAbi.parseLog({ topics: log.topics, data: log.data });
  if (parsed?.name !== "Locked" || String(parsed.args.hashlock).toLowerCase() !== hashlock.toLowerCase()) return log;
  const a = parsed.args;
  return lockedLog(edit({ sender: a.sender, receiver: a.receiver, token: a.token, amount: a.amount, hashlock: a.hashlock, timelock: a.timelock }), log);
}

/**
 * A successful receipt for an HTLC transaction that never reached the node; for a lock, with
 * the Locked log the relayer's adapter looks for.
 */
function forgedReceipt(raw: string, htlc: string, height: number): { hash: string; receipt: Record<string, unknown> } {
  const tx = Transaction.from(raw);
  const hash = keccak256(raw);
  const at = { blockNumber: toQuantity(height), blockHash: `0x${"ab".repeat(32)}`, transactionHash: hash, transactionIndex: "0x0" };
  const logs: RpcLog[] = [];
  if (tx.data.startsWith(htlcAbi.getFunction("lock")!.selector)) {
    const [receiver, token, amount, hashlock, timelock] = htlcAbi.decodeFunctionData("lock", tx.data);
    logs.push(lockedLog({ sender: tx.from!, receiver, token, amount, hashlock, timelock }, { ...at, address: htlc, logIndex: "0x0", removed: false }));
  }
  return {
    hash,
    receipt: {
      ...at,
      from: tx.from,
      to: tx.to,
      cumulativeGasUsed: "0x30000",
      gasUsed: "0x30000",
      effectiveGasPrice: "0x3b9aca00",
      contractAddress: null,
      logsBloom: `0x${"00".repeat(256)}`,
      status: "0x1",
      type: "0x2",
      logs,
    },
  };
}

// ------------------------------------------------------------------ the test

describe("lying RPC endpoints cannot move relayer funds", function () {
  this.timeout(240_000);
  let dir: string;
  let devnet: Devnet;
  let user: Map<string, LedgerAdapter>;
  let evmProxy: JsonRpcProxy;
  let fabricProxy: GrpcProxy;
  let consortiumProxy: GrpcProxy;
  let daemon: RelayerDaemon | null = null;
  let logs: Record<string, unknown>[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-lying-rpc-"));
    devnet = await startDevnet({ dir, consortiumBlockMs: 250, evmBlockMs: 500, evmConfirmations: 1, pollMs: 100, startRelayer: false, log: silentLogger });
    const file = readDevnetFile(devnet.file);
    user = new Map(await Promise.all(file.chainConfigs.map(async (c) => [c.name, await openLedger(c, devnet.file)] as const)));
    evmProxy = await startJsonRpcProxy(devnet.evm.url);
    fabricProxy = await startGatewayProxy(devnet.fabric.network.address);
    consortiumProxy = await startConsortiumProxy(devnet.consortium.endpoint);
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = null;
    evmProxy.forge = null;
    evmProxy.intercept = null;
    fabricProxy.forge = null;
    consortiumProxy.forge = null;
  });

  after(async () => {
    await Promise.all([...(user?.values() ?? [])].map((l) => l.close()));
    await evmProxy?.close();
    await fabricProxy?.close();
    await consortiumProxy?.close();
    await devnet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh relayer whose EVM and Fabric adapters talk to the proxies. */
  async function startLiedToRelayer(name: string): Promise<RelayerClient> {
    const c = devnet.config;
    const chains: ChainConfig[] = c.chains.map((ch) =>
      ch.kind === "evm" ? { ...ch, rpcUrl: evmProxy.url } : ch.kind === "fabric" ? { ...ch, gateway: fabricProxy.address } : { ...ch, endpoint: consortiumProxy.address },
    );
    const config: RelayerConfig = { ...c, chains, store: join(dir, `${name}.db`), api: { ...c.api, port: 0 } };
    logs = [];
    daemon = await startRelayer(config, createLogger({ level: "debug", write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }));
    return new RelayerClient(daemon.api.url, 10_000, devnet.apiKey);
  }

  /** isthmus_verification_failures_total for `chain`, summed over reason classes or for one. */
  async function metric(chain: string, label = "[a-z_]+"): Promise<number> {
    const text = await (await fetch(`${daemon!.api.url}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^isthmus_verification_failures_total\\{chain="${chain}",reason="${label}"\\} (\\d+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
  }

  /** The user locks on `chain` for a swap to `to` while the proxy forges; the relayer must refuse. */
  async function expectRefusal(p: {
    chain: "evm" | "fabric" | "consortium";
    asset: string;
    amount: bigint;
    to?: string;
    /** False: the user never locks (the proxy invents the lock). Default true. */
    userLocks?: boolean;
    arm: (lockId: Hex, lockHeight: number, params: LockParams) => void;
    /** The refusal's log message; default the engine's verification-failure line. */
    refusal?: string;
    reason: RegExp;
    /** The metric's reason class, when the case pins it. */
    label?: string;
  }): Promise<void> {
    const to = p.to ?? "consortium:KRW";
    const [toChain, toAsset] = to.split(":") as [string, string];
    const api = await startLiedToRelayer(`${p.chain}-${Date.now()}`);
    const src = user.get(p.chain)!;
    const dst = user.get(toChain)!;
    const { hashlock } = secret();
    const status = await api.get<{ chains: { name: string; relayer: Hex }[] }>("/status");
    const relayerSrc = status.chains.find((x) => x.name === p.chain)!.relayer;
    const relayerDst = status.chains.find((x) => x.name === toChain)!.relayer;
    const relayerKrw = () => dst.balance(toAsset, relayerDst);
    const amountText = String(p.amount / 100n);
    const quote = await api.get<{ minUserLockSec: number }>(`/quote?${new URLSearchParams({ from: `${p.chain}:${p.asset}`, to, amount: amountText })}`);
    const created = await api.post<{ id: string }>("/swaps", {
      from: `${p.chain}:${p.asset}`,
      to,
      amount: amountText,
      hashlock,
      userFrom: src.address,
      userTo: dst.address,
    });
    const krwBefore = await relayerKrw();
    const params = { receiver: relayerSrc, asset: p.asset, amount: p.amount, hashlock, timelock: (await src.head()).finalizedTime + Math.max(600, 2 * quote.minUserLockSec) };
    const lockId = src.lockIdFor(params);
    p.arm(lockId, (await src.head()).headHeight, params);
    if (p.userLocks !== false) await src.lock(params);
    const start = Date.now();
    let refusal: Record<string, unknown> | undefined;
    while (!refusal && Date.now() - start < 60_000) {
      refusal = logs.find((l) => l.msg === (p.refusal ?? "ledger answer failed verification; relayer did not act") && l.chain === p.chain);
      await sleep(200);
    }
    assert.ok(refusal, `no refusal logged; last logs: ${JSON.stringify(logs.slice(-5))}`);
    assert.match(String(refusal.reason), p.reason);
    // Let the engine run a few more rounds against the lie: still nothing moves.
    await sleep(2_000);
    assert.ok((await metric(p.chain, p.label)) >= 1, `isthmus_verification_failures_total counted the refusal${p.label ? ` as ${p.label}` : ""}`);
    const swap = await api.get<{ state: string; counterLock?: unknown }>(`/swaps/${created.id}`);
    assert.equal(swap.state, "awaiting_user_lock", "the swap did not advance");
    assert.equal(swap.counterLock, undefined, "no counter-lock was planned");
    assert.equal(await relayerKrw(), krwBefore, `the relayer's ${to} did not move`);
    assert.deepEqual((await api.get<{ proofs: unknown[] }>(`/swaps/${created.id}/proofs`)).proofs, [], "no evidence stored for a refused lock");
    assert.ok(!logs.some((l) => l.msg === "user lock verified"), "the relayer never accepted the lock");
  }

  it("EVM: a forged storage value (eth_getProof) is refused", async () => {
    await expectRefusal({
      chain: "evm",
      asset: "KRWT",
      amount: 700n,
      arm: () => {
        evmProxy.forge = (call, result) => {
          if (call.method !== "eth_getProof") return result;
          const r = result as { storageProof: { value: string }[] };
          return { ...r, storageProof: r.storageProof.map((s) => (s.value === "0x0" ? s : { ...s, value: `0x${(BigInt(s.value) + 1n).toString(16)}` })) };
        };
      },
      reason: /storage value \d+ claimed as 0x[0-9a-f]+ but the proof shows/,
    });
  });

  it("EVM: a forged block (state root) is refused", async () => {
    await expectRefusal({
      chain: "evm",
      asset: "KRWT",
      amount: 800n,
      arm: (_lockId, from) => {
        evmProxy.forge = (call, result) => {
          if (call.method !== "eth_getBlockByNumber" || result === null) return result;
          const b = result as { number: string; stateRoot: string };
          return Number(b.number) > from ? { ...b, stateRoot: `0x${"ab".repeat(32)}` } : b;
        };
      },
      reason: /parentHash is not the hash of header|hash/,
    });
  });

  it("Fabric: a forged block (the lock transaction altered) is refused", async () => {
    await expectRefusal({
      chain: "fabric",
      asset: "KRW",
      amount: 900n,
      arm: (lockId) => {
        fabricProxy.forge = (path, res) => {
          const hit = path.endsWith("/Evaluate") ? lockBlockIn(res, lockId) : null;
          if (!hit) return res;
          tamperEnvelope(hit.block, hit.txIndex);
          return withBlock(hit.ev, hit.block);
        };
      },
      reason: /data_hash/,
    });
  });

  it("Fabric: forged endorsements, even re-signed by a colluding orderer, are refused", async () => {
    const alice = devnet.fabric.network.identity("Org1MSP", "alice");
    const orderer = devnet.fabric.network.identity("OrdererMSP", "orderer0");
    await expectRefusal({
      chain: "fabric",
      asset: "KRW",
      amount: 1000n,
      arm: (lockId) => {
        fabricProxy.forge = (path, res) => {
          const hit = path.endsWith("/Evaluate") ? lockBlockIn(res, lockId) : null;
          if (!hit) return res;
          forgeEndorsements(hit.block, hit.txIndex, alice.privateKey, orderer.privateKey);
          return withBlock(hit.ev, hit.block);
        };
      },
      reason: /endorsement policy \/Channel\/Application\/Endorsement is not satisfied/,
    });
  });

  it("consortium: a forged state value (the lock record in GetLock) is refused", async () => {
    await expectRefusal({
      chain: "consortium",
      asset: "KRW",
      amount: 1100n,
      to: "evm:KRWT",
      arm: () => {
        consortiumProxy.forge = (path, res) => {
          if (!path.endsWith("/GetLock")) return res;
          return forgeLockAnswer(res, (a) => {
            const v = Buffer.from(a.value as Uint8Array);
            v[v.length - 1]! ^= 0x01;
            a.value = v;
          });
        };
      },
      reason: /lock value|proof/,
    });
  });

  it("consortium: a forged header (state root) under a real commit is refused", async () => {
    await expectRefusal({
      chain: "consortium",
      asset: "KRW",
      amount: 1200n,
      to: "evm:KRWT",
      arm: () => {
        consortiumProxy.forge = (path, res) => {
          if (!path.endsWith("/GetLock")) return res;
          return forgeLockAnswer(res, (a) => {
            a.header.stateRoot = `0x${"cd".repeat(32)}`;
          });
        };
      },
      // The adapter follows headers as a light client: a forged header is refused by its commit, or,
      // at a height already followed, as differing from the header verified there.
      reason: /commit|differs from the one verified at that height/,
    });
  });

  it("EVM: a forged lock event (amount altered, id re-derived) is refused as not backed by state", async () => {
    await expectRefusal({
      chain: "evm",
      asset: "KRWT",
      amount: 1300n,
      arm: (_lockId, _from, params) => {
        evmProxy.forge = (call, result) =>
          call.method === "eth_getLogs" ? (result as RpcLog[]).map((l) => rewriteLockedLog(l, params.hashlock, (f) => ({ ...f, amount: f.amount * 100n }))) : result;
      },
      refusal: "lock event not backed by final state; ignored",
      reason: /lock event 0x[0-9a-f]{64} not backed by the lock's proven state/,
      label: "false_event",
    });
  });

  it("EVM: a forged lock event for a lock that does not exist is refused as not backed by state", async () => {
    const evm = devnet.config.chains.find((c) => c.kind === "evm")!;
    assert.equal(evm.kind, "evm");
    const token = evm.assets.find((a) => a.symbol === "KRWT")!.id;
    await expectRefusal({
      chain: "evm",
      asset: "KRWT",
      amount: 1400n,
      userLocks: false,
      arm: (_lockId, from, params) => {
        // The invented lock sits in the first finalized block past the arming height, in every
        // eth_getLogs answer that covers it.
        let at: number | null = null;
        const fields = { sender: user.get("evm")!.address, receiver: params.receiver, token, amount: params.amount, hashlock: params.hashlock, timelock: BigInt(params.timelock) };
        evmProxy.forge = (call, result) => {
          if (call.method !== "eth_getLogs") return result;
          const q = call.params[0] as { fromBlock: string; toBlock: string };
          if (at === null && Number(q.toBlock) > from) at = Number(q.toBlock);
          if (at === null || at < Number(q.fromBlock) || at > Number(q.toBlock)) return result;
          const log = lockedLog(fields, { address: evm.htlc, blockNumber: toQuantity(at), blockHash: `0x${"ee".repeat(32)}`, transactionHash: `0x${"ef".repeat(32)}`, transactionIndex: "0x0", logIndex: "0x0", removed: false });
          return [...(result as RpcLog[]), log];
        };
      },
      refusal: "lock event not backed by final state; ignored",
      reason: /lock event 0x[0-9a-f]{64} not backed by the lock's proven state/,
      label: "false_event",
    });
  });

  it("consortium: a forged lock event (amount altered under the real proof and commit) is refused", async () => {
    await expectRefusal({
      chain: "consortium",
      asset: "KRW",
      amount: 1600n,
      to: "evm:KRWT",
      arm: (_lockId, _from, params) => {
        consortiumProxy.forge = (path, res) => (path.endsWith("/GetEvents") ? forgeLockedEvent(res, params.hashlock, (e) => ({ ...e, amount: e.amount * 100n })) : res);
      },
      reason: /event at height \d+: results proof/,
      label: "state_proof",
    });
  });

  /**
   * Arms the EVM proxy as a lying provider that swallows the relayer's HTLC `fn` transactions
   * and answers each with a successful receipt: the transaction never exists. Returns the
   * swallowed hashes.
   */
  function swallowHtlcTxs(fn: "lock" | "claim", htlc: string): { has(hash: string): boolean } {
    let head = 1;
    const swallowed = new Map<string, Record<string, unknown>>();
    evmProxy.forge = (call, result) => {
      if (call.method === "eth_blockNumber") head = Number(result);
      return result;
    };
    evmProxy.intercept = (call) => {
      if (call.method === "eth_sendRawTransaction") {
        const raw = String(call.params[0]);
        const tx = Transaction.from(raw);
        if (tx.to?.toLowerCase() !== htlc.toLowerCase() || !tx.data.startsWith(htlcAbi.getFunction(fn)!.selector)) return undefined;
        const { hash, receipt } = forgedReceipt(raw, htlc, head);
        swallowed.set(hash, receipt);
        return { result: hash };
      }
      if (call.method === "eth_getTransactionReceipt" && swallowed.has(String(call.params[0]))) return { result: swallowed.get(String(call.params[0])) };
      return undefined;
    };
    return { has: (hash) => swallowed.has(hash) };
  }

  it("EVM: a forged success receipt for the relayer's counter-lock cannot mark it placed", async () => {
    const api = await startLiedToRelayer(`receipt-${Date.now()}`);
    const evm = devnet.config.chains.find((c) => c.kind === "evm")!;
    assert.equal(evm.kind, "evm");
    const src = user.get("consortium")!;
    const dst = user.get("evm")!;
    const { hashlock } = secret();
    const status = await api.get<{ chains: { name: string; relayer: Hex }[] }>("/status");
    const relayerSrc = status.chains.find((x) => x.name === "consortium")!.relayer;
    const relayerEvm = status.chains.find((x) => x.name === "evm")!.relayer;
    const swallowed = swallowHtlcTxs("lock", evm.htlc);
    const quote = await api.get<{ minUserLockSec: number }>(`/quote?${new URLSearchParams({ from: "consortium:KRW", to: "evm:KRWT", amount: "15" })}`);
    const created = await api.post<{ id: string }>("/swaps", { from: "consortium:KRW", to: "evm:KRWT", amount: "15", hashlock, userFrom: src.address, userTo: dst.address });
    const krwtBefore = await dst.balance("KRWT", relayerEvm);
    await src.lock({ receiver: relayerSrc, asset: "KRW", amount: 1500n, hashlock, timelock: (await src.head()).finalizedTime + Math.max(600, 2 * quote.minUserLockSec) });
    const start = Date.now();
    let sent: Record<string, unknown> | undefined;
    while (!sent && Date.now() - start < 60_000) {
      sent = logs.find((l) => l.msg === "counter-lock sent" && swallowed.has(String(l.txId)));
      await sleep(200);
    }
    assert.ok(sent, `the relayer never took a forged receipt; last logs: ${JSON.stringify(logs.slice(-5))}`);
    // Several EVM blocks (500 ms, 1 confirmation) of rounds against the lie.
    await sleep(4_000);
    const swap = await api.get<{ state: string; counterLock?: { lockId: Hex } }>(`/swaps/${created.id}`);
    assert.equal(swap.state, "relayer_locking", "the swap is not marked counter-locked on a receipt");
    assert.equal(await dst.getLock(swap.counterLock!.lockId), null, "no counter-lock exists on chain");
    assert.equal(await dst.balance("KRWT", relayerEvm), krwtBefore, "the relayer's KRWT did not move");
    assert.ok(!logs.some((l) => l.msg === "swap moved" && l.to === "relayer_locked"), "no transition to relayer_locked was logged");
    const pending = logs.filter((l) => l.msg === "counter-lock sent" && l.swap === created.id);
    assert.ok(pending.length >= 2, "the relayer, reading no counter-lock in final state, kept sending instead of trusting the receipt");
    assert.ok(
      logs.some((l) => l.msg === "earlier send not in final state; sending again" && l.swap === created.id && l.action === "counter-lock" && swallowed.has(String(l.previousTxId))),
      "the resend is reported with the tx id the node claimed",
    );
  });

  it("EVM: a forged success receipt for the relayer's claim cannot mark the swap completed", async () => {
    const api = await startLiedToRelayer(`claim-receipt-${Date.now()}`);
    const evm = devnet.config.chains.find((c) => c.kind === "evm")!;
    assert.equal(evm.kind, "evm");
    const src = user.get("evm")!;
    const dst = user.get("consortium")!;
    const { preimage, hashlock } = secret();
    const status = await api.get<{ chains: { name: string; relayer: Hex }[] }>("/status");
    const relayerEvm = status.chains.find((x) => x.name === "evm")!.relayer;
    const quote = await api.get<{ minUserLockSec: number }>(`/quote?${new URLSearchParams({ from: "evm:KRWT", to: "consortium:KRW", amount: "17" })}`);
    const created = await api.post<{ id: string }>("/swaps", { from: "evm:KRWT", to: "consortium:KRW", amount: "17", hashlock, userFrom: src.address, userTo: dst.address });
    const params = { receiver: relayerEvm, asset: "KRWT", amount: 1700n, hashlock, timelock: (await src.head()).finalizedTime + Math.max(600, 2 * quote.minUserLockSec) };
    const userLockId = src.lockIdFor(params);
    await src.lock(params);
    const until = async (state: string) => {
      const start = Date.now();
      for (;;) {
        const s = await api.get<{ state: string; counterLock?: { lockId: Hex } }>(`/swaps/${created.id}`);
        if (s.state === state) return s;
        assert.ok(Date.now() - start < 60_000, `swap stuck in ${s.state}, waiting for ${state}; last logs: ${JSON.stringify(logs.slice(-5))}`);
        await sleep(200);
      }
    };
    const locked = await until("relayer_locked");
    // From here the provider lies: the relayer's claim never reaches the chain, its receipt says success.
    const swallowed = swallowHtlcTxs("claim", evm.htlc);
    const krwtBefore = await src.balance("KRWT", relayerEvm);
    await dst.claim(locked.counterLock!.lockId, preimage);
    await until("relayer_claiming");
    const start = Date.now();
    let sent: Record<string, unknown> | undefined;
    while (!sent && Date.now() - start < 60_000) {
      sent = logs.find((l) => l.msg === "claim sent" && swallowed.has(String(l.txId)));
      await sleep(200);
    }
    assert.ok(sent, `the relayer never took a forged receipt; last logs: ${JSON.stringify(logs.slice(-5))}`);
    await sleep(4_000);
    const swap = await api.get<{ state: string }>(`/swaps/${created.id}`);
    assert.equal(swap.state, "relayer_claiming", "the swap is not marked completed on a receipt");
    assert.equal((await src.getLock(userLockId))?.lock.status, "locked", "the user's lock is still unclaimed on chain");
    assert.equal(await src.balance("KRWT", relayerEvm), krwtBefore, "the relayer's KRWT did not move");
    assert.ok(!logs.some((l) => l.msg === "swap moved" && l.to === "completed"), "no transition to completed was logged");
    assert.ok(logs.filter((l) => l.msg === "claim sent" && l.swap === created.id).length >= 2, "the relayer, reading the lock unclaimed in final state, kept claiming");
    assert.ok(
      logs.some((l) => l.msg === "earlier send not in final state; sending again" && l.swap === created.id && l.action === "claim" && swallowed.has(String(l.previousTxId))),
      "the resend is reported with the tx id the node claimed",
    );
  });
});
