/**
 * encodeMessage (chains/fabric/protowire.ts) gives google-protobuf's serializeBinary bytes for
 * the messages the endorsers build by hand: ChaincodeAction, ChaincodeID,
 * ProposalResponsePayload, Endorsement, ChaincodeEndorsedAction, ChaincodeActionPayload,
 * TransactionAction, Transaction, Header, Payload, a simulation's TxReadWriteSet, and the
 * ChaincodeMessages the peer sends its chaincode (with a SignedProposal) — with
 * empty fields, multi-byte lengths and varints, and non-ASCII strings.
 */
import assert from "node:assert/strict";
import { common, gateway, ledger, peer } from "@hyperledger/fabric-protos";
import { randomBytes, randomInt } from "node:crypto";
import { timestampOf } from "../../../chains/fabric/timestamp.ts";
import { ChaincodeMessageIn, encodeChaincodeMessage, endorsedEventBytes } from "../../../chains/fabric/chaincode.ts";
import { encodeMessage, Sub, WireError } from "../../../chains/fabric/protowire.ts";
import { EndorseRequestIn, SubmitRequestIn } from "../../../chains/fabric/protoutil.ts";
import { readKvRwset, TxSimulator } from "../../../chains/fabric/simulator.ts";
import type { LedgerStore } from "../../../chains/fabric/store.ts";

const kv = ledger.rwset.kvrwset;

/** The read/write set as google-protobuf builds it from a simulation's reads, ranges and writes. */
function referenceTxRwset(sim: TxSimulator): Uint8Array {
  const byKey = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const version = (v: { blockNum: number; txNum: number }) => {
    const ver = new kv.Version();
    ver.setBlockNum(v.blockNum);
    ver.setTxNum(v.txNum);
    return ver;
  };
  const set = new kv.KVRWSet();
  for (const key of [...sim.reads.keys()].sort(byKey)) {
    const r = new kv.KVRead();
    r.setKey(key);
    const v = sim.reads.get(key);
    if (v) r.setVersion(version(v));
    set.addReads(r);
  }
  for (const rec of sim.ranges) {
    const info = new kv.RangeQueryInfo();
    info.setStartKey(rec.start);
    info.setEndKey(rec.end);
    info.setItrExhausted(rec.exhausted);
    const raw = new kv.QueryReads();
    for (const rd of rec.reads) {
      const r = new kv.KVRead();
      r.setKey(rd.key);
      r.setVersion(version(rd.version));
      raw.addKvReads(r);
    }
    info.setRawReads(raw);
    set.addRangeQueriesInfo(info);
  }
  for (const key of [...sim.writes.keys()].sort(byKey)) {
    const w = sim.writes.get(key)!;
    const kw = new kv.KVWrite();
    kw.setKey(key);
    kw.setIsDelete(w.isDelete);
    kw.setValue(w.value);
    set.addWrites(kw);
  }
  const tx = new ledger.rwset.TxReadWriteSet();
  tx.setDataModel(ledger.rwset.TxReadWriteSet.DataModel.KV);
  const ns = new ledger.rwset.NsReadWriteSet();
  ns.setNamespace(sim.ns);
  ns.setRwset(set.serializeBinary());
  tx.addNsRwset(ns);
  return tx.serializeBinary();
}

/** Random bytes of a size picked to exercise 0-, 1-, 2- and 3-byte length prefixes. */
function blob(): Uint8Array {
  const sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000];
  return randomBytes(sizes[randomInt(sizes.length)]!);
}

describe("encodeMessage: google-protobuf's bytes for the messages endorsers build", () => {
  it("matches serializeBinary for every message the endorsers build, over random contents", () => {
    for (let i = 0; i < 200; i++) {
      const name = ["isthmus", "", "코인-cc", "a".repeat(200)][i % 4]!;
      const ccid = new peer.ChaincodeID();
      ccid.setName(name);
      ccid.setVersion("1.0");
      const ccidBytes = encodeMessage([
        [2, name],
        [3, "1.0"],
      ]);
      assert.deepEqual(ccidBytes, Buffer.from(ccid.serializeBinary()), "ChaincodeID");

      const response = new peer.Response();
      response.setStatus(i % 2 ? 200 : 0);
      response.setPayload(blob());
      const results = blob();
      const events = blob();
      const cca = new peer.ChaincodeAction();
      cca.setResults(results);
      cca.setEvents(events);
      cca.setResponse(response);
      cca.setChaincodeId(ccid);
      const ccaBytes = encodeMessage([
        [1, results],
        [2, events],
        [3, response.serializeBinary(), true],
        [4, ccidBytes, true],
      ]);
      assert.deepEqual(ccaBytes, Buffer.from(cca.serializeBinary()), "ChaincodeAction");

      const hash = randomBytes(32);
      const prp = new peer.ProposalResponsePayload();
      prp.setProposalHash(hash);
      prp.setExtension$(ccaBytes);
      const prpBytes = encodeMessage([
        [1, hash],
        [2, ccaBytes],
      ]);
      assert.deepEqual(prpBytes, Buffer.from(prp.serializeBinary()), "ProposalResponsePayload");

      const endorsements = Array.from({ length: 1 + (i % 3) }, () => {
        const e = new peer.Endorsement();
        e.setEndorser(blob());
        e.setSignature(randomBytes(70));
        return e;
      });
      const endorsementBytes = endorsements.map((e) =>
        encodeMessage([
          [1, e.getEndorser_asU8()],
          [2, e.getSignature_asU8()],
        ]),
      );
      endorsements.forEach((e, k) => assert.deepEqual(endorsementBytes[k], Buffer.from(e.serializeBinary()), "Endorsement"));

      const cea = new peer.ChaincodeEndorsedAction();
      cea.setProposalResponsePayload(prpBytes);
      cea.setEndorsementsList(endorsements);
      const ceaBytes = encodeMessage([[1, prpBytes], ...endorsementBytes.map((b) => [2, b, true] as const)]);
      assert.deepEqual(ceaBytes, Buffer.from(cea.serializeBinary()), "ChaincodeEndorsedAction");

      const cpp = new peer.ChaincodeProposalPayload();
      cpp.setInput(blob());
      const cppBytes = cpp.serializeBinary();
      const cap = new peer.ChaincodeActionPayload();
      cap.setChaincodeProposalPayload(cppBytes);
      cap.setAction(cea);
      const capBytes = encodeMessage([
        [1, cppBytes],
        [2, ceaBytes, true],
      ]);
      assert.deepEqual(capBytes, Buffer.from(cap.serializeBinary()), "ChaincodeActionPayload");

      const shdr = blob();
      const ta = new peer.TransactionAction();
      ta.setHeader(shdr);
      ta.setPayload(capBytes);
      const taBytes = encodeMessage([
        [1, shdr],
        [2, capBytes],
      ]);
      assert.deepEqual(taBytes, Buffer.from(ta.serializeBinary()), "TransactionAction");

      const tx = new peer.Transaction();
      tx.addActions(ta);
      const txBytes = encodeMessage([[1, taBytes, true]]);
      assert.deepEqual(txBytes, Buffer.from(tx.serializeBinary()), "Transaction");

      const chdr = blob();
      const hdr = new common.Header();
      hdr.setChannelHeader(chdr);
      hdr.setSignatureHeader(shdr);
      const hdrBytes = encodeMessage([
        [1, chdr],
        [2, shdr],
      ]);
      assert.deepEqual(hdrBytes, Buffer.from(hdr.serializeBinary()), "Header");

      const payload = new common.Payload();
      payload.setHeader(hdr);
      payload.setData(txBytes);
      const payloadBytes = encodeMessage([
        [1, hdrBytes, true],
        [2, txBytes],
      ]);
      assert.deepEqual(payloadBytes, Buffer.from(payload.serializeBinary()), "Payload");

      // the same messages nested as Subs and written in one buffer, as the endorsers write them
      const ccaSub = new Sub([
        [1, results],
        [2, events],
        [3, response.serializeBinary(), true],
        [4, new Sub([[2, name], [3, "1.0"]]), true],
      ]);
      assert.deepEqual(encodeMessage([[1, hash], [2, ccaSub]]), prpBytes, "ProposalResponsePayload (Subs)");
      const ceaSub = new Sub([[1, prpBytes], ...endorsementBytes.map((b) => [2, b, true] as const)]);
      const txSub = new Sub([[1, new Sub([[1, shdr], [2, new Sub([[1, cppBytes], [2, ceaSub, true]])]]), true]]);
      const payloadSub = new Sub([[1, new Sub([[1, chdr], [2, shdr]]), true], [2, txSub]]);
      assert.deepEqual(encodeMessage(payloadSub.fields), payloadBytes, "Payload (Subs)");
      const env = new common.Envelope();
      env.setPayload(payloadBytes);
      const er = new gateway.EndorseResponse();
      er.setPreparedTransaction(env);
      assert.deepEqual(encodeMessage([[1, new Sub([[1, payloadSub]]), true]]), Buffer.from(er.serializeBinary()), "EndorseResponse");
    }
  });

  it("a simulation's read/write set: the bytes google-protobuf builds (reads with and without versions, ranges, writes, deletes)", () => {
    const keys = ["", "a", "\u0000bal\u0000KRW\u0000x\u0000", "잔액", "z".repeat(300), "é", "b"];
    const ver = () => ({ blockNum: [0, 1, 127, 128, 2 ** 40][randomInt(5)]!, txNum: [0, 1, 499][randomInt(3)]! });
    for (let i = 0; i < 200; i++) {
      const sim = new TxSimulator(null as unknown as LedgerStore, ["isthmus", "", "cc-코"][i % 3]!);
      for (const k of keys) if (randomInt(2)) sim.reads.set(k, randomInt(3) ? ver() : null);
      for (let r = randomInt(3); r > 0; r--) {
        sim.ranges.push({ start: keys[randomInt(keys.length)]!, end: keys[randomInt(keys.length)]!, exhausted: randomInt(2) === 1, reads: keys.slice(0, randomInt(4)).map((key) => ({ key, version: ver() })) });
      }
      for (const k of keys) if (randomInt(2)) sim.writes.set(k, randomInt(4) ? { isDelete: false, value: blob() } : { isDelete: true, value: new Uint8Array() });
      assert.deepEqual(Buffer.from(sim.txRwsetBytes()), Buffer.from(referenceTxRwset(sim)));
    }
  });

  it("the peer's chaincode messages (REGISTERED, READY, RESPONSE, ERROR, TRANSACTION with its signed proposal)", () => {
    const T = peer.ChaincodeMessage.Type;
    for (let i = 0; i < 200; i++) {
      const type = [T.REGISTERED, T.READY, T.RESPONSE, T.ERROR, T.TRANSACTION, T.UNDEFINED][i % 6]!;
      const channel = ["isthmus", "", "채널"][i % 3]!;
      const txid = i % 5 ? randomBytes(32).toString("hex") : "";
      const payload = blob();
      const m = new peer.ChaincodeMessage();
      m.setType(type);
      m.setChannelId(channel);
      m.setTxid(txid);
      m.setPayload(payload);
      let spBytes: Uint8Array | undefined;
      if (type === T.TRANSACTION) {
        const sp = new peer.SignedProposal();
        sp.setProposalBytes(blob());
        sp.setSignature(i % 7 ? randomBytes(71) : new Uint8Array());
        m.setProposal(sp);
        spBytes = encodeMessage([
          [1, sp.getProposalBytes_asU8()],
          [2, sp.getSignature_asU8()],
        ]);
        assert.deepEqual(spBytes, Buffer.from(sp.serializeBinary()), "SignedProposal");
      }
      assert.deepEqual(encodeChaincodeMessage(type, channel, txid, payload, spBytes), Buffer.from(m.serializeBinary()), "ChaincodeMessage");
    }
  });

  it("reads the chaincode's messages as google-protobuf does (ChaincodeMessageIn)", () => {
    const T = peer.ChaincodeMessage.Type;
    const types = Object.values(T);
    for (let i = 0; i < 300; i++) {
      const m = new peer.ChaincodeMessage();
      m.setType(types[i % types.length]!);
      if (i % 3) m.setChannelId(["isthmus", "채널", "x".repeat(200)][i % 3]!);
      if (i % 4) m.setTxid(randomBytes(32).toString("hex"));
      if (i % 5) m.setPayload(blob());
      if (i % 2) {
        m.setTimestamp(timestampOf(new Date(1_700_000_000_000 + i * 1001)) as never);
      }
      if (i % 7 === 0) {
        const sp = new peer.SignedProposal();
        sp.setProposalBytes(blob());
        m.setProposal(sp);
      }
      if (i % 3 === 0) {
        const ev = new peer.ChaincodeEvent();
        ev.setEventName(i % 2 ? "Minted" : "");
        ev.setPayload(blob());
        ev.setTxId(i % 4 ? "abc" : "");
        m.setChaincodeEvent(ev);
      }
      let bytes = Buffer.from(m.serializeBinary());
      // an unknown field of each wire type, and a repeated txid (the last one wins)
      if (i % 6 === 1) bytes = Buffer.concat([bytes, encodeMessage([[99, blob(), true], [100, 300], [4, "later-txid"]]), Buffer.from([0xa9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xb5, 0x06, 1, 2, 3, 4])]);
      const ref = peer.ChaincodeMessage.deserializeBinary(bytes);
      const ours = new ChaincodeMessageIn(bytes);
      assert.equal(ours.getType(), ref.getType());
      assert.equal(ours.getChannelId(), ref.getChannelId());
      assert.equal(ours.getTxid(), ref.getTxid());
      assert.deepEqual(Buffer.from(ours.getPayload_asU8()), Buffer.from(ref.getPayload_asU8()));
      const [a, b] = [ours.getChaincodeEventBytes(), ref.getChaincodeEvent()];
      assert.equal(a === null, b === undefined);
      if (a && b) {
        // as the peer puts it in the ChaincodeAction: its ids set
        b.setChaincodeId("htlc");
        b.setTxId(ours.getTxid());
        assert.deepEqual(endorsedEventBytes(a, "htlc", ours.getTxid()), Buffer.from(b.serializeBinary()), "endorsed event");
      }
    }
    // an event with ids of its own, repeated and unknown fields: google-protobuf keeps the last, drops the unknown
    for (let i = 0; i < 50; i++) {
      const ev = encodeMessage([[1, "other-cc"], [2, "other-tx"], [3, i % 2 ? "first" : ""], [4, blob()], [3, ["Minted", "잠금", ""][i % 3]!], [9, blob()], [10, i]]);
      const ref = peer.ChaincodeEvent.deserializeBinary(ev);
      ref.setChaincodeId("htlc");
      ref.setTxId("tx" + i);
      assert.deepEqual(endorsedEventBytes(ev, "htlc", "tx" + i), Buffer.from(ref.serializeBinary()));
    }
    // truncated messages and a known field with another wire type are refused
    const good = encodeChaincodeMessage(T.COMPLETED, "isthmus", "tx1", randomBytes(40));
    for (let cut = 1; cut < good.length; cut++) {
      if ([2, 44, 49].includes(cut)) continue; // field boundaries: a shorter message, well formed
      assert.throws(() => new ChaincodeMessageIn(good.subarray(0, cut)), WireError, `cut at ${cut}`);
    }
    assert.throws(() => new ChaincodeMessageIn(Buffer.from([0x22, 0x01])), WireError); // txid (field 4) truncated
    assert.throws(() => new ChaincodeMessageIn(Buffer.from([0x0a, 0x00])), WireError); // type (field 1) as bytes
  });

  it("reads a gateway SubmitRequest as google-protobuf does (SubmitRequestIn), and writes its Envelope as google-protobuf does", () => {
    for (let i = 0; i < 200; i++) {
      const req = new gateway.SubmitRequest();
      if (i % 3) req.setTransactionId(randomBytes(32).toString("hex"));
      if (i % 4) req.setChannelId(["isthmus", "채널"][i % 2]!);
      if (i % 5) {
        const env = new common.Envelope();
        env.setPayload(blob());
        if (i % 7) env.setSignature(randomBytes(70));
        req.setPreparedTransaction(env);
      }
      let bytes = Buffer.from(req.serializeBinary());
      if (i % 6 === 1) bytes = Buffer.concat([bytes, encodeMessage([[9, blob(), true], [10, 7], [2, "later"]])]);
      if (i % 8 === 2) bytes = Buffer.concat([bytes, encodeMessage([[3, new Sub([[1, blob()], [5, blob()]]), true]])]); // a later envelope wins, unknown fields dropped
      const ref = gateway.SubmitRequest.deserializeBinary(bytes);
      const ours = new SubmitRequestIn(bytes);
      assert.equal(ours.transactionId, ref.getTransactionId());
      assert.equal(ours.channelId, ref.getChannelId());
      const env = ref.getPreparedTransaction();
      assert.equal(ours.envelope === null, env === undefined);
      if (env) {
        assert.deepEqual(Buffer.from(ours.envelope!.payload), Buffer.from(env.getPayload_asU8()));
        assert.deepEqual(Buffer.from(ours.envelope!.signature), Buffer.from(env.getSignature_asU8()));
        assert.deepEqual(ours.envelopeBytes(), Buffer.from(env.serializeBinary()));
      }
    }
    assert.throws(() => new SubmitRequestIn(Buffer.from([0x1a, 0x05, 0x0a])), WireError, "a truncated envelope");
    assert.throws(() => new SubmitRequestIn(Buffer.from([0x18, 0x01])), WireError, "the envelope as a varint");
  });

  it("reads a gateway EndorseRequest as google-protobuf does (EndorseRequestIn)", () => {
    for (let i = 0; i < 200; i++) {
      const req = new gateway.EndorseRequest();
      if (i % 3) req.setTransactionId(randomBytes(32).toString("hex"));
      if (i % 4) req.setChannelId(["isthmus", "채널"][i % 2]!);
      if (i % 5) {
        const sp = new peer.SignedProposal();
        sp.setProposalBytes(blob());
        if (i % 7) sp.setSignature(randomBytes(70));
        req.setProposedTransaction(sp);
      }
      req.setEndorsingOrganizationsList(["Org1MSP", "Org2MSP", "조직"].slice(0, i % 4));
      let bytes = Buffer.from(req.serializeBinary());
      if (i % 6 === 1) bytes = Buffer.concat([bytes, encodeMessage([[9, blob(), true], [10, 7], [2, "later"], [4, "Org3MSP"]])]);
      if (i % 8 === 2) bytes = Buffer.concat([bytes, encodeMessage([[3, new Sub([[2, randomBytes(3)], [5, blob()]]), true]])]); // a later proposal wins
      const ref = gateway.EndorseRequest.deserializeBinary(bytes);
      const ours = new EndorseRequestIn(bytes);
      assert.equal(ours.transactionId, ref.getTransactionId());
      assert.equal(ours.channelId, ref.getChannelId());
      assert.deepEqual(ours.endorsingOrganizations, ref.getEndorsingOrganizationsList());
      const sp = ref.getProposedTransaction();
      assert.equal(ours.proposedTransaction === undefined, sp === undefined);
      if (sp) {
        assert.deepEqual(Buffer.from(ours.proposedTransaction!.getProposalBytes_asU8()), Buffer.from(sp.getProposalBytes_asU8()));
        assert.deepEqual(Buffer.from(ours.proposedTransaction!.getSignature_asU8()), Buffer.from(sp.getSignature_asU8()));
      }
    }
    assert.throws(() => new EndorseRequestIn(Buffer.from([0x1a, 0x05, 0x0a])), WireError, "a truncated proposal");
  });

  it("reads a KVRWSet as google-protobuf does (readKvRwset)", () => {
    const keys = ["", "a", "\u0000bal\u0000KRW\u0000x\u0000", "잔액", "z".repeat(300)];
    const ver = () => ({ blockNum: [0, 1, 127, 128, 2 ** 40][randomInt(5)]!, txNum: [0, 1, 499][randomInt(3)]! });
    for (let i = 0; i < 200; i++) {
      const sim = new TxSimulator(null as unknown as LedgerStore, "htlc");
      for (const k of keys) if (randomInt(2)) sim.reads.set(k, randomInt(3) ? ver() : null);
      if (randomInt(3) === 0) sim.ranges.push({ start: "a", end: "z", exhausted: true, reads: [{ key: "b", version: ver() }] });
      for (const k of keys) if (randomInt(2)) sim.writes.set(k, randomInt(4) ? { isDelete: false, value: blob() } : { isDelete: true, value: new Uint8Array() });
      let bytes = Buffer.from(sim.rwsetBytes());
      // unknown fields, a version with an explicit zero block, a metadata write
      if (i % 5 === 1) bytes = Buffer.concat([bytes, encodeMessage([[9, blob(), true], [1, new Sub([[1, "v0"], [2, new Sub([[2, 3]]), true], [7, 1]]), true], [4, new Sub([[1, "m"]]), true]])]);
      const ref = kv.KVRWSet.deserializeBinary(bytes);
      const ours = readKvRwset(bytes);
      assert.deepEqual(
        ours.reads,
        ref.getReadsList().map((r) => ({ key: r.getKey(), version: r.getVersion() ? { blockNum: r.getVersion()!.getBlockNum(), txNum: r.getVersion()!.getTxNum() } : null })),
      );
      assert.deepEqual(
        ours.writes.map((w) => ({ key: w.key, isDelete: w.isDelete, value: Buffer.from(w.value) })),
        ref.getWritesList().map((w) => ({ key: w.getKey(), isDelete: w.getIsDelete(), value: Buffer.from(w.getValue_asU8()) })),
      );
      assert.deepEqual(ours.rangeQueries.map((b) => kv.RangeQueryInfo.deserializeBinary(b).toObject()), ref.getRangeQueriesInfoList().map((q) => q.toObject()));
      assert.equal(ours.metadataWrites.length, ref.getMetadataWritesList().length);
    }
    assert.throws(() => readKvRwset(Buffer.from([0x0a, 0x04, 0x0a, 0x05, 0x61])), WireError, "a truncated read");
    assert.throws(() => readKvRwset(Buffer.from([0x1a, 0x02, 0x10, 0x80])), WireError, "a truncated is_delete");
  });

  it("the one difference: a lone surrogate is U+FFFD here, dropped or written in its 3-byte form by google-protobuf", () => {
    // the key field's bytes (after its tag and one-byte length)
    const google = (key: string) => {
      const w = new kv.KVWrite();
      w.setKey(key);
      return Buffer.from(w.serializeBinary()).subarray(2);
    };
    const ours = (key: string) => encodeMessage([[1, key]]).subarray(2);
    assert.deepEqual(ours("\uD800"), Buffer.from("efbfbd", "hex"));
    assert.deepEqual(google("\uD800"), Buffer.from("eda080", "hex"), "a final high surrogate: its 3-byte form");
    assert.deepEqual(google("\uDC00"), Buffer.from("edb080", "hex"), "a lone low surrogate: its 3-byte form");
    assert.deepEqual(google("a\uD800b"), Buffer.from("ab"), "a high surrogate before anything but a low one: dropped");
    assert.deepEqual(ours("a\uD800b"), Buffer.from("61efbfbd62", "hex"));
    // well-formed astral characters agree
    assert.deepEqual(ours("\uD83D\uDE00"), google("\uD83D\uDE00"));
  });

  it("leaves out empty fields unless told to keep them, and decodes back", () => {
    assert.deepEqual(encodeMessage([[1, new Uint8Array()]]), Buffer.alloc(0));
    assert.deepEqual(encodeMessage([[1, new Uint8Array(), true]]), Buffer.from([0x0a, 0x00]));
    assert.deepEqual(encodeMessage([[1, new Sub([[1, ""]])]]), Buffer.alloc(0), "an empty Sub");
    assert.deepEqual(encodeMessage([[1, new Sub([]), true]]), Buffer.from([0x0a, 0x00]), "an empty Sub that is set");
    assert.deepEqual(encodeMessage([[2, new Sub([[1, new Sub([[3, 300]])]])]]), Buffer.from([0x12, 0x05, 0x0a, 0x03, 0x18, 0xac, 0x02]), "nested Subs");
    const h = common.Header.deserializeBinary(
      encodeMessage([
        [1, Buffer.from("ch")],
        [2, Buffer.from("sh")],
      ]),
    );
    assert.equal(Buffer.from(h.getChannelHeader_asU8()).toString(), "ch");
    assert.equal(Buffer.from(h.getSignatureHeader_asU8()).toString(), "sh");
    assert.deepEqual(encodeMessage([[1, 0], [2, false], [3, 300], [4, true]]), Buffer.from([0x18, 0xac, 0x02, 0x20, 0x01]));
    assert.throws(() => encodeMessage([[1, -1]]), RangeError);
  });
});
