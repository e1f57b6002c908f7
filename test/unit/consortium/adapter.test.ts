import assert from "node:assert/strict";
import { type Hex } from "../../../proofs/hex.ts";
import { balanceKey, decodeLock, encodeLock } from "../../../proofs/consortium/state.ts";
import { verifyCommittedAbsence, verifyCommittedEntry } from "../../../proofs/consortium/entry-proof.ts";
import { ConsortiumLedger, type ConsortiumLedgerOptions } from "../../../chains/consortium/adapter.ts";
import { type Chain, type LockAtHead } from "../../../chains/consortium/chain.ts";
import { TxErrorCode, TxRejectedError } from "../../../chains/consortium/codes.ts";
import { derivePrivateKey, Signer } from "../../../chains/consortium/crypto.ts";
import { type ConsortiumDevnet, devnetValidatorKeys, startConsortiumDevnet } from "../../../chains/consortium/devnet.ts";
import { signTx } from "../../../chains/consortium/tx.ts";
import { hashValidatorSet, stakeOf } from "../../../proofs/consortium/validators.ts";
import { hashHeader } from "../../../proofs/consortium/header.ts";
import { VoteType, voteDigest } from "../../../proofs/consortium/vote.ts";
import { ConsortiumClient } from "../../../chains/consortium/rpc/client.ts";
import { startNodeServer } from "../../../chains/consortium/rpc/server.ts";
import { LedgerError, VerificationError } from "../../../chains/errors.ts";
import { secret, until } from "./helpers.ts";

const userKey = derivePrivateKey("test/adapter/user", 0);
const relayerKey = derivePrivateKey("test/adapter/relayer", 0);
const user = Signer.fromPrivateKey(userKey).address;
const relayer = Signer.fromPrivateKey(relayerKey).address;

describe("consortium adapter over gRPC, end to end", function () {
  this.timeout(30_000);
  let devnet: ConsortiumDevnet;
  let options: Omit<ConsortiumLedgerOptions, "privateKey">;
  const open: ConsortiumLedger[] = [];
  const ledger = async (privateKey: string, extra: Partial<ConsortiumLedgerOptions> = {}) => {
    const l = await ConsortiumLedger.connect({ ...options, privateKey, ...extra });
    open.push(l);
    return l;
  };

  before(async () => {
    devnet = await startConsortiumDevnet({
      inMemory: true,
      blockIntervalMs: 100,
      balances: [
        { address: user, asset: "KRW", amount: 1_000_000n },
        { address: user, asset: "ISTH", amount: 5n * 10n ** 18n },
      ],
    });
    options = { name: "consortium", endpoint: devnet.endpoint, chainId: devnet.chainId, validators: devnet.validators, blockTimeSec: devnet.blockTimeSec, clockSkewSec: devnet.clockSkewSec };
  });
  after(async () => {
    for (const l of open) await l.close();
    await devnet.stop();
  });

  it("reports timing (one block to finality), its address and the chain's assets", async () => {
    const u = await ledger(userKey);
    assert.deepEqual(u.timing, { blockTimeSec: 0.1, finalitySec: 0.1, clockSkewSec: 2 });
    assert.equal(u.address, user);
    assert.deepEqual(u.asset("KRW"), { symbol: "KRW", decimals: 2, id: "KRW" });
    assert.deepEqual(u.assets().map((a) => a.symbol), ["ISTH", "KRW"]);
    assert.throws(() => u.asset("USD"), /no asset "USD"/);
  });

  it("locks, reads the lock back verified by a state proof, claims it, and sees Locked and Claimed events", async () => {
    const u = await ledger(userKey);
    const r = await ledger(relayerKey);
    const { preimage, hashlock } = secret(1);
    const head = await u.head();
    const params = { receiver: relayer, asset: "KRW", amount: 12_345n, hashlock, timelock: head.finalizedTime + 600 };
    const locked = await u.lock(params);
    assert.equal(locked.lockId, u.lockIdFor(params), "lockIdFor names the lock before it is sent");
    assert.equal(r.lockIdFor(params, user), locked.lockId);

    await r.waitFinal(locked.height);
    const seen = await r.getLock(locked.lockId);
    assert.ok(seen);
    assert.deepEqual(seen.lock, { chain: "consortium", lockId: locked.lockId, sender: user, ...params, status: "locked" });
    assert.equal(seen.verified.kind, "state-proof");
    assert.ok(seen.verified.height >= locked.height);
    const block = await new ConsortiumClient(devnet.endpoint).getBlock(seen.verified.height);
    assert.equal(seen.verified.kind === "state-proof" && seen.verified.stateRoot, block!.header.stateRoot);

    const claimed = await r.claim(locked.lockId, preimage);
    const after = await u.getLock(locked.lockId);
    assert.equal(after?.lock.status, "claimed");
    assert.equal(after?.lock.status === "claimed" && after.lock.preimage, preimage);
    assert.equal(await r.balance("KRW"), 12_345n);
    assert.equal(await u.balance("KRW", relayer), 12_345n);

    const events = await r.events(locked.height, claimed.height);
    assert.deepEqual(
      events.map((e) => [e.kind, e.txId, e.height]),
      [
        ["locked", locked.txId, locked.height],
        ["claimed", claimed.txId, claimed.height],
      ],
    );
    const first = events[0]!;
    assert.ok(first.kind === "locked" && first.lock.lockId === locked.lockId && first.lock.receiver === relayer);
    assert.ok(events[1]!.kind === "claimed" && events[1]!.preimage === preimage);
  });

  it("refunds only once chain time reaches the timelock, moving time with the devnet clock", async () => {
    const u = await ledger(userKey);
    const { hashlock } = secret(2);
    const head = await u.head();
    const timelock = head.finalizedTime + 30;
    const { lockId } = await u.lock({ receiver: relayer, asset: "ISTH", amount: 10n ** 18n, hashlock, timelock });
    await assert.rejects(u.refund(lockId), (err: unknown) => err instanceof TxRejectedError && err.code === TxErrorCode.LOCK_NOT_EXPIRED);
    devnet.clock.advance(31);
    await until(() => Math.floor(devnet.nodes[0]!.chain.head.header.timeMs / 1000) >= timelock, 5_000, "chain time to pass the timelock");
    const refunded = await u.refund(lockId);
    assert.equal((await u.getLock(lockId))?.lock.status, "refunded");
    const events = await u.events(refunded.height, refunded.height);
    assert.deepEqual(events.map((e) => e.kind), ["refunded"]);
  });

  it("turns the chain's refusals into LedgerErrors with its reason", async () => {
    const u = await ledger(userKey);
    const r = await ledger(relayerKey);
    const { hashlock } = secret(3);
    const params = { receiver: relayer, asset: "KRW", amount: 1n, hashlock, timelock: (await u.head()).finalizedTime + 600 };
    const { lockId } = await u.lock(params);
    const refused = async (p: Promise<unknown>, code: string, reason: RegExp) =>
      assert.rejects(p, (err: unknown) => err instanceof LedgerError && err.code === code && reason.test(err.message));
    await refused(r.claim(lockId, secret(4).preimage), TxErrorCode.WRONG_PREIMAGE, /sha256\(preimage\) does not match/);
    await refused(u.lock(params), TxErrorCode.LOCK_EXISTS, /already exists/);
    await refused(r.lock({ ...params, amount: 10n ** 15n }), TxErrorCode.INSUFFICIENT_FUNDS, /KRW base units, needs 1000000000000000/);
    await refused(r.refund(`0x${"ee".repeat(32)}`), TxErrorCode.LOCK_NOT_FOUND, /no lock/);
    assert.equal(await r.getLock(`0x${"ee".repeat(32)}`), null);
  });

  it("sends one at a time with local nonces, so concurrent locks all land", async () => {
    const u = await ledger(userKey);
    const timelock = (await u.head()).finalizedTime + 600;
    const results = await Promise.all([6, 7, 8].map((i) => u.lock({ receiver: relayer, asset: "KRW", amount: BigInt(i), hashlock: secret(i).hashlock, timelock })));
    assert.equal(new Set(results.map((x) => x.txId)).size, 3);
    for (const x of results) assert.equal((await u.getLock(x.lockId))?.lock.status, "locked");
  });

  it("never answers events() with fewer heights than asked (the node is behind)", async () => {
    const u = await ledger(userKey);
    const head = await u.head();
    await assert.rejects(u.events(1, head.finalizedHeight + 1000), (err: unknown) => err instanceof LedgerError && err.code === "NODE_BEHIND");
  });

  it("refuses a node whose validator set is not the trusted one", async () => {
    const wrong = devnet.validators.map((v, i) => ({ address: v.address, stake: i === 0 ? v.stake + 1n : v.stake }));
    await assert.rejects(ConsortiumLedger.connect({ ...options, privateKey: userKey, validators: wrong }), VerificationError);
  });

  it("takes head time only from a committed header: a node forging a later block time is refused", async () => {
    const real = devnet.nodes[0]!;
    const lying = new Proxy(real.chain, {
      get(target, prop) {
        if (prop === "block") {
          return (h: number) => {
            const b = target.block(h);
            return b && { ...b, header: { ...b.header, timeMs: b.header.timeMs + 10 ** 9 } };
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Chain;
    const server = await startNodeServer({ node: { chain: lying, mempool: real.mempool, blockIntervalMs: 100, maxClockSkewMs: 2000, submitTx: (b) => real.submitTx(b) } });
    try {
      // The light client checks block 1 already at connect, and every header up to the head after.
      await assert.rejects(ledger(userKey, { endpoint: server.endpoint }), (err: unknown) => err instanceof VerificationError && /blocks 1\.\.1: commit of 1: commit is for a different block hash/.test(err.message));
      const viaLiar = new ConsortiumLedger({ ...options, privateKey: userKey, endpoint: server.endpoint });
      open.push(viaLiar);
      await assert.rejects(viaLiar.head(), (err: unknown) => err instanceof VerificationError && /commit of \d+: commit is for a different block hash/.test(err.message));
      const honest = await (await ledger(userKey)).head();
      assert.ok(Math.abs(honest.finalizedTime * 1000 - Date.now()) < 60_000, "an honest head's time is chain time, near now");
    } finally {
      await server.close();
    }
  });

  it("refuses a lock whose proof does not check out (a node lying about the amount)", async () => {
    const u = await ledger(userKey);
    const { lockId } = await u.lock({ receiver: relayer, asset: "KRW", amount: 77n, hashlock: secret(9).hashlock, timelock: (await u.head()).finalizedTime + 600 });
    const real = devnet.nodes[0]!;
    const lying = new Proxy(real.chain, {
      get(target, prop) {
        if (prop === "lockAtHead") {
          return (id: Hex) => {
            const found = target.lockAtHead(id) as LockAtHead;
            const d = decodeLock(found.value);
            assert.ok(d.ok);
            return { ...found, value: encodeLock({ ...d.value, amount: 7_700n }) };
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Chain;
    const server = await startNodeServer({ node: { chain: lying, mempool: real.mempool, blockIntervalMs: 100, maxClockSkewMs: 2000, submitTx: (b) => real.submitTx(b) } });
    try {
      const viaLiar = await ledger(userKey, { endpoint: server.endpoint });
      await assert.rejects(viaLiar.getLock(lockId), (err: unknown) => err instanceof VerificationError && /lock fields do not hash to the lock id/.test(err.message));
    } finally {
      await server.close();
    }
  });

  it("proves 'no such lock' too, and refuses a node claiming a lock that exists is absent", async () => {
    const u = await ledger(userKey);
    const { lockId } = await u.lock({ receiver: relayer, asset: "KRW", amount: 78n, hashlock: secret(10).hashlock, timelock: (await u.head()).finalizedTime + 600 });
    assert.equal(await u.getLock(`0x${"5a".repeat(32)}`), null, "an unknown lock id: absence verified");
    const real = devnet.nodes[0]!;
    const other = `0x${"00".repeat(31)}01` as Hex;
    const lying = new Proxy(real.chain, {
      get(target, prop) {
        if (prop === "lockAtHead") return (id: Hex) => (id === lockId ? target.lockAtHead(other) : target.lockAtHead(id));
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Chain;
    const server = await startNodeServer({ node: { chain: lying, mempool: real.mempool, blockIntervalMs: 100, maxClockSkewMs: 2000, submitTx: (b) => real.submitTx(b) } });
    try {
      const viaLiar = await ledger(userKey, { endpoint: server.endpoint });
      await assert.rejects(viaLiar.getLock(lockId), (err: unknown) => err instanceof VerificationError && /absence of lock/.test(err.message));
    } finally {
      await server.close();
    }
  });

  it("GetState: any key at the head or a recent height, with an inclusion or absence proof that verifies", async () => {
    const client = new ConsortiumClient(devnet.endpoint);
    try {
      const trusted = { chainId: devnet.chainId, validatorSet: devnet.validatorSet };
      const key = balanceKey(user, "KRW");
      const head = await client.getState(key);
      assert.ok(head.found);
      assert.ok(head.header.height >= 2);
      const r = verifyCommittedEntry({ ...trusted, tree: "state", key, value: head.value, proof: head.proof, header: head.header, commit: head.commit });
      assert.ok(r.ok, r.ok ? "" : r.reason);
      const h = head.header.height - 1;
      const older = await client.getState(key, h);
      assert.equal(older.header.height, h);
      assert.ok(older.found && verifyCommittedEntry({ ...trusted, tree: "state", key, value: older.value, proof: older.proof, header: older.header, commit: older.commit }).ok);
      const nobody = balanceKey(`0x${"c0".repeat(20)}`, "KRW");
      const missing = await client.getState(nobody, h);
      assert.ok(!missing.found);
      const a = verifyCommittedAbsence({ ...trusted, key: nobody, absence: missing.absence, header: missing.header, commit: missing.commit });
      assert.ok(a.ok, a.ok ? "" : a.reason);
      // The absence proof of another key does not prove the user's balance absent.
      assert.equal(verifyCommittedAbsence({ ...trusted, key, absence: missing.absence, header: missing.header, commit: missing.commit }).ok, false);
      await assert.rejects(client.getState(key, head.header.height + 100_000), /past the head/);
      await assert.rejects(client.getState(new Uint8Array(0)), /key: expected non-empty bytes/);
    } finally {
      client.close();
    }
  });

  it("follows validator-set changes (a bond, then a validator slashed for equivocation) and keeps verifying locks and heads", async () => {
    const u = await ledger(userKey);
    await u.head();
    const client = new ConsortiumClient(devnet.endpoint);
    const userSigner = Signer.fromPrivateKey(userKey);
    const submit = async (body: Parameters<typeof signTx>[1]["body"]) => {
      const nonce = (await client.getAccount(user)).pendingNonce;
      const hash = await client.submitTx(signTx(userSigner, { chainId: devnet.chainId, nonce, body }).bytes);
      const st = await client.waitTx(hash, 20_000);
      assert.ok(st.status === "committed" && st.result.ok, JSON.stringify(st));
      return st.height;
    };
    try {
      const bondHeight = await submit({ kind: "bond", amount: 100n });
      const offender = Signer.fromPrivateKey(devnetValidatorKeys()[3]!);
      const h = (await client.getStatus()).height;
      const vote = (blockHash: Hex) => ({ blockHash, timeMs: 0, signature: offender.signHex(voteDigest({ chainId: devnet.chainId, height: h, round: 0, type: VoteType.Prevote, blockHash })) });
      const evidenceHeight = await submit({ kind: "evidence", evidence: { height: h, round: 0, voteType: VoteType.Prevote, a: vote(`0x${"01".repeat(32)}`), b: vote(`0x${"02".repeat(32)}`) } });
      assert.ok(evidenceHeight > bondHeight);
      await u.waitFinal(evidenceHeight + 3);
      const head = await client.getBlock((await client.getStatus()).height);
      const set = (await client.getValidatorSet(head!.header.validatorsHash))!;
      assert.equal(stakeOf(set, user), 100n, "the bonded user signs now");
      assert.equal(stakeOf(set, offender.address), undefined, "the offender is out");
      assert.notEqual(head!.header.validatorsHash, hashValidatorSet(devnet.validatorSet), "a fixed-set verifier would refuse these headers");
      // The adapter that followed, and one that starts from genesis now, both verify heads and lock proofs.
      const { lockId } = await u.lock({ receiver: relayer, asset: "KRW", amount: 5n, hashlock: secret(42).hashlock, timelock: (await u.head()).finalizedTime + 600 });
      const seen = await u.getLock(lockId);
      assert.ok(seen && seen.verified.kind === "state-proof" && seen.verified.height > evidenceHeight + 1);
      assert.equal(hashValidatorSet(u.verifiedValidatorSetAt(seen.verified.height)!), (await client.getBlock(seen.verified.height))!.header.validatorsHash);
      assert.equal(hashValidatorSet(u.verifiedValidatorSetAt(1)!), hashValidatorSet(devnet.validatorSet));
      const fresh = await ledger(relayerKey);
      assert.ok((await fresh.head()).finalizedHeight > evidenceHeight + 2);
      assert.equal((await fresh.getLock(lockId))?.lock.amount, 5n);
    } finally {
      client.close();
    }
  });

  // After the set changes above: a subscriber from genesis must follow them.
  it("subscribeBlocks: every block from genesis, once and in order, each verified, across validator set changes and into live blocks", async () => {
    const fresh = await ledger(relayerKey);
    const client = new ConsortiumClient(devnet.endpoint);
    try {
      const head = (await client.getStatus()).height;
      const heights: number[] = [];
      let setChanges = 0;
      for await (const block of fresh.subscribeBlocks(1)) {
        heights.push(block.header.height);
        if (block.header.nextValidatorsHash !== block.header.validatorsHash) setChanges++;
        if (block.header.height === head + 3) break;
      }
      assert.deepEqual(heights, Array.from({ length: head + 3 }, (_, i) => i + 1));
      assert.ok(setChanges >= 1, "the stream crossed a validator set change");
      assert.equal(hashValidatorSet(fresh.verifiedValidatorSetAt(head + 3)!), (await client.getBlock(head + 3))!.header.validatorsHash, "the light client followed the stream");
    } finally {
      client.close();
    }
  });

  it("subscribeEvents: each height once, with the Locked and Claimed events verified", async () => {
    const u = await ledger(userKey);
    const r = await ledger(relayerKey);
    const { preimage, hashlock } = secret(50);
    const locked = await u.lock({ receiver: relayer, asset: "KRW", amount: 50n, hashlock, timelock: (await u.head()).finalizedTime + 600 });
    const claimed = await r.claim(locked.lockId, preimage);
    const watcher = await ledger(relayerKey);
    const seen: { height: number; kinds: string[] }[] = [];
    for await (const at of watcher.subscribeEvents(locked.height)) {
      seen.push({ height: at.height, kinds: at.events.map((e) => e.kind) });
      if (at.height === claimed.height) break;
    }
    assert.deepEqual(seen.map((x) => x.height), Array.from({ length: claimed.height - locked.height + 1 }, (_, i) => locked.height + i));
    assert.deepEqual(seen.flatMap((x) => x.kinds), ["locked", "claimed"]);
    assert.deepEqual(seen[0]!.kinds, ["locked"]);
    assert.deepEqual(seen[seen.length - 1]!.kinds, ["claimed"]);
  });

  it("subscribeBlocks refuses a streamed block the light client does not accept (forged header) or whose txs are not the header's", async () => {
    const real = devnet.nodes[0]!;
    const honestUpTo = real.chain.height;
    const liar = (forge: (b: NonNullable<ReturnType<Chain["block"]>>) => NonNullable<ReturnType<Chain["block"]>>) =>
      new Proxy(real.chain, {
        get(target, prop) {
          if (prop === "block") {
            return (h: number) => {
              const b = target.block(h);
              return b && h > honestUpTo ? forge(b) : b;
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as Chain;
    const cases = [
      {
        // Self-consistent (hash, roots) but later in time: no 2/3 of the set signed it.
        chain: liar((b) => {
          const header = { ...b.header, timeMs: b.header.timeMs + 10 ** 9 };
          return { ...b, header, hash: hashHeader(header) };
        }),
        refusal: new RegExp(`block ${honestUpTo + 1}: commit of ${honestUpTo + 1}: commit is for a different block hash`),
      },
      { chain: liar((b) => ({ ...b, txs: [...b.txs, new Uint8Array([1, 2, 3])] })), refusal: new RegExp(`block ${honestUpTo + 1}: txs do not hash to txRoot`) },
    ];
    for (const { chain, refusal } of cases) {
      const server = await startNodeServer({ node: { chain, mempool: real.mempool, blockIntervalMs: 100, maxClockSkewMs: 2000, submitTx: (b) => real.submitTx(b) } });
      try {
        const viaLiar = await ledger(userKey, { endpoint: server.endpoint });
        const heights: number[] = [];
        await assert.rejects(
          (async () => {
            for await (const block of viaLiar.subscribeBlocks(honestUpTo - 1)) heights.push(block.header.height);
          })(),
          (err: unknown) => err instanceof VerificationError && refusal.test(err.message),
        );
        assert.deepEqual(heights, [honestUpTo - 1, honestUpTo], "the honest blocks before it were delivered, the forged one was not");
        await until(() => server.subscriptions().active === 0, 5_000, "the refused stream to be cancelled");
      } finally {
        await server.close();
      }
    }
  });
});
