/**
 * The embedded Fabric network through the real @hyperledger/fabric-gateway client over gRPC:
 * evaluate, submit, chaincode and block events, MVCC conflicts, signature and CA checks,
 * block hash chain and orderer signatures, restart persistence, and the Isthmus chaincode's
 * rules (tokens, HTLC, time bound) exercised through the network (no mock stub).
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { common, gateway as gw, peer } from "@hyperledger/fabric-protos";
import { connect, signers, type Contract, type GatewayError } from "@hyperledger/fabric-gateway";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeBlockTxs, verifyBlock } from "../../chains/fabric/block.ts";
import { signLowS } from "../../chains/fabric/crypto.ts";
import { CHAINCODE_NAME, startFabricNode, type FabricNode } from "../../chains/fabric/devnet.ts";
import { connectGateway, type GatewayConnection } from "../../chains/fabric/gateway-client.ts";
import { fabricAddress, loadOrCreateOrg, publicKeyOf, type Identity } from "../../chains/fabric/identity.ts";
import { serializeIdentity } from "../../chains/fabric/msp.ts";
import { computeTxId } from "../../chains/fabric/protoutil.ts";
import { timestampOf } from "../../chains/fabric/timestamp.ts";

const CH = "isthmus";
const utf8 = (b: Uint8Array) => Buffer.from(b).toString("utf8");
const sha = (hex: string) => "0x" + createHash("sha256").update(Buffer.from(hex.slice(2), "hex")).digest("hex");
const secret = () => {
  const preimage = "0x" + randomBytes(32).toString("hex");
  return { preimage, hashlock: sha(preimage) };
};

async function rejects(p: Promise<unknown>, check: (err: GatewayError & { details: { message: string }[] }) => void): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, "expected a rejection");
  check(caught as never);
}

const detailText = (err: { message: string; details?: { message: string }[] }) => err.message + " | " + (err.details ?? []).map((d) => d.message).join(" | ");

describe("embedded Fabric network (real fabric-gateway client)", function () {
  this.timeout(60_000);
  let dir: string;
  let node: FabricNode;
  let issuer: Identity, alice: Identity, carol: Identity;
  let conns: GatewayConnection[] = [];
  const contractFor = (id: Identity): Contract => {
    const c = connectGateway(node.network.address, id);
    conns.push(c);
    return c.gateway.getNetwork(CH).getContract(CHAINCODE_NAME);
  };
  let aliceAddr: string, carolAddr: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-"));
    node = await startFabricNode({ dir, batchTimeoutMs: 50 });
    issuer = node.network.identity("Org1MSP", "issuer");
    alice = node.network.identity("Org1MSP", "alice");
    carol = node.network.identity("Org2MSP", "carol");
    aliceAddr = fabricAddress(alice.mspId, alice.certPem);
    carolAddr = fabricAddress(carol.mspId, carol.certPem);
  });

  after(async () => {
    for (const c of conns) c.close();
    conns = [];
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("evaluates and submits; the chaincode derives the same address as fabricAddress()", async () => {
    const c = contractFor(issuer);
    assert.equal(utf8(await contractFor(alice).evaluateTransaction("WhoAmI")), aliceAddr);
    const h0 = node.network.height;
    assert.equal(utf8(await c.submitTransaction("Mint", "KRW", aliceAddr, "100000")), "100000");
    assert.equal(utf8(await c.evaluateTransaction("BalanceOf", "KRW", aliceAddr)), "100000");
    assert.ok(node.network.height > h0);
  });

  it("maps a chaincode error on evaluate to UNKNOWN with the endorser's detail, and on endorse to ABORTED", async () => {
    const c = contractFor(alice);
    await rejects(c.evaluateTransaction("GetLock", "nothex"), (err) => {
      assert.equal(err.code, grpc.status.UNKNOWN);
      assert.match(err.message, /evaluate call to endorser returned error: chaincode response 500/);
      assert.match(err.details[0]!.message, /BAD_HEX/);
    });
    await rejects(c.submitTransaction("Mint", "KRW", aliceAddr, "1"), (err) => {
      assert.equal(err.name, "EndorseError");
      assert.equal(err.code, grpc.status.ABORTED);
      assert.equal(err.details.length, 2, "both endorsers report");
      assert.match(err.details[0]!.message, /NOT_ISSUER/);
    });
  });

  it("the shim's parameter checks still answer: wrong count, then the same function called correctly", async () => {
    const c = contractFor(alice);
    await rejects(c.evaluateTransaction("BalanceOf", "KRW"), (err) => {
      assert.equal(err.code, grpc.status.UNKNOWN);
      assert.match(err.details[0]!.message, /Expected 2 parameters, but 1 have been supplied/);
    });
    await rejects(c.evaluateTransaction("BalanceOf", "KRW", aliceAddr, "extra"), (err) => {
      assert.match(err.details[0]!.message, /Expected 2 parameters, but 3 have been supplied/);
    });
    // the validator remembered for these parameters is the one that accepts a correct call
    for (let i = 0; i < 2; i++) assert.match(utf8(await c.evaluateTransaction("BalanceOf", "KRW", aliceAddr)), /^[0-9]+$/);
  });

  it("delivers chaincode events from a start block, with block numbers and tx ids, skipping invalid txs", async () => {
    const c = contractFor(alice);
    const start = BigInt(node.network.height);
    await c.submitTransaction("Transfer", "KRW", carolAddr, "100");
    await c.submitTransaction("Transfer", "KRW", carolAddr, "200");
    contractFor(carol);
    const events = await conns.at(-1)!.gateway.getNetwork(CH).getChaincodeEvents(CHAINCODE_NAME, { startBlock: start });
    const got: { name: string; amount: string; block: bigint; txId: string }[] = [];
    for await (const e of events) {
      got.push({ name: e.eventName, amount: JSON.parse(utf8(e.payload)).amount, block: e.blockNumber, txId: e.transactionId });
      if (got.length === 2) break;
    }
    events.close();
    assert.deepEqual(got.map((g) => [g.name, g.amount]), [["Transferred", "100"], ["Transferred", "200"]]);
    assert.ok(got[0]!.block >= start && got[1]!.block >= got[0]!.block);
    assert.match(got[0]!.txId, /^[0-9a-f]{64}$/);
    assert.equal(utf8(await c.evaluateTransaction("BalanceOf", "KRW", carolAddr)), "300");
  });

  it("two conflicting transactions in one block: one VALID, one MVCC_READ_CONFLICT (11)", async () => {
    const c = contractFor(alice);
    // both read alice's balance at the same version; the orderer batches them (50 ms timeout)
    const t1 = await c.newProposal("Transfer", { arguments: ["KRW", carolAddr, "10"] }).endorse();
    const t2 = await c.newProposal("Transfer", { arguments: ["KRW", carolAddr, "20"] }).endorse();
    const [s1, s2] = await Promise.all([t1.submit(), t2.submit()]);
    const [st1, st2] = await Promise.all([s1.getStatus(), s2.getStatus()]);
    assert.equal(st1.blockNumber, st2.blockNumber, "same block");
    assert.deepEqual([st1.code, st2.code].sort(), [peer.TxValidationCode.VALID, peer.TxValidationCode.MVCC_READ_CONFLICT]);
    assert.equal(st1.successful !== st2.successful, true);
    const block = node.network.getBlock(Number(st1.blockNumber))!;
    const codes = decodeBlockTxs(block).map((t) => t.code);
    assert.deepEqual([...codes].sort(), [0, 11]);
    // the invalid one changed nothing: 300 + 10 or 300 + 20
    const bal = utf8(await c.evaluateTransaction("BalanceOf", "KRW", carolAddr));
    assert.equal(bal, st1.successful ? "310" : "320");
  });

  it("rejects a proposal signed with the wrong key, and a certificate from an unknown CA", async () => {
    const bob = node.network.identity("Org1MSP", "bob");
    const wrongKey = connect({
      client: new grpc.Client(node.network.address, grpc.credentials.createInsecure()),
      identity: { mspId: alice.mspId, credentials: Buffer.from(alice.certPem) },
      signer: signers.newPrivateKeySigner(bob.privateKey),
      evaluateOptions: () => ({ deadline: Date.now() + 5000 }),
      endorseOptions: () => ({ deadline: Date.now() + 5000 }),
    });
    await rejects(wrongKey.getNetwork(CH).getContract(CHAINCODE_NAME).submitTransaction("Transfer", "KRW", carolAddr, "1"), (err) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(err.message, /signature validation failed: signature verification failed/);
    });
    wrongKey.close();
    const rogueDir = mkdtempSync(join(tmpdir(), "isthmus-rogue-"));
    const rogue = await loadOrCreateOrg(rogueDir, { mspId: "Org1MSP", domain: "org1.example.com", identities: [{ name: "alice", role: "client" }] });
    const rogueC = contractFor(rogue.identities.get("alice")!);
    await rejects(rogueC.evaluateTransaction("WhoAmI"), (err) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(err.message, /x509: certificate signed by unknown authority/);
    });
    rmSync(rogueDir, { recursive: true, force: true });
  });

  it("cuts real blocks: block 0 is a CONFIG block; data hash, previous-hash chain and orderer signature verify", async () => {
    const net = node.network;
    const ordererKey = publicKeyOf(net.ordererCertPem);
    let prev: common.Block | null = null;
    for (let n = 0; n < net.height; n++) {
      const b = net.getBlock(n)!;
      const r = verifyBlock(b, prev, ordererKey);
      assert.deepEqual(r, { ok: true }, `block ${n}`);
      prev = b;
    }
    const env = common.Envelope.deserializeBinary(net.getBlock(0)!.getData()!.getDataList_asU8()[0]!);
    const pl = common.Payload.deserializeBinary(env.getPayload_asU8());
    assert.equal(common.ChannelHeader.deserializeBinary(pl.getHeader()!.getChannelHeader_asU8()).getType(), common.HeaderType.CONFIG);
    const cfg = common.ConfigEnvelope.deserializeBinary(pl.getData_asU8()).getConfig()!;
    const app = cfg.getChannelGroup()!.getGroupsMap().get("Application")!;
    assert.deepEqual([...app.getGroupsMap().keys()].sort(), ["Org1MSP", "Org2MSP"]);
    assert.ok(app.getPoliciesMap().get("Endorsement"));
    // tampering is detected
    const b1 = net.getBlock(1)!;
    const bad = common.Block.deserializeBinary(b1.serializeBinary());
    bad.getData()!.setDataList([...bad.getData()!.getDataList_asU8().slice(0, -1), Buffer.from("x")]);
    assert.equal(verifyBlock(bad, net.getBlock(0), ordererKey).ok, false);
    const other = await loadOrCreateOrg(mkdtempSync(join(tmpdir(), "isthmus-ord-")), { mspId: "OrdererMSP", domain: "example.com", identities: [{ name: "orderer0", role: "orderer" }] });
    assert.equal(verifyBlock(b1, net.getBlock(0), publicKeyOf(other.identities.get("orderer0")!.certPem)).ok, false);
  });

  it("streams block and filtered-block events from a start block (Deliver with seek semantics)", async () => {
    const c = conns[0]!.gateway.getNetwork(CH);
    const blocks = await c.getBlockEvents({ startBlock: 0n });
    const seen: bigint[] = [];
    for await (const b of blocks) {
      seen.push(BigInt(b.getHeader()!.getNumber()));
      if (seen.length === 3) break;
    }
    blocks.close();
    assert.deepEqual(seen, [0n, 1n, 2n]);
    const filtered = await c.getFilteredBlockEvents({ startBlock: 1n });
    for await (const fb of filtered) {
      assert.equal(fb.getNumber(), 1);
      assert.equal(fb.getChannelId(), CH);
      const tx = fb.getFilteredTransactionsList()[0]!;
      assert.equal(tx.getTxValidationCode(), peer.TxValidationCode.VALID);
      assert.equal(tx.getTransactionActions()!.getChaincodeActionsList()[0]!.getChaincodeEvent()!.getEventName(), "Minted");
      break;
    }
    filtered.close();
    // NextCommit: the next block to be committed is what arrives first
    const next = await c.getBlockEvents();
    const expect = node.network.height;
    const pending = (async () => {
      for await (const b of next) return b.getHeader()!.getNumber();
    })();
    await contractFor(issuer).submitTransaction("Mint", "KRW", carolAddr, "1");
    assert.equal(await pending, expect);
    next.close();
  });

  it("refuses a proposal whose timestamp is beyond the endorsers' bound (signed by a valid identity)", async () => {
    const client = new grpc.Client(node.network.address, grpc.credentials.createInsecure());
    const creator = serializeIdentity(alice.mspId, alice.certPem);
    const nonce = randomBytes(24);
    const txId = computeTxId(nonce, creator);
    const chdr = new common.ChannelHeader();
    chdr.setType(common.HeaderType.ENDORSER_TRANSACTION);
    chdr.setChannelId(CH);
    chdr.setTxId(txId);
    chdr.setTimestamp(timestampOf(new Date(Date.now() - 120_000)) as never);
    const ext = new peer.ChaincodeHeaderExtension();
    const ccid = new peer.ChaincodeID();
    ccid.setName(CHAINCODE_NAME);
    ext.setChaincodeId(ccid);
    chdr.setExtension$(ext.serializeBinary());
    const shdr = new common.SignatureHeader();
    shdr.setCreator(creator);
    shdr.setNonce(nonce);
    const hdr = new common.Header();
    hdr.setChannelHeader(chdr.serializeBinary());
    hdr.setSignatureHeader(shdr.serializeBinary());
    const input = new peer.ChaincodeInput();
    input.setArgsList([Buffer.from("Now")]);
    const spec = new peer.ChaincodeSpec();
    spec.setChaincodeId(ccid);
    spec.setInput(input);
    const cis = new peer.ChaincodeInvocationSpec();
    cis.setChaincodeSpec(spec);
    const cpp = new peer.ChaincodeProposalPayload();
    cpp.setInput(cis.serializeBinary());
    const prop = new peer.Proposal();
    prop.setHeader(hdr.serializeBinary());
    prop.setPayload(cpp.serializeBinary());
    const propBytes = prop.serializeBinary();
    const sp = new peer.SignedProposal();
    sp.setProposalBytes(propBytes);
    sp.setSignature(signLowS(alice.privateKey, propBytes));
    const req = new gw.EvaluateRequest();
    req.setTransactionId(txId);
    req.setChannelId(CH);
    req.setProposedTransaction(sp);
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest("/gateway.Gateway/Evaluate", (m: gw.EvaluateRequest) => Buffer.from(m.serializeBinary()), (b: Buffer) => gw.EvaluateResponse.deserializeBinary(b), req, { deadline: Date.now() + 5000 }, (e) => resolve(e)),
    );
    client.close();
    assert.ok(err);
    assert.match(err.details, /TIMESTAMP_OUT_OF_BOUND/);
    // and the same request with a current timestamp is accepted
    assert.ok(Number(utf8(await contractFor(alice).evaluateTransaction("Now"))) > 0);
  });

  it("chaincode HTLC: lock, wrong preimage, claim, duplicate lock, refund only after the timelock", async () => {
    const a = contractFor(alice);
    const { preimage, hashlock } = secret();
    const now = Number(utf8(await a.evaluateTransaction("Now")));
    const before = BigInt(utf8(await a.evaluateTransaction("BalanceOf", "KRW", aliceAddr)));
    const tl = String(now + 600);
    const lockId = utf8(await a.submitTransaction("Lock", carolAddr, "KRW", "500", hashlock, tl));
    assert.equal(lockId, utf8(await a.evaluateTransaction("LockIdFor", aliceAddr, carolAddr, "KRW", "500", hashlock, tl)));
    assert.equal(BigInt(utf8(await a.evaluateTransaction("BalanceOf", "KRW", aliceAddr))), before - 500n);
    await rejects(a.submitTransaction("Lock", carolAddr, "KRW", "500", hashlock, tl), (err) => assert.match(detailText(err), /LOCK_EXISTS/));
    await rejects(a.submitTransaction("Claim", lockId, secret().preimage), (err) => assert.match(detailText(err), /BAD_PREIMAGE/));
    await rejects(a.submitTransaction("Refund", lockId), (err) => assert.match(detailText(err), /LOCK_NOT_EXPIRED/));
    const carolBefore = BigInt(utf8(await a.evaluateTransaction("BalanceOf", "KRW", carolAddr)));
    await a.submitTransaction("Claim", lockId, preimage); // anyone may claim; funds go to the receiver
    assert.equal(BigInt(utf8(await a.evaluateTransaction("BalanceOf", "KRW", carolAddr))), carolBefore + 500n);
    const l = JSON.parse(utf8(await a.evaluateTransaction("GetLock", lockId)));
    assert.equal(l.status, "claimed");
    assert.equal(l.preimage, preimage);
    await rejects(a.submitTransaction("Claim", lockId, preimage), (err) => assert.match(detailText(err), /LOCK_NOT_OPEN/));
    // short lock, refunded after expiry
    const s2 = secret();
    const now2 = Number(utf8(await a.evaluateTransaction("Now")));
    const id2 = utf8(await a.submitTransaction("Lock", carolAddr, "KRW", "7", s2.hashlock, String(now2 + 2)));
    await rejects(a.submitTransaction("Lock", carolAddr, "KRW", "7", s2.hashlock, String(now2 - 1)), (err) => assert.match(detailText(err), /TIMELOCK_IN_PAST/));
    await new Promise((r) => setTimeout(r, 3100));
    await rejects(a.submitTransaction("Claim", id2, s2.preimage), (err) => assert.match(detailText(err), /LOCK_EXPIRED/));
    const b2 = BigInt(utf8(await a.evaluateTransaction("BalanceOf", "KRW", aliceAddr)));
    await contractFor(carol).submitTransaction("Refund", id2);
    assert.equal(BigInt(utf8(await a.evaluateTransaction("BalanceOf", "KRW", aliceAddr))), b2 + 7n);
    await rejects(a.submitTransaction("Transfer", "KRW", carolAddr, "999999999"), (err) => assert.match(detailText(err), /INSUFFICIENT_BALANCE/));
  });

  it("keeps blocks and state across a restart, and chains new blocks onto the stored ones", async () => {
    const heightBefore = node.network.height;
    const bal = utf8(await contractFor(alice).evaluateTransaction("BalanceOf", "KRW", aliceAddr));
    for (const c of conns) c.close();
    conns = [];
    await node.close();
    node = await startFabricNode({ dir, batchTimeoutMs: 50 });
    assert.equal(node.network.height, heightBefore);
    const a = contractFor(node.network.identity("Org1MSP", "alice"));
    assert.equal(utf8(await a.evaluateTransaction("BalanceOf", "KRW", aliceAddr)), bal);
    await a.submitTransaction("Transfer", "KRW", carolAddr, "1");
    const ordererKey = publicKeyOf(node.network.ordererCertPem);
    assert.deepEqual(verifyBlock(node.network.getBlock(heightBefore)!, node.network.getBlock(heightBefore - 1), ordererKey), { ok: true });
  });
});
