/**
 * A validator joining a running network as its own OS process, with nobody editing configs
 * or restarting: 4 validator processes (stake 100 each) from `initNodeHomes`; a 5th home made
 * by the real CLI (`isthmus node init --join <validator 0's peer endpoint>`), started as a
 * process that follows the chain; it is funded, bonds 100 through a tx (`isthmus node tx
 * --home <its home> bond 100`), announces its peer
 * endpoint on chain itself, and from two blocks after its bond its precommits appear in the
 * commits (so the validators dial it: it can only precommit proposals they push to it).
 * Then it is SIGKILLed and the 4 (400 of 500 > 2/3) keep finalizing without a fork.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Hex } from "../../proofs/hex.ts";
import { verifyCommit } from "../../proofs/consortium/commit.ts";
import { stakeOf } from "../../proofs/consortium/validators.ts";
import { Signer } from "../../chains/consortium/crypto.ts";
import { contiguousFreePorts } from "../../chains/consortium/devnet.ts";
import { initNodeHomes } from "../../chains/consortium/node/home.ts";
import { NodeProcess } from "../../chains/consortium/node/process.ts";
import { ConsortiumClient } from "../../chains/consortium/rpc/client.ts";
import { type TxBody, signTx } from "../../chains/consortium/tx.ts";
import { alice } from "../unit/consortium/helpers.ts";
import { eventually } from "./support/eventually.ts";

const BLOCK_MS = 250;
const CHAIN_ID = 4242;
const REPO = fileURLToPath(new URL("../..", import.meta.url));

describe("consortium network: a validator joins as its own process (init --join, bond, announce)", function () {
  this.timeout(240_000);
  let dir: string;
  const procs: NodeProcess[] = [];
  const clients: ConsortiumClient[] = [];

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("joins, signs commits from H + 2, and the 4 keep finalizing after it is killed", async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-join-"));
    // Below Linux's ephemeral range (32768-60999): the joiner binds base + 8 and + 9 only after
    // the 4 have run a while, and an outgoing connection could have taken one by then.
    const near = 20_000 + Math.floor(Math.random() * 12_000);
    const base = await contiguousFreePorts(10, near);
    const net = initNodeHomes({
      dir,
      validators: 4,
      chainId: CHAIN_ID,
      basePort: base,
      blockIntervalMs: BLOCK_MS,
      balances: [{ address: alice.address, asset: "ISTH", amount: 10n ** 18n }],
    });
    procs.push(...(await Promise.all(net.homes.map((h) => NodeProcess.start({ home: h.home, devnet: false, logLevel: "warn" })))));
    const validators = procs.slice(0, 4);
    clients.push(...validators.map((p) => new ConsortiumClient(p.apiEndpoint)));
    await eventually("the 4 to finalize a block", 30_000, async () => ((await clients[0]!.getStatus()).height >= 2 ? true : undefined));

    // The 5th home, made by the real CLI from validator 0's peer port.
    const joinerHome = join(dir, "joiner");
    const { stdout } = await promisify(execFile)(process.execPath, [join(REPO, "bin/isthmus.js"), "node", "init", "--home", joinerHome, "--join", validators[0]!.p2pEndpoint, "--base-port", String(base + 8), "--chain-id", String(CHAIN_ID)], { cwd: REPO });
    const init = JSON.parse(stdout) as { chainId: number; homes: { address: Hex; p2p: string }[]; peers: string[] };
    assert.equal(init.chainId, CHAIN_ID);
    assert.deepEqual(new Set(init.peers), new Set(net.homes.map((h) => h.p2p)), "every validator's endpoint, learnt from validator 0");
    const joinerKey = JSON.parse(readFileSync(join(joinerHome, "key.json"), "utf8")) as { privateKey: Hex };
    const joinerSigner = Signer.fromPrivateKey(joinerKey.privateKey);
    assert.equal(joinerSigner.address, init.homes[0]!.address);
    const joiner = await NodeProcess.start({ home: joinerHome, devnet: false, logLevel: "warn" });
    procs.push(joiner);
    const joinerClient = new ConsortiumClient(joiner.apiEndpoint);
    clients.push(joinerClient);
    assert.equal(joiner.p2pEndpoint, `127.0.0.1:${base + 8}`);

    // It follows as a full node (nobody gossips to it yet: it pulls).
    const head0 = (await clients[0]!.getStatus()).height;
    await eventually("the joiner to follow the chain", 30_000, async () => ((await joinerClient.getStatus()).height >= head0 + 2 ? true : undefined));

    // Funded by alice, it bonds 100 through a tx (signed with its own key, submitted to its own node).
    const send = async (client: ConsortiumClient, signer: Signer, body: TxBody) => {
      const nonce = (await client.getAccount(signer.address)).pendingNonce;
      const tx = signTx(signer, { chainId: CHAIN_ID, nonce, body });
      await client.submitTx(tx.bytes);
      const st = await client.waitTx(tx.hash, 30_000);
      assert.equal(st.status, "committed", `${body.kind}: ${st.status}`);
      if (st.status !== "committed") throw new Error("not committed");
      assert.equal(st.result.ok, true, `${body.kind}: ${st.result.code} ${st.result.message}`);
      return st.height;
    };
    await send(clients[0]!, alice, { kind: "transfer", to: joinerSigner.address, asset: "ISTH", amount: 150n });
    await eventually("the joiner to see its funds", 30_000, async () => ((await joinerClient.getAccount(joinerSigner.address)).balances.get("ISTH") === 150n ? true : undefined));
    // The bond through the CLI: signed with the home's key, sent to the joiner's own API.
    const bonded = await promisify(execFile)(process.execPath, [join(REPO, "bin/isthmus.js"), "node", "tx", "--home", joinerHome, "bond", "100"], { cwd: REPO });
    const bondRes = JSON.parse(bonded.stdout) as { ok: boolean; height: number; hash: Hex };
    assert.equal(bondRes.ok, true);
    const bondHeight = bondRes.height;

    // From bondHeight + 2 the set holds it; its precommits must show up in commits.
    const signedBy = async (h: number): Promise<boolean | undefined> => {
      const b = await clients[0]!.getBlock(h);
      if (!b) return undefined;
      const set = await clients[0]!.getValidatorSet(b.header.validatorsHash);
      assert.ok(set, `set ${b.header.validatorsHash} served`);
      const v = verifyCommit(b.header, b.commit, set!);
      assert.ok(v.ok, v.ok ? "" : v.reason);
      return v.signers.includes(joinerSigner.address);
    };
    await eventually("the set to include the joiner", 30_000, async () => {
      const st = await clients[1]!.getStatus();
      return stakeOf(st.validators, joinerSigner.address) === 100n ? true : undefined;
    });
    const signedHeights: number[] = [];
    let h = bondHeight + 2;
    await eventually("3 commits carrying the joiner's precommit", 90_000, async () => {
      for (;;) {
        const r = await signedBy(h);
        if (r === undefined) return signedHeights.length >= 3 ? true : undefined;
        if (r) signedHeights.push(h);
        h++;
        if (signedHeights.length >= 3) return true;
      }
    });
    assert.ok(signedHeights.length >= 3, `joiner signed at ${signedHeights.join(", ")}`);

    // Killed, it leaves 400 of 500: the 4 keep finalizing, all on one chain.
    await joiner.kill();
    const afterKill = Math.max(...(await Promise.all(clients.slice(0, 4).map((c) => c.getStatus().then((s) => s.height)))));
    await eventually("5 more blocks on every remaining validator", 60_000, async () => {
      const hs = await Promise.all(clients.slice(0, 4).map((c) => c.getStatus().then((s) => s.height)));
      return Math.min(...hs) >= afterKill + 5 ? true : undefined;
    });
    const top = Math.min(...(await Promise.all(clients.slice(0, 4).map((c) => c.getStatus().then((s) => s.height)))));
    for (let k = bondHeight; k <= top; k++) {
      const hashes = await Promise.all(clients.slice(0, 4).map((c) => c.getBlock(k).then((b) => b!.hash)));
      assert.equal(new Set(hashes).size, 1, `one block at height ${k}`);
    }
  });
});
