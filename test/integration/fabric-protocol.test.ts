/**
 * Protocol details of the embedded Fabric network beyond the happy path: Deliver seek
 * semantics and refusals, range queries paged over QUERY_STATE_NEXT, PHANTOM_READ_CONFLICT,
 * DUPLICATE_TXID. A small probe contract (fabric-contract-api) runs as a second chaincode.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { common, gateway, ledger, msp, orderer, peer } from "@hyperledger/fabric-protos";
import { Context, Contract } from "fabric-contract-api";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeBlockTxs } from "../../chains/fabric/block.ts";
import { startChaincodeServer, type ChaincodeServerHandle } from "../../chains/fabric/chaincode-host.ts";
import { signLowS } from "../../chains/fabric/crypto.ts";
import { startFabricNode, type FabricNode } from "../../chains/fabric/devnet.ts";
import { connectGateway, type GatewayConnection } from "../../chains/fabric/gateway-client.ts";
import { loadOrCreateOrg, type Identity } from "../../chains/fabric/identity.ts";
import { serializeIdentity } from "../../chains/fabric/msp.ts";
import { timestampOf } from "../../chains/fabric/timestamp.ts";

class Probe extends Contract {
  constructor() {
    super("probe");
  }
  async PutMany(ctx: Context, prefix: string, n: string): Promise<void> {
    for (let i = 0; i < Number(n); i++) await ctx.stub.putState(`${prefix}${String(i).padStart(4, "0")}`, Buffer.from("x"));
  }
  async CountAndMark(ctx: Context, prefix: string): Promise<number> {
    let n = 0;
    const it = await ctx.stub.getStateByRange(prefix, prefix + "~");
    for (let r = await it.next(); !r.done; r = await it.next()) n++;
    await it.close();
    await ctx.stub.putState("mark", Buffer.from(String(n)));
    return n;
  }
}

const utf8 = (b: Uint8Array) => Buffer.from(b).toString("utf8");

function seekEnvelope(channel: string, id: Pick<Identity, "mspId" | "certPem" | "privateKey">, start: orderer.SeekPosition, stop: orderer.SeekPosition, behavior: number): common.Envelope {
  const chdr = new common.ChannelHeader();
  chdr.setType(common.HeaderType.DELIVER_SEEK_INFO);
  chdr.setChannelId(channel);
  chdr.setTimestamp(timestampOf(new Date()) as never);
  const shdr = new common.SignatureHeader();
  shdr.setCreator(serializeIdentity(id.mspId, id.certPem));
  shdr.setNonce(randomBytes(24));
  const hdr = new common.Header();
  hdr.setChannelHeader(chdr.serializeBinary());
  hdr.setSignatureHeader(shdr.serializeBinary());
  const seek = new orderer.SeekInfo();
  seek.setStart(start);
  seek.setStop(stop);
  seek.setBehavior(behavior as never);
  const payload = new common.Payload();
  payload.setHeader(hdr);
  payload.setData(seek.serializeBinary());
  const env = new common.Envelope();
  const bytes = payload.serializeBinary();
  env.setPayload(bytes);
  env.setSignature(signLowS(id.privateKey, bytes));
  return env;
}

const specified = (n: number) => {
  const p = new orderer.SeekPosition();
  const s = new orderer.SeekSpecified();
  s.setNumber(n);
  p.setSpecified(s);
  return p;
};

/** Sends one seek request on DeliverFiltered and collects responses until a status arrives. */
function deliverOnce(address: string, env: common.Envelope): Promise<{ blocks: number[]; status: number }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    "/protos.Deliver/DeliverFiltered",
    (m: common.Envelope) => Buffer.from(m.serializeBinary()),
    (b: Buffer) => peer.DeliverResponse.deserializeBinary(b),
    { deadline: Date.now() + 10_000 },
  );
  const blocks: number[] = [];
  return new Promise((resolve, reject) => {
    call.on("data", (r: peer.DeliverResponse) => {
      if (r.getTypeCase() === peer.DeliverResponse.TypeCase.STATUS) {
        call.cancel();
        client.close();
        resolve({ blocks, status: r.getStatus() });
      } else blocks.push(r.getFilteredBlock()!.getNumber());
    });
    call.on("error", (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
    call.write(env);
  });
}

describe("embedded Fabric network: Deliver semantics, range queries, phantom reads, duplicate txIds", function () {
  this.timeout(60_000);
  let dir: string;
  let node: FabricNode;
  let probe: ChaincodeServerHandle;
  let conn: GatewayConnection;
  let alice: Identity;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-proto-"));
    node = await startFabricNode({ dir, batchTimeoutMs: 50 });
    probe = await startChaincodeServer("probe", [Probe]);
    await node.network.connectChaincode(probe.address);
    alice = node.network.identity("Org1MSP", "alice");
    conn = connectGateway(node.network.address, alice);
  });

  after(async () => {
    conn?.close();
    await node?.close();
    probe?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("range queries page past 100 results (QUERY_STATE_NEXT) and are re-checked at commit: PHANTOM_READ_CONFLICT (12)", async () => {
    const c = conn.gateway.getNetwork(node.network.channel).getContract("probe");
    await c.submitTransaction("PutMany", "r:", "150");
    assert.equal(utf8(await c.evaluateTransaction("CountAndMark", "r:")), "150");
    const counting = await c.newProposal("CountAndMark", { arguments: ["r:"] }).endorse();
    await c.submitTransaction("PutMany", "r:1", "1"); // inserts r:10000 inside the range
    const st = await (await counting.submit()).getStatus();
    assert.equal(st.code, peer.TxValidationCode.PHANTOM_READ_CONFLICT);
    assert.equal(st.successful, false);
  });

  it("marks a resubmitted transaction DUPLICATE_TXID (9) and keeps the first one's status", async () => {
    const c = conn.gateway.getNetwork(node.network.channel).getContract("probe");
    const tx = await c.newProposal("PutMany", { arguments: ["d:", "1"] }).endorse();
    const first = await (await tx.submit()).getStatus();
    const again = await (await tx.submit()).getStatus();
    assert.equal(first.code, peer.TxValidationCode.VALID);
    assert.deepEqual([again.code, again.blockNumber], [first.code, first.blockNumber], "CommitStatus answers by tx id");
    await c.submitTransaction("PutMany", "e:", "1"); // make sure the duplicate's block is cut
    const codes: number[] = [];
    for (let n = Number(first.blockNumber) + 1; n < node.network.height; n++) {
      for (const t of decodeBlockTxs(node.network.getBlock(n)!)) if (t.txId === tx.getTransactionId()) codes.push(t.code);
    }
    assert.deepEqual(codes, [peer.TxValidationCode.DUPLICATE_TXID]);
  });

  it("a transaction endorsed by one org of two fails the MAJORITY policy: ENDORSEMENT_POLICY_FAILURE (10), no state change", async () => {
    const c = conn.gateway.getNetwork(node.network.channel).getContract("probe");
    const tx = await c.newProposal("PutMany", { arguments: ["p:", "1"], endorsingOrganizations: ["Org2MSP"] }).endorse();
    const st = await (await tx.submit()).getStatus();
    assert.equal(st.code, peer.TxValidationCode.ENDORSEMENT_POLICY_FAILURE);
    const both = await (await (await c.newProposal("CountAndMark", { arguments: ["p:"] }).endorse()).submit()).getStatus();
    assert.equal(both.code, peer.TxValidationCode.VALID);
    assert.equal(utf8(await c.evaluateTransaction("CountAndMark", "p:")), "0", "the one-org write never landed");
  });

  it("a transaction whose endorsed read/write set does not decode is BAD_RWSET (11), and its block still commits", async () => {
    const c = conn.gateway.getNetwork(node.network.channel).getContract("probe");
    const tx = await c.newProposal("PutMany", { arguments: ["w:", "1"] }).endorse();
    // the same transaction with its namespace's KVRWSet cut short, endorsed again by both
    // peers (as endorsers that signed such bytes would have) and signed by the client
    const prepared = gateway.PreparedTransaction.deserializeBinary(tx.getBytes());
    const env = prepared.getEnvelope()!;
    const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
    const ptx = peer.Transaction.deserializeBinary(payload.getData_asU8());
    const action = ptx.getActionsList()[0]!;
    const cap = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8());
    const cea = cap.getAction()!;
    const prp = peer.ProposalResponsePayload.deserializeBinary(cea.getProposalResponsePayload_asU8());
    const cca = peer.ChaincodeAction.deserializeBinary(prp.getExtension_asU8());
    const rwset = ledger.rwset.TxReadWriteSet.deserializeBinary(cca.getResults_asU8());
    rwset.getNsRwsetList()[0]!.setRwset(Uint8Array.from([0x0a, 0x05, 0x0a])); // a KVRead cut short
    cca.setResults(rwset.serializeBinary());
    prp.setExtension$(cca.serializeBinary());
    const prpBytes = prp.serializeBinary();
    cea.setProposalResponsePayload(prpBytes);
    for (const e of cea.getEndorsementsList()) {
      const endorser = node.network.identity(msp.SerializedIdentity.deserializeBinary(e.getEndorser_asU8()).getMspid(), "peer0");
      e.setSignature(signLowS(endorser.privateKey, Buffer.concat([prpBytes, e.getEndorser_asU8()])));
    }
    action.setPayload(cap.serializeBinary());
    payload.setData(ptx.serializeBinary());
    const payloadBytes = payload.serializeBinary();
    env.setPayload(payloadBytes);
    const broken = conn.gateway.newSignedTransaction(prepared.serializeBinary(), signLowS(alice.privateKey, payloadBytes));
    const st = await (await broken.submit()).getStatus();
    assert.equal(st.code, peer.TxValidationCode.BAD_RWSET);
    const after = await (await (await c.newProposal("PutMany", { arguments: ["w2:", "1"] }).endorse()).submit()).getStatus();
    assert.equal(after.code, peer.TxValidationCode.VALID);
  });

  it("Deliver: Specified start/stop then SUCCESS; FAIL_IF_NOT_READY beyond the height is NOT_FOUND; an unknown CA is FORBIDDEN", async () => {
    const B = orderer.SeekInfo.SeekBehavior;
    const ch = node.network.channel;
    const ok = await deliverOnce(node.network.address, seekEnvelope(ch, alice, specified(0), specified(2), B.BLOCK_UNTIL_READY));
    assert.deepEqual(ok, { blocks: [0, 1, 2], status: common.Status.SUCCESS });
    const h = node.network.height;
    const notReady = await deliverOnce(node.network.address, seekEnvelope(ch, alice, specified(h + 5), specified(h + 6), B.FAIL_IF_NOT_READY));
    assert.deepEqual(notReady, { blocks: [], status: common.Status.NOT_FOUND });
    const rogueDir = mkdtempSync(join(tmpdir(), "isthmus-rogue2-"));
    const rogue = (await loadOrCreateOrg(rogueDir, { mspId: "Org1MSP", domain: "org1.example.com", identities: [{ name: "alice", role: "client" }] })).identities.get("alice")!;
    const forbidden = await deliverOnce(node.network.address, seekEnvelope(ch, rogue, specified(0), specified(0), B.BLOCK_UNTIL_READY));
    assert.deepEqual(forbidden, { blocks: [], status: common.Status.FORBIDDEN });
    const wrongChannel = await deliverOnce(node.network.address, seekEnvelope("nope", alice, specified(0), specified(0), B.BLOCK_UNTIL_READY));
    assert.equal(wrongChannel.status, common.Status.NOT_FOUND);
    rmSync(rogueDir, { recursive: true, force: true });
  });
});
