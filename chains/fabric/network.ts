/**
 * An embedded Fabric network: one channel, two peer orgs (one endorsing peer each), one
 * orderer org (solo orderer), served on one gRPC port with the real Fabric services:
 * gateway.Gateway (Evaluate, Endorse, Submit, CommitStatus, ChaincodeEvents), protos.Deliver
 * (Deliver, DeliverFiltered) and protos.ChaincodeSupport (classic chaincode registration);
 * chaincode-as-a-service via connectChaincode. See README.md for where it differs from Fabric.
 */
import * as grpc from "@grpc/grpc-js";
import { common, gateway, google, ledger, orderer, peer } from "@hyperledger/fabric-protos";
import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { decodeBlockTx, decodeBlockTxs, endorserTx, filteredBlockOf, type BlockTx } from "./block.ts";
import { ChaincodeSupport, ChaincodeSupportService } from "./chaincode.ts";
import { buildGenesisBlock } from "./configblock.ts";
import { sha256 as createHash256, SignatureChecks, signLowS, verifyFabricSignature } from "./crypto.ts";
import { loadOrCreateOrg, type Identity, type IdentitySpec, type Org } from "./identity.ts";
import { hasRole, IdentityError, MspManager, serializeIdentity, type ValidIdentity } from "./msp.ts";
import { blockDataHash, blockHeaderBytes, blockHeaderHash, Code, computeTxId, parseSignedProposal, EndorseRequestIn, MalformedError, SubmitRequestIn, type ParsedProposal, type SignedProposalLike } from "./protoutil.ts";
import { encodeMessage, Sub, type LenField } from "./protowire.ts";
import { LedgerStore, type StateWrite, type TxRecord } from "./store.ts";
import { readKvRwset, type KvRwsetIn } from "./simulator.ts";
import { anyOf } from "./timestamp.ts";

const kv = ledger.rwset.kvrwset;
const EMPTY = new Uint8Array();

export interface FabricNetworkOptions {
  /** Directory for crypto material and the ledger; reused on restart. */
  readonly dir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly channel?: string;
  readonly batchTimeoutMs?: number;
  readonly batchMaxMessages?: number;
  readonly chaincodeExecTimeoutMs?: number;
  /** Client identities per peer org (index 0 = Org1MSP, 1 = Org2MSP). */
  readonly users?: readonly [readonly IdentitySpec[], readonly IdentitySpec[]];
}

/** Default demo identities: Org1 holds the KRW issuer and the relayer; users in both orgs. */
export const DEFAULT_USERS: readonly [readonly IdentitySpec[], readonly IdentitySpec[]] = [
  [
    { name: "issuer", role: "client", attrs: { "isthmus.role": "issuer" } },
    { name: "relayer", role: "client" },
    { name: "alice", role: "client" },
    { name: "bob", role: "client" },
  ],
  [
    { name: "carol", role: "client" },
    { name: "dave", role: "client" },
  ],
];

/** A gateway failure: gRPC code, message, and per-endpoint ErrorDetails (internal/pkg/gateway/api.go). */
class GatewayFailure extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly details: { address: string; mspId: string; message: string }[] = [],
  ) {
    super(message);
  }

  toServiceError(): Partial<grpc.ServiceError> {
    const md = new grpc.Metadata();
    if (this.details.length > 0) {
      const st = new google.rpc.Status();
      st.setCode(this.code);
      st.setMessage(this.message);
      for (const d of this.details) {
        const ed = new gateway.ErrorDetail();
        ed.setAddress(d.address);
        ed.setMspId(d.mspId);
        ed.setMessage(d.message);
        st.addDetails(anyOf("gateway.ErrorDetail", ed.serializeBinary()) as never);
      }
      md.set("grpc-status-details-bin", Buffer.from(st.serializeBinary()));
    }
    return { code: this.code, details: this.message, metadata: md };
  }
}


interface PeerNode {
  readonly org: Org;
  readonly identity: Identity;
  readonly serialized: Uint8Array;
  readonly address: string;
}

interface Endorsed {
  readonly response: peer.Response;
  readonly prpBytes?: Uint8Array;
  /** The peer.Endorsement's bytes (endorser, signature). */
  readonly endorsement?: Uint8Array;
}

interface PeerResult {
  readonly n: PeerNode;
  readonly r: Endorsed | null;
  readonly err: string | null;
}

interface Pending {
  readonly envBytes: Uint8Array;
}

/** An invalid transaction's validation result. (Module-level: a closure per call costs a defineProperty under tsx.) */
const asWritten = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * protos.Gateway with Endorse read straight from its bytes (EndorseRequestIn) and answering
 * bytes the endorsers wrote themselves (the prepared transaction is built straight into an
 * EndorseResponse's bytes, #endorse), and Submit read straight from its bytes (SubmitRequestIn) and answering the empty SubmitResponse's bytes;
 * the other methods are fabric-protos' own.
 */
const GatewayService = {
  ...gateway.GatewayService,
  endorse: { ...gateway.GatewayService.endorse, requestDeserialize: (b: Buffer) => new EndorseRequestIn(b), responseSerialize: asWritten },
  submit: { ...gateway.GatewayService.submit, requestDeserialize: (b: Buffer) => new SubmitRequestIn(b), responseSerialize: asWritten },
};

function fail(code: number, txId = ""): { code: number; txId: string; writes: StateWrite[] } {
  return { code, txId, writes: [] };
}

/** The orderer's refusal of an envelope (orderer/common/msgprocessor), as the gateway reports it. */
function ordererRejected(ordererMspId: string, why: string): GatewayFailure {
  return new GatewayFailure(grpc.status.ABORTED, `received unsuccessful response from orderer: status=FORBIDDEN, info=${why}`, [
    { address: "orderer.example.com:7050", mspId: ordererMspId, message: why },
  ]);
}

function asFailure(err: unknown, code: grpc.status): GatewayFailure {
  if (err instanceof GatewayFailure) return err;
  return new GatewayFailure(code, (err as Error).message ?? String(err));
}

export class FabricNetwork {
  readonly channel: string;
  readonly peerOrgs: readonly Org[];
  readonly ordererOrg: Org;
  readonly msps: MspManager;
  readonly store: LedgerStore;
  readonly chaincodes: ChaincodeSupport;
  /** Emits "block" (common.Block) after each commit. */
  readonly events = new EventEmitter();
  readonly #server: grpc.Server;
  readonly #peers: PeerNode[];
  readonly #ordererId: Identity;
  readonly #batchTimeoutMs: number;
  readonly #batchMax: number;
  #address = "";
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | null = null;
  #cutting: Promise<void> = Promise.resolve();
  /** Blocks committed but not yet reported wait here for their flush, in order. */
  #publishing: Promise<void> = Promise.resolve();
  #ledgerFailure: string | null = null;
  #lastHeader: common.BlockHeader | null = null;
  #closed = false;
  #closing = false;
  /** Signature checks and this network's own signatures, each exact triple checked once (see SignatureChecks). */
  readonly #signatures = new SignatureChecks();
  readonly #blockCache = new Map<number, { block: common.Block; txs: BlockTx[] }>();
  /** CommitStatus calls waiting for a transaction id to commit. */
  readonly #commitWaiters = new Map<string, Set<(r: TxRecord) => void>>();
  readonly #streams = new Set<grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>>();

  private constructor(
    opts: FabricNetworkOptions,
    peerOrgs: Org[],
    ordererOrg: Org,
    store: LedgerStore,
  ) {
    this.channel = opts.channel ?? "isthmus";
    this.peerOrgs = peerOrgs;
    this.ordererOrg = ordererOrg;
    this.msps = new MspManager([...peerOrgs, ordererOrg]);
    this.store = store;
    this.chaincodes = new ChaincodeSupport(store, opts.chaincodeExecTimeoutMs ?? 30_000);
    this.#batchTimeoutMs = opts.batchTimeoutMs ?? 20;
    this.#batchMax = opts.batchMaxMessages ?? 500;
    this.#peers = peerOrgs.map((o) => {
      const id = o.identities.get("peer0")!;
      return { org: o, identity: id, serialized: serializeIdentity(o.mspId, id.certPem), address: `peer0.${o.domain}:7051` };
    });
    this.#ordererId = ordererOrg.identities.get("orderer0")!;
    this.events.setMaxListeners(0);
    this.#server = new grpc.Server({
      "grpc.max_receive_message_length": 100 * 1024 * 1024,
      "grpc.max_send_message_length": 100 * 1024 * 1024,
      // channelz stays on: grpc-js 1.14.7 without it does not track sessions, so forceShutdown
      // (close) would leave client connections open to a stopped server
    });
    this.#server.addService(GatewayService, this.#gatewayService() as never);
    this.#server.addService(peer.DeliverService, this.#deliverService() as never);
    this.#server.addService(ChaincodeSupportService, this.chaincodes.service() as never);
  }

  /** Opens (or creates) the network in `opts.dir` and starts serving. */
  static async start(opts: FabricNetworkOptions): Promise<FabricNetwork> {
    mkdirSync(opts.dir, { recursive: true });
    const users = opts.users ?? DEFAULT_USERS;
    const org1 = await loadOrCreateOrg(join(opts.dir, "crypto", "Org1MSP"), {
      mspId: "Org1MSP",
      domain: "org1.example.com",
      identities: [{ name: "peer0", role: "peer" }, { name: "admin", role: "admin" }, ...users[0]],
    });
    const org2 = await loadOrCreateOrg(join(opts.dir, "crypto", "Org2MSP"), {
      mspId: "Org2MSP",
      domain: "org2.example.com",
      identities: [{ name: "peer0", role: "peer" }, { name: "admin", role: "admin" }, ...users[1]],
    });
    const ord = await loadOrCreateOrg(join(opts.dir, "crypto", "OrdererMSP"), {
      mspId: "OrdererMSP",
      domain: "example.com",
      identities: [{ name: "orderer0", role: "orderer" }, { name: "admin", role: "admin" }],
    });
    const store = new LedgerStore(join(opts.dir, "ledger.sqlite"));
    const net = new FabricNetwork(opts, [org1, org2], ord, store);
    net.#bootstrap();
    const host = opts.host ?? "127.0.0.1";
    const port = await new Promise<number>((resolve, reject) =>
      net.#server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    net.#address = `${host}:${port}`;
    return net;
  }

  #bootstrap(): void {
    if (this.store.height === 0) {
      const genesis = buildGenesisBlock({
        channel: this.channel,
        peerOrgs: this.peerOrgs,
        ordererOrg: this.ordererOrg,
        batchMaxMessages: this.#batchMax,
        batchTimeoutMs: this.#batchTimeoutMs,
      });
      this.store.commitBlock(0, genesis.serializeBinary(), [{ txId: "", blockNum: 0, txNum: 0, code: 0 }], []);
      this.store.flushSync();
    }
    this.#lastHeader = this.getBlock(this.store.height - 1)!.getHeader()!;
  }

  /** host:port of the peer's gRPC endpoint (Gateway, Deliver, ChaincodeSupport). */
  get address(): string {
    return this.#address;
  }

  /** Blocks committed and on disk: what queries, events and commit statuses may report. */
  get height(): number {
    return this.store.durableHeight;
  }

  identity(mspId: string, name: string): Identity {
    const org = [...this.peerOrgs, this.ordererOrg].find((o) => o.mspId === mspId);
    const id = org?.identities.get(name);
    if (!id) throw new Error(`no identity ${name} in ${mspId}`);
    return id;
  }

  /** The orderer's certificate, to verify block signatures. */
  get ordererCertPem(): string {
    return this.#ordererId.certPem;
  }

  getBlock(num: number): common.Block | null {
    if (num >= this.height) return null; // not reported before it is durable
    const c = this.#blockCache.get(num);
    if (c) return c.block;
    const bytes = this.store.getBlockBytes(num);
    return bytes ? common.Block.deserializeBinary(bytes) : null;
  }

  #blockTxs(num: number): BlockTx[] {
    const c = this.#blockCache.get(num);
    if (c) return c.txs;
    const b = this.getBlock(num);
    if (!b) return [];
    const txs = decodeBlockTxs(b);
    this.#remember(num, b, txs);
    return txs;
  }

  #remember(num: number, block: common.Block, txs: BlockTx[]): void {
    this.#blockCache.set(num, { block, txs });
    if (this.#blockCache.size > 256) this.#blockCache.delete(this.#blockCache.keys().next().value!);
  }

  /** Chaincode-as-a-service: each endorsing peer dials the chaincode server (it registers on each stream). */
  async connectChaincode(address: string, timeoutMs = 10_000): Promise<void> {
    await this.chaincodes.connectServer(address, timeoutMs, this.#peers.length);
  }

  /**
   * Graceful stop: event streams end, calls in flight may finish for up to `graceMs`
   * (endorsements complete, accepted transactions are ordered and committed), then the
   * server stops, the chaincode connections close and the ledger is closed.
   */
  async close(graceMs = 2_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const s of this.#streams) s.destroy();
    await Promise.race([new Promise<void>((r) => this.#server.tryShutdown(() => r())), new Promise((r) => setTimeout(r, graceMs))]);
    this.#server.forceShutdown();
    this.#cut();
    await this.#cutting.catch(() => {});
    await this.#publishing;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.chaincodes.close();
    this.store.close();
  }

  // ---------------------------------------------------------------- proposal checks

  /** Endorser's checks (core/endorser/msgvalidation.go): header, creator, signature, txID. */
  #checkProposal(sp: SignedProposalLike | undefined): { p: ParsedProposal; creator: ValidIdentity } {
    if (!sp) throw new GatewayFailure(grpc.status.INVALID_ARGUMENT, "a signed proposal is required");
    let p: ParsedProposal;
    try {
      p = parseSignedProposal(sp);
    } catch (err) {
      throw new GatewayFailure(grpc.status.INVALID_ARGUMENT, (err as MalformedError).message);
    }
    if (p.channelHeader.getType() !== common.HeaderType.ENDORSER_TRANSACTION) {
      throw new GatewayFailure(grpc.status.INVALID_ARGUMENT, `invalid header type ${p.channelHeader.getType()}`);
    }
    if (p.channelHeader.getChannelId() !== this.channel) {
      throw new GatewayFailure(grpc.status.NOT_FOUND, `channel '${p.channelHeader.getChannelId()}' not found`);
    }
    let creator: ValidIdentity;
    try {
      creator = this.msps.validate(p.signatureHeader.getCreator_asU8());
    } catch (err) {
      throw new GatewayFailure(grpc.status.PERMISSION_DENIED, (err as IdentityError).message);
    }
    // checked once (nothing here checks a proposal's signature again), so not remembered
    const sig = verifyFabricSignature(creator.publicKey, p.proposalBytes, sp.getSignature_asU8());
    if (!sig.ok) throw new GatewayFailure(grpc.status.PERMISSION_DENIED, `signature validation failed: ${sig.reason}`);
    const expected = computeTxId(p.signatureHeader.getNonce_asU8(), p.signatureHeader.getCreator_asU8());
    if (expected !== p.txId) throw new GatewayFailure(grpc.status.INVALID_ARGUMENT, `invalid txID. got [${p.txId}], expected [${expected}]`);
    if (p.chaincodeName !== "qscc" && !this.chaincodes.isRegistered(p.chaincodeName)) {
      throw new GatewayFailure(grpc.status.NOT_FOUND, `chaincode ${p.chaincodeName} not found`);
    }
    return { p, creator };
  }

  #peerFor(mspId: string): PeerNode | undefined {
    return this.#peers.find((x) => x.org.mspId === mspId);
  }

  /** One endorser's work (core/endorser/endorser.go ProcessProposal): simulate, then sign the response payload. */
  async #endorseOn(node: PeerNode, p: ParsedProposal): Promise<Endorsed> {
    if (p.chaincodeName === "qscc") return { response: this.#qscc(p) };
    // each peer simulates on its own chaincode stream
    const ex = await this.chaincodes.simulate(this.channel, p.chaincodeName, p.txId, p.signedProposalBytes, p.inputBytes, this.#peers.indexOf(node));
    if (ex.response.getStatus() >= 400) return { response: ex.response };
    // ChaincodeAction{results, events, response, chaincode_id{name, version}} inside
    // ProposalResponsePayload{proposal_hash, extension}, as protoutil marshals them
    const cca = new Sub([
      [1, ex.simulator.txRwsetBytes()],
      [2, ex.event ?? EMPTY],
      [3, ex.response.serializeBinary(), true],
      [4, new Sub([[2, p.chaincodeName], [3, "1.0"]]), true],
    ]);
    const prpBytes = encodeMessage([
      [1, p.proposalHash],
      [2, cca],
    ]);
    const signature = this.#signatures.sign(node.identity.privateKey, Buffer.concat([prpBytes, node.serialized]));
    const e = encodeMessage([
      [1, node.serialized],
      [2, signature],
    ]);
    return { response: ex.response, prpBytes, endorsement: e };
  }

  /**
   * The query system chaincode (core/scc/qscc): GetChainInfo, GetBlockByNumber,
   * GetTransactionByID. Read-only: a response without an endorsement, so Endorse fails.
   */
  #qscc(p: ParsedProposal): peer.Response {
    const args = p.input.getArgsList_asU8().map((a) => Buffer.from(a).toString("utf8"));
    const r = new peer.Response();
    const fail = (msg: string) => {
      r.setStatus(500);
      r.setMessage(msg);
      return r;
    };
    const [fn, ch, arg] = args;
    if (ch !== this.channel) return fail(`Invalid chain ID, ${ch ?? ""}`);
    switch (fn) {
      case "GetChainInfo": {
        const last = this.getBlock(this.height - 1)!.getHeader()!;
        const info = new common.BlockchainInfo();
        info.setHeight(this.height);
        info.setCurrentblockhash(blockHeaderHash(last));
        info.setPreviousblockhash(last.getPreviousHash_asU8());
        r.setPayload(info.serializeBinary());
        break;
      }
      case "GetBlockByNumber": {
        const n = Number(arg);
        const bytes = Number.isSafeInteger(n) && n >= 0 && n < this.height ? this.store.getBlockBytes(n) : null;
        if (!bytes) return fail(`Failed to get block number ${arg ?? ""}, error Entry not found in index`);
        r.setPayload(bytes);
        break;
      }
      case "GetTransactionByID": {
        const rec = this.#reportableTx(arg ?? "");
        if (!rec) return fail(`Failed to get transaction with id ${arg ?? ""}, error no such transaction ID [${arg ?? ""}] in index`);
        const pt = new peer.ProcessedTransaction();
        pt.setTransactionenvelope(common.Envelope.deserializeBinary(this.getBlock(rec.blockNum)!.getData()!.getDataList_asU8()[rec.txNum]!));
        pt.setValidationcode(rec.code);
        r.setPayload(pt.serializeBinary());
        break;
      }
      default:
        return fail(`Requested function ${fn ?? ""} not found.`);
    }
    r.setStatus(200);
    return r;
  }

  // ---------------------------------------------------------------- gateway

  /** The Gateway handlers, for GatewayService (Endorse answers the EndorseResponse's bytes). */
  #gatewayService(): Record<"evaluate" | "endorse" | "submit" | "commitStatus" | "chaincodeEvents", grpc.UntypedHandleCall> {
    const wrap =
      <Req, Res>(code: grpc.status, f: (req: Req) => Promise<Res>) =>
      (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
        f(call.request).then(
          (r) => cb(null, r),
          (err) => cb(asFailure(err, code).toServiceError() as grpc.ServiceError),
        );
      };
    return {
      evaluate: wrap(grpc.status.UNKNOWN, (req: gateway.EvaluateRequest) => this.#evaluate(req)),
      endorse: wrap(grpc.status.ABORTED, (req: EndorseRequestIn) => this.#endorse(req)),
      submit: wrap(grpc.status.ABORTED, (req: SubmitRequestIn) => this.#submit(req)),
      commitStatus: (call: grpc.ServerUnaryCall<gateway.SignedCommitStatusRequest, gateway.CommitStatusResponse>, cb: grpc.sendUnaryData<gateway.CommitStatusResponse>) => {
        const onCancel = new AbortController();
        call.on("cancelled", () => onCancel.abort());
        this.#commitStatus(call.request, onCancel.signal).then(
          (r) => cb(null, r),
          (err) => cb(asFailure(err, grpc.status.UNAVAILABLE).toServiceError() as grpc.ServiceError),
        );
      },
      chaincodeEvents: (call: grpc.ServerWritableStream<gateway.SignedChaincodeEventsRequest, gateway.ChaincodeEventsResponse>) => this.#chaincodeEvents(call),
    };
  }

  async #evaluate(req: gateway.EvaluateRequest): Promise<gateway.EvaluateResponse> {
    const { p, creator } = this.#checkProposal(req.getProposedTransaction());
    const targets = req.getTargetOrganizationsList();
    const node = this.#peerFor(targets[0] ?? creator.mspId) ?? this.#peers[0]!;
    const r = await this.#endorseOn(node, p).catch((err: Error) => {
      throw new GatewayFailure(grpc.status.UNAVAILABLE, `failed to evaluate transaction, see attached details for more info`, [
        { address: node.address, mspId: node.org.mspId, message: err.message },
      ]);
    });
    if (p.chaincodeName !== "qscc") await this.#durableReads(node);
    const st = r.response.getStatus();
    if (st < 200 || st >= 400) {
      const msg = `chaincode response ${st}, ${r.response.getMessage()}`;
      throw new GatewayFailure(grpc.status.UNKNOWN, `evaluate call to endorser returned error: ${msg}`, [
        { address: node.address, mspId: node.org.mspId, message: msg },
      ]);
    }
    const out = new gateway.EvaluateResponse();
    out.setResult(r.response);
    return out;
  }

  /**
   * An evaluation's answer is a report of state: it may rest only on durable blocks (a Fabric
   * peer updates its state database after the block is synced). The simulation read committed
   * state, so wait until every block committed by now has been synced and reported (the
   * publishing chain holds exactly those), and refuse if a sync failed: that state may be
   * gone after a restart.
   */
  async #durableReads(node: PeerNode): Promise<void> {
    await this.#publishing;
    if (this.#ledgerFailure) {
      throw new GatewayFailure(grpc.status.UNAVAILABLE, "failed to evaluate transaction, see attached details for more info", [
        { address: node.address, mspId: node.org.mspId, message: this.#ledgerFailure },
      ]);
    }
  }

  async #endorse(req: EndorseRequestIn): Promise<Uint8Array> {
    const { p } = this.#checkProposal(req.proposedTransaction);
    const wanted = req.endorsingOrganizations;
    // The gateway's plan for the default policy (MAJORITY Endorsement of 2 orgs): every peer org.
    const nodes = wanted.length > 0 ? wanted.map((m) => this.#peerFor(m)).filter((n): n is PeerNode => !!n) : this.#peers;
    if (nodes.length === 0) throw new GatewayFailure(grpc.status.UNAVAILABLE, "no endorsing peers found for the requested organizations");
    // The peers endorse at once when each has its own chaincode stream (as each Fabric peer
    // does); a chaincode with a single stream (classic registration) keys executions by
    // channel+txid, so there they run one after the other.
    const results: PeerResult[] = [];
    if (this.chaincodes.lanes(p.chaincodeName) >= this.#peers.length) results.push(...(await Promise.all(nodes.map((n) => this.#endorseResult(n, p)))));
    else for (const n of nodes) results.push(await this.#endorseResult(n, p));
    const failures = results.flatMap(({ n, r, err }) => {
      if (err !== null) return [{ address: n.address, mspId: n.org.mspId, message: err }];
      if (!r!.endorsement) return [{ address: n.address, mspId: n.org.mspId, message: `chaincode response ${r!.response.getStatus()}, ${r!.response.getMessage()}` }];
      return [];
    });
    if (failures.length > 0) throw new GatewayFailure(grpc.status.ABORTED, "failed to endorse transaction, see attached details for more info", failures);
    // after a failed sync the simulations read state a restart may not have, and nothing can be ordered
    if (this.#ledgerFailure) throw new GatewayFailure(grpc.status.UNAVAILABLE, `failed to endorse transaction: ${this.#ledgerFailure}`);
    const first = results[0]!.r!;
    for (const { r } of results) {
      if (!Buffer.from(r!.prpBytes!).equals(Buffer.from(first.prpBytes!))) {
        throw new GatewayFailure(grpc.status.ABORTED, "failed to assemble transaction: ProposalResponsePayloads do not match");
      }
    }
    // protoutil.CreateSignedTx, without the client's signature (the client signs the payload):
    // Payload{Header{channel_header, signature_header}, Transaction{TransactionAction{
    // signature_header, ChaincodeActionPayload{ChaincodeProposalPayload without the transient
    // map, ChaincodeEndorsedAction{prp, endorsements}}}}}
    const cea = new Sub([[1, first.prpBytes!], ...results.map(({ r }): LenField => [2, r!.endorsement!, true])]);
    const cap = new Sub([
      [1, p.cppWithoutTransient],
      [2, cea, true],
    ]);
    const shdr = p.header.getSignatureHeader_asU8();
    const ta = new Sub([
      [1, shdr],
      [2, cap],
    ]);
    const tx = new Sub([[1, ta, true]]);
    const hdr = new Sub([
      [1, p.header.getChannelHeader_asU8()],
      [2, shdr],
    ]);
    const payload = new Sub([
      [1, hdr, true],
      [2, tx],
    ]);
    // EndorseResponse{prepared_transaction: Envelope{payload}} (no signature yet), written in
    // one buffer: google-protobuf's bytes for the same message (protowire.test.ts)
    return encodeMessage([[1, new Sub([[1, payload]]), true]]);
  }

  /** One peer's endorsement or its error, for the gateway to collect. */
  #endorseResult(n: PeerNode, p: ParsedProposal): Promise<PeerResult> {
    return this.#endorseOn(n, p).then(
      (r) => ({ n, r, err: null }),
      (err: Error) => ({ n, r: null, err: err.message }),
    );
  }

  async #submit(req: SubmitRequestIn): Promise<Uint8Array> {
    const env = req.envelope;
    if (!env) throw new GatewayFailure(grpc.status.INVALID_ARGUMENT, "a prepared transaction is required");
    if (req.channelId !== this.channel) throw new GatewayFailure(grpc.status.NOT_FOUND, `channel '${req.channelId}' not found`);
    // Orderer ingress (orderer/common/msgprocessor): the signer must satisfy the channel's Writers policy.
    try {
      const payload = common.Payload.deserializeBinary(env.payload);
      const shdr = common.SignatureHeader.deserializeBinary(payload.getHeader()!.getSignatureHeader_asU8());
      const creator = this.msps.validate(shdr.getCreator_asU8());
      if (creator.mspId === this.ordererOrg.mspId) throw ordererRejected(this.ordererOrg.mspId, "implicit policy evaluation failed - 0 sub-policies were satisfied");
      const sig = this.#signatures.verify(creator.publicKey, env.payload, env.signature);
      if (!sig.ok) throw ordererRejected(this.ordererOrg.mspId, `signature validation failed: ${sig.reason}`);
    } catch (err) {
      if (err instanceof GatewayFailure) throw err;
      throw ordererRejected(this.ordererOrg.mspId, (err as Error).message);
    }
    if (this.#closing || this.#ledgerFailure) throw new GatewayFailure(grpc.status.UNAVAILABLE, "no orderer nodes available");
    this.#enqueue(req.envelopeBytes());
    return EMPTY; // SubmitResponse{} (no fields)
  }

  async #commitStatus(req: gateway.SignedCommitStatusRequest, signal: AbortSignal): Promise<gateway.CommitStatusResponse> {
    const reqBytes = req.getRequest_asU8();
    const csr = gateway.CommitStatusRequest.deserializeBinary(reqBytes);
    this.#checkSigned(csr.getIdentity_asU8(), reqBytes, req.getSignature_asU8());
    if (csr.getChannelId() !== this.channel) throw new GatewayFailure(grpc.status.NOT_FOUND, `channel '${csr.getChannelId()}' not found`);
    const txId = csr.getTransactionId();
    const rec = await this.#waitTx(txId, signal);
    const out = new gateway.CommitStatusResponse();
    out.setResult(rec.code as never);
    out.setBlockNumber(rec.blockNum);
    return out;
  }

  #checkSigned(identity: Uint8Array, bytes: Uint8Array, signature: Uint8Array): ValidIdentity {
    let id: ValidIdentity;
    try {
      id = this.msps.validate(identity);
    } catch (err) {
      throw new GatewayFailure(grpc.status.PERMISSION_DENIED, (err as Error).message);
    }
    const r = verifyFabricSignature(id.publicKey, bytes, signature); // a one-off request: not remembered
    if (!r.ok) throw new GatewayFailure(grpc.status.PERMISSION_DENIED, `signature validation failed: ${r.reason}`);
    return id;
  }

  /** The tx's record if its block is durable (committed and synced), else null. */
  #reportableTx(txId: string): TxRecord | null {
    const r = this.store.getTx(txId);
    return r && r.blockNum < this.height ? r : null;
  }

  /** The tx's record once its block is durable (indexed by txId: a block wakes only its own waiters). */
  #waitTx(txId: string, signal: AbortSignal): Promise<TxRecord> {
    const now = this.#reportableTx(txId);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiters = this.#commitWaiters.get(txId) ?? new Set();
      this.#commitWaiters.set(txId, waiters);
      const onCommit = (r: TxRecord) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const onAbort = () => {
        waiters.delete(onCommit);
        if (waiters.size === 0 && this.#commitWaiters.get(txId) === waiters) this.#commitWaiters.delete(txId);
        reject(new GatewayFailure(grpc.status.CANCELLED, "commit status request cancelled"));
      };
      waiters.add(onCommit);
      signal.addEventListener("abort", onAbort);
    });
  }

  /** After a block is stored: answer the CommitStatus calls waiting for its transactions. */
  #wakeCommitWaiters(txs: readonly TxRecord[]): void {
    if (this.#commitWaiters.size === 0) return;
    for (const t of txs) {
      const waiters = t.txId ? this.#commitWaiters.get(t.txId) : undefined;
      if (!waiters) continue;
      this.#commitWaiters.delete(t.txId);
      for (const w of waiters) w(t);
    }
  }

  /** Resolves the first block >= `from` as it commits; null when the stream is gone. */
  #nextBlock(from: number, isGone: () => boolean): Promise<number | null> {
    if (from < this.height) return Promise.resolve(from);
    return new Promise((resolve) => {
      const check = () => {
        if (isGone() || this.#closing) {
          this.events.off("block", check);
          clearInterval(poll);
          resolve(null);
        } else if (from < this.height) {
          this.events.off("block", check);
          clearInterval(poll);
          resolve(from);
        }
      };
      const poll = setInterval(check, 500);
      this.events.on("block", check);
    });
  }

  #seekStart(pos: orderer.SeekPosition | undefined): number {
    if (!pos) return this.height;
    switch (pos.getTypeCase()) {
      case orderer.SeekPosition.TypeCase.OLDEST:
        return 0;
      case orderer.SeekPosition.TypeCase.NEWEST:
        return this.height - 1;
      case orderer.SeekPosition.TypeCase.SPECIFIED:
        return pos.getSpecified()!.getNumber();
      default:
        return this.height; // NextCommit
    }
  }

  async #chaincodeEvents(call: grpc.ServerWritableStream<gateway.SignedChaincodeEventsRequest, gateway.ChaincodeEventsResponse>): Promise<void> {
    this.#streams.add(call);
    let gone = false;
    call.on("cancelled", () => (gone = true));
    call.on("close", () => (gone = true));
    try {
      const reqBytes = call.request.getRequest_asU8();
      const req = gateway.ChaincodeEventsRequest.deserializeBinary(reqBytes);
      this.#checkSigned(req.getIdentity_asU8(), reqBytes, call.request.getSignature_asU8());
      if (req.getChannelId() !== this.channel) throw new GatewayFailure(grpc.status.NOT_FOUND, `channel '${req.getChannelId()}' not found`);
      const cc = req.getChaincodeId();
      let n = this.#seekStart(req.getStartPosition());
      let skipUntil = req.getAfterTransactionId();
      for (;;) {
        const got = await this.#nextBlock(n, () => gone);
        if (got === null) return;
        const txs = this.#blockTxs(n);
        const events: peer.ChaincodeEvent[] = [];
        for (const t of txs) {
          if (skipUntil) {
            if (t.txId === skipUntil) skipUntil = "";
            continue;
          }
          if (t.code === Code.VALID && t.chaincodeId === cc && t.event) events.push(t.event);
        }
        skipUntil = ""; // only applies within the start block
        if (events.length > 0) {
          const resp = new gateway.ChaincodeEventsResponse();
          resp.setEventsList(events);
          resp.setBlockNumber(n);
          if (!call.write(resp)) await new Promise((r) => call.once("drain", r));
        }
        n++;
      }
    } catch (err) {
      // emit("error") sends the status (grpc-js ends the call with it); destroy(err) never did.
      if (!gone) call.emit("error", asFailure(err, grpc.status.UNAVAILABLE).toServiceError() as grpc.ServiceError);
    } finally {
      this.#streams.delete(call);
    }
  }

  // ---------------------------------------------------------------- deliver

  #deliverService(): peer.IDeliverServer {
    return {
      deliver: (call) => this.#deliver(call, "full"),
      deliverFiltered: (call) => this.#deliver(call, "filtered"),
      deliverWithPrivateData: (call) => this.#deliver(call, "private"),
    };
  }

  /** common/deliver/deliver.go: one SeekInfo at a time; blocks start..stop, then SUCCESS; then the next request. */
  #deliver(call: grpc.ServerDuplexStream<common.Envelope, peer.DeliverResponse>, kind: "full" | "filtered" | "private"): void {
    this.#streams.add(call);
    let gone = false;
    const requests: common.Envelope[] = [];
    let wake: (() => void) | null = null;
    call.on("data", (env: common.Envelope) => {
      requests.push(env);
      wake?.();
    });
    const end = () => {
      gone = true;
      wake?.();
    };
    call.on("end", end);
    call.on("cancelled", end);
    call.on("close", end);
    call.on("error", end);
    const status = (s: number) => {
      const r = new peer.DeliverResponse();
      r.setStatus(s as never);
      call.write(r);
    };
    const loop = async () => {
      for (;;) {
        while (requests.length === 0 && !gone) await new Promise<void>((r) => (wake = r));
        if (gone) break;
        const env = requests.shift()!;
        let seek: orderer.SeekInfo;
        try {
          const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
          const chdr = common.ChannelHeader.deserializeBinary(payload.getHeader()!.getChannelHeader_asU8());
          const shdr = common.SignatureHeader.deserializeBinary(payload.getHeader()!.getSignatureHeader_asU8());
          if (chdr.getChannelId() !== this.channel) {
            status(common.Status.NOT_FOUND);
            continue;
          }
          try {
            // the channel's Readers policy: any member of a channel org, with a valid signature
            this.#checkSigned(shdr.getCreator_asU8(), env.getPayload_asU8(), env.getSignature_asU8());
          } catch {
            status(common.Status.FORBIDDEN);
            continue;
          }
          seek = orderer.SeekInfo.deserializeBinary(payload.getData_asU8());
        } catch {
          status(common.Status.BAD_REQUEST);
          continue;
        }
        const start = this.#seekStart(seek.getStart());
        const stopPos = seek.getStop();
        const stop = stopPos?.getTypeCase() === orderer.SeekPosition.TypeCase.SPECIFIED ? stopPos.getSpecified()!.getNumber() : stopPos?.getTypeCase() === orderer.SeekPosition.TypeCase.OLDEST ? 0 : this.height - 1;
        if (stop < start) {
          status(common.Status.BAD_REQUEST);
          continue;
        }
        if (seek.getBehavior() === orderer.SeekInfo.SeekBehavior.FAIL_IF_NOT_READY && start >= this.height) {
          status(common.Status.NOT_FOUND);
          continue;
        }
        let n = start;
        let ok = true;
        while (n <= stop) {
          const got = await this.#nextBlock(n, () => gone);
          if (got === null) {
            ok = false;
            break;
          }
          const block = this.getBlock(n)!;
          const r = new peer.DeliverResponse();
          if (kind === "filtered") r.setFilteredBlock(filteredBlockOf(block, this.channel, this.#blockTxs(n)));
          else if (kind === "private") {
            const bpd = new peer.BlockAndPrivateData();
            bpd.setBlock(block);
            r.setBlockAndPrivateData(bpd);
          } else r.setBlock(block);
          if (!call.write(r)) await new Promise((res) => call.once("drain", res));
          n++;
        }
        if (!ok) break;
        status(common.Status.SUCCESS);
      }
      this.#streams.delete(call);
      if (!gone) call.end();
    };
    void loop();
  }

  // ---------------------------------------------------------------- orderer and committer

  #enqueue(envBytes: Uint8Array): void {
    this.#queue.push({ envBytes });
    if (this.#queue.length >= this.#batchMax) this.#cut();
    else if (!this.#timer) this.#timer = setTimeout(() => this.#cut(), this.#batchTimeoutMs);
  }

  #cut(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = this.#queue.splice(0, this.#batchMax);
    if (batch.length === 0) return;
    this.#cutting = this.#cutting.then(() => this.#orderAndCommit(batch)).catch((err) => this.#reportError(err));
    if (this.#queue.length > 0 && !this.#timer) this.#timer = setTimeout(() => this.#cut(), this.#batchTimeoutMs);
  }

  /**
   * A failure for the "error" listeners, or stderr when there are none: emitting "error" with
   * no listener throws, which inside the ordering or publishing chain would stop every later
   * block.
   */
  #reportError(err: unknown): void {
    if (this.events.listenerCount("error") > 0) this.events.emit("error", err);
    else console.error(`embedded Fabric network: ${(err as Error)?.message ?? String(err)}`);
  }

  /** The orderer cuts and signs the block; the committer validates it, sets the filter and stores it. */
  async #orderAndCommit(batch: Pending[]): Promise<void> {
    if (this.#closed) return;
    const num = this.store.height;
    const data = new common.BlockData();
    data.setDataList(batch.map((b) => b.envBytes));
    const header = new common.BlockHeader();
    header.setNumber(num);
    header.setPreviousHash(blockHeaderHash(this.#lastHeader!));
    header.setDataHash(blockDataHash(data));
    // SIGNATURES metadata (orderer/common/multichannel/blockwriter.go)
    const obm = new common.OrdererBlockMetadata();
    const lc = new common.LastConfig();
    lc.setIndex(0);
    obm.setLastConfig(lc);
    const value = obm.serializeBinary();
    const shdr = new common.SignatureHeader();
    shdr.setCreator(serializeIdentity(this.ordererOrg.mspId, this.#ordererId.certPem));
    shdr.setNonce(randomBytes(24));
    const shdrBytes = shdr.serializeBinary();
    const ms = new common.MetadataSignature();
    ms.setSignatureHeader(shdrBytes);
    ms.setSignature(signLowS(this.#ordererId.privateKey, Buffer.concat([value, shdrBytes, blockHeaderBytes(header)])));
    const sigMd = new common.Metadata();
    sigMd.setValue(value);
    sigMd.addSignatures(ms);
    const lcMd = new common.Metadata();
    lcMd.setValue(lc.serializeBinary());

    {
      const { codes, writes, txIds, blockTxs } = this.#validate(num, batch.map((b) => b.envBytes));
      const md = new common.BlockMetadata();
      md.setMetadataList([sigMd.serializeBinary(), lcMd.serializeBinary(), Uint8Array.from(codes), new Uint8Array(), new Uint8Array()]);
      const block = new common.Block();
      block.setHeader(header);
      block.setData(data);
      block.setMetadata(md);
      const txs: TxRecord[] = codes.map((code, i) => ({ txId: code === Code.DUPLICATE_TXID ? "" : txIds[i]!, blockNum: num, txNum: i, code }));
      this.store.commitBlock(num, block.serializeBinary(), txs, writes);
      this.#lastHeader = header;
      this.#remember(num, block, blockTxs);
      // reported (commit statuses, events) only once it is on disk; the next block is
      // validated and the next proposals endorsed while the disk syncs
      // The chain never rejects: a rejected link would skip every later block's publishing
      // (and, with no one awaiting the last link, be an unhandled rejection).
      this.#publishing = this.#publishing.then(async () => {
        if (this.#ledgerFailure) return;
        try {
          await this.store.flush();
        } catch (err) {
          // a failed fsync leaves the block's durability unknown: stop reporting and ordering
          this.#ledgerFailure = `ledger sync failed: ${(err as Error).message}`;
          this.#reportError(err);
          return;
        }
        this.#wakeCommitWaiters(txs);
        try {
          this.events.emit("block", block);
        } catch (err) {
          this.#reportError(err); // a listener's failure is not the ledger's
        }
      });
    }
  }

  /** The committer's validation (core/committer/txvalidator + ledger MVCC). */
  #validate(blockNum: number, envs: Uint8Array[]): { codes: number[]; writes: StateWrite[]; txIds: string[]; blockTxs: BlockTx[] } {
    const codes: number[] = [];
    const txIds: string[] = [];
    const blockTxs: BlockTx[] = [];
    const writes: StateWrite[] = [];
    const seen = new Set<string>();
    const updated = new Map<string, Set<string>>(); // ns -> keys written by earlier valid txs
    envs.forEach((envBytes, txNum) => {
      const r = this.#validateTx(envBytes, txNum, blockNum, seen, updated);
      codes.push(r.code);
      txIds.push(r.txId);
      blockTxs.push(this.#blockTxOf(envBytes, r));
      if (r.code === Code.VALID) {
        for (const w of r.writes) {
          writes.push(w);
          let s = updated.get(w.ns);
          if (!s) updated.set(w.ns, (s = new Set()));
          s.add(w.key);
        }
      }
    });
    return { codes, writes, txIds, blockTxs };
  }

  /**
   * What decodeBlockTx would read back from the stored block, from the parts validation has
   * already decoded (a valid transaction); anything else is decoded again (rare).
   */
  #blockTxOf(envBytes: Uint8Array, r: { code: number; txId: string; cca?: peer.ChaincodeAction }): BlockTx {
    if (r.cca) {
      try {
        return endorserTx(r.txId, r.code, r.cca);
      } catch {
        // an undecodable event: decodeBlockTx gives its fallback for it
      }
    }
    return decodeBlockTx(envBytes, r.code);
  }

  #validateTx(
    envBytes: Uint8Array,
    txNum: number,
    blockNum: number,
    seen: Set<string>,
    updated: Map<string, Set<string>>,
  ): { code: number; txId: string; writes: StateWrite[]; cca?: peer.ChaincodeAction } {
    let env: common.Envelope, payload: common.Payload, chdr: common.ChannelHeader, shdr: common.SignatureHeader;
    try {
      env = common.Envelope.deserializeBinary(envBytes);
      payload = common.Payload.deserializeBinary(env.getPayload_asU8());
      const h = payload.getHeader();
      if (!h) return fail(Code.BAD_COMMON_HEADER);
      chdr = common.ChannelHeader.deserializeBinary(h.getChannelHeader_asU8());
      shdr = common.SignatureHeader.deserializeBinary(h.getSignatureHeader_asU8());
    } catch {
      return fail(Code.BAD_PAYLOAD);
    }
    const txId = chdr.getTxId();
    if (chdr.getChannelId() !== this.channel) return fail(Code.TARGET_CHAIN_NOT_FOUND, txId);
    if (chdr.getType() !== common.HeaderType.ENDORSER_TRANSACTION) return fail(Code.UNKNOWN_TX_TYPE, txId);
    let creator: ValidIdentity;
    try {
      creator = this.msps.validate(shdr.getCreator_asU8());
    } catch {
      return fail(Code.BAD_CREATOR_SIGNATURE, txId);
    }
    if (!this.#signatures.verify(creator.publicKey, env.getPayload_asU8(), env.getSignature_asU8()).ok) return fail(Code.BAD_CREATOR_SIGNATURE, txId);
    if (computeTxId(shdr.getNonce_asU8(), shdr.getCreator_asU8()) !== txId) return fail(Code.BAD_PROPOSAL_TXID, txId);
    if (seen.has(txId) || this.store.getTx(txId)) return fail(Code.DUPLICATE_TXID, txId);
    seen.add(txId);
    let cap: peer.ChaincodeActionPayload, prpBytes: Uint8Array, prp: peer.ProposalResponsePayload, cca: peer.ChaincodeAction;
    try {
      const tx = peer.Transaction.deserializeBinary(payload.getData_asU8());
      const actions = tx.getActionsList();
      if (actions.length !== 1) return fail(Code.NIL_TXACTION, txId);
      cap = peer.ChaincodeActionPayload.deserializeBinary(actions[0]!.getPayload_asU8());
      prpBytes = cap.getAction()!.getProposalResponsePayload_asU8();
      prp = peer.ProposalResponsePayload.deserializeBinary(prpBytes);
      cca = peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8());
    } catch {
      return fail(Code.BAD_RESPONSE_PAYLOAD, txId);
    }
    // the endorsed response must be for this very proposal
    const h = payload.getHeader()!;
    const expectHash = createHash256(h.getChannelHeader_asU8(), h.getSignatureHeader_asU8(), cap.getChaincodeProposalPayload_asU8());
    if (!Buffer.from(prp.getProposalHash_asU8()).equals(expectHash)) return fail(Code.BAD_RESPONSE_PAYLOAD, txId);
    const ns = cca.getChaincodeId()?.getName() ?? "";
    // endorsement policy: MAJORITY of the peer orgs' Endorsement (role peer) policies
    const orgs = new Set<string>();
    for (const e of cap.getAction()!.getEndorsementsList()) {
      try {
        const id = this.msps.validate(e.getEndorser_asU8());
        if (!hasRole(id, "peer")) continue;
        if (!this.#signatures.verify(id.publicKey, Buffer.concat([prpBytes, e.getEndorser_asU8()]), e.getSignature_asU8()).ok) continue;
        if (this.peerOrgs.some((o) => o.mspId === id.mspId)) orgs.add(id.mspId);
      } catch {
        continue; // an invalid endorsement is ignored, as in Fabric
      }
    }
    if (orgs.size < Math.floor(this.peerOrgs.length / 2) + 1) return fail(Code.ENDORSEMENT_POLICY_FAILURE, txId);
    // TxRwSet.FromProtoBytes (the validation dispatcher): the whole read/write set, each
    // namespace's KVRWSet included, decodes or the transaction is BAD_RWSET
    const sets: { ns: string; set: KvRwsetIn; ranges: ledger.rwset.kvrwset.RangeQueryInfo[] }[] = [];
    try {
      const rwset = ledger.rwset.TxReadWriteSet.deserializeBinary(cca.getResults_asU8());
      for (const nsrw of rwset.getNsRwsetList()) {
        const set = readKvRwset(nsrw.getRwset_asU8());
        const ranges: ledger.rwset.kvrwset.RangeQueryInfo[] = [];
        for (const b of set.rangeQueries) ranges.push(kv.RangeQueryInfo.deserializeBinary(b));
        for (const b of set.metadataWrites) kv.KVMetadataWrite.deserializeBinary(b);
        sets.push({ ns: nsrw.getNamespace(), set, ranges });
      }
    } catch {
      return fail(Code.BAD_RWSET, txId);
    }
    const writes: StateWrite[] = [];
    for (const { ns: setNs, set, ranges } of sets) {
      if (setNs !== ns) return fail(Code.ILLEGAL_WRITESET, txId);
      const upd = updated.get(ns);
      // MVCC (kvledger/txmgmt/validation): each read version must still be the committed one
      for (const rd of set.reads) {
        if (upd?.has(rd.key)) return fail(Code.MVCC_READ_CONFLICT, txId);
        const cur = this.store.getState(ns, rd.key);
        const v = rd.version;
        if (!v ? cur !== null : !cur || cur.version.blockNum !== v.blockNum || cur.version.txNum !== v.txNum) {
          return fail(Code.MVCC_READ_CONFLICT, txId);
        }
      }
      // phantom check: re-run each range query and compare what it returns now
      for (const rq of ranges) {
        const raw = rq.getRawReads()?.getKvReadsList() ?? [];
        const start = rq.getStartKey();
        const end = rq.getEndKey();
        const last = raw.length > 0 ? raw[raw.length - 1]!.getKey() : null;
        const inRange = (k: string) => Buffer.compare(Buffer.from(k), Buffer.from(start)) >= 0 && (end === "" || Buffer.compare(Buffer.from(k), Buffer.from(end)) < 0) && (rq.getItrExhausted() || last === null || Buffer.compare(Buffer.from(k), Buffer.from(last)) <= 0);
        if (upd && [...upd].some(inRange)) return fail(Code.PHANTOM_READ_CONFLICT, txId);
        const limit = rq.getItrExhausted() ? Number.MAX_SAFE_INTEGER : raw.length;
        const now = rq.getItrExhausted() ? this.store.getRange(ns, start, end, 1_000_000) : this.store.getRange(ns, start, end, limit);
        if (now.length !== raw.length) return fail(Code.PHANTOM_READ_CONFLICT, txId);
        for (let i = 0; i < raw.length; i++) {
          const a = raw[i]!;
          const b = now[i]!;
          if (a.getKey() !== b.key || a.getVersion()?.getBlockNum() !== b.version.blockNum || a.getVersion()?.getTxNum() !== b.version.txNum) {
            return fail(Code.PHANTOM_READ_CONFLICT, txId);
          }
        }
      }
      for (const w of set.writes) {
        writes.push({ ns, key: w.key, isDelete: w.isDelete, value: w.value, version: { blockNum, txNum } });
      }
    }
    return { code: Code.VALID, txId, writes, cca };
  }
}
