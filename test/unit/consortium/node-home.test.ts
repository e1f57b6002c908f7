import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../../../chains/errors.ts";
import { homePaths, initNodeHomes, loadNodeHome, NodeHomeError, parseNodeConfig } from "../../../chains/consortium/node/home.ts";
import { runNodeCommand } from "../../../chains/consortium/node/cli.ts";
import { JOIN_FAILED, initJoiningHome } from "../../../chains/consortium/node/join.ts";
import { stakeTxBody } from "../../../chains/consortium/node/stake-tx.ts";
import { freePorts } from "../../../chains/consortium/devnet.ts";
import { openStoredChain } from "../../../chains/consortium/open-chain.ts";

describe("consortium node homes (isthmus node init)", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-home-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes one home per validator with a shared genesis, private keys and peers pointing at each other", () => {
    const res = initNodeHomes({ dir, validators: 3, chainId: 99, basePort: 30000 });
    assert.equal(res.homes.length, 3);
    const loaded = res.homes.map((h) => loadNodeHome(h.home));
    assert.deepEqual(loaded[0]!.genesis, loaded[2]!.genesis);
    assert.deepEqual(loaded[0]!.genesis.validators.validators.map((v) => v.address).sort(), res.homes.map((h) => h.address).sort());
    assert.deepEqual(loaded[1]!.config.peers, ["127.0.0.1:30000", "127.0.0.1:30004"]);
    assert.equal(loaded[1]!.config.p2pPort, 30002);
    assert.equal(loaded[1]!.config.apiPort, 30003);
    assert.equal(new Set(loaded.map((l) => l.privateKey)).size, 3, "fresh keys");
    assert.equal(statSync(homePaths(res.homes[0]!.home).key).mode & 0o777, 0o600);
    assert.throws(() => initNodeHomes({ dir, validators: 3, chainId: 99, basePort: 30000 }), InvalidInputError, "refuses to overwrite");
  });

  it("refuses unknown config keys, bad peers and a missing key file", () => {
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, peer: [] }), /unknown key/);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, peers: ["0.0.0.0:1"] }), /127\.0\.0\.1/);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, timeouts: { proposeMs: 1 } }), /timeouts/);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, role: "observer" }), /role: must be "validator" or "follower"/);
    const ok = parseNodeConfig({ p2pPort: 1, apiPort: 2 });
    assert.equal(ok.blockIntervalMs, 1000);
    assert.equal(ok.role, undefined);
    assert.equal(parseNodeConfig({ p2pPort: 1, apiPort: 2, role: "validator" }).role, "validator");
    const [h] = initNodeHomes({ dir, validators: 1, chainId: 5, basePort: 31000 }).homes;
    assert.equal(h!.home, dir);
    rmSync(homePaths(dir).key);
    assert.throws(() => loadNodeHome(dir), NodeHomeError);
    writeFileSync(homePaths(dir).key, JSON.stringify({ privateKey: "0x12" }));
    assert.throws(() => loadNodeHome(dir), /privateKey/);
    assert.match(readFileSync(homePaths(dir).config, "utf8"), /"p2pPort": 31000/);
  });

  it("takes stateHistory from config.json and the opened chain keeps that many provable heights", () => {
    assert.equal(parseNodeConfig({ p2pPort: 1, apiPort: 2, stateHistory: 500 }).stateHistory, 500);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, stateHistory: 0 }), /stateHistory/);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, stateHistory: "32" }), /stateHistory/);
    const net = initNodeHomes({ dir: join(dir, "sh"), validators: 1, chainId: 5, basePort: 31100 });
    const home = loadNodeHome(net.homes[0]!.home);
    const { store, chain } = openStoredChain({ storePath: home.storePath, genesis: home.genesis, stateHistory: 7 });
    try {
      assert.equal(chain.stateHistory, 7);
    } finally {
      store.close();
    }
  });

  it("parses the endpoint a joining validator announces, refusing what is not host:port", () => {
    assert.equal(parseNodeConfig({ p2pPort: 1, apiPort: 2, announce: "127.0.0.1:26656" }).announce, "127.0.0.1:26656");
    assert.equal(parseNodeConfig({ p2pPort: 1, apiPort: 2 }).announce, undefined);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, announce: "127.0.0.1" }), /announce: endpoint "127.0.0.1" is not host:port/);
    assert.throws(() => parseNodeConfig({ p2pPort: 1, apiPort: 2, announce: 26656 }), /announce: expected a string/);
  });

  it("init --join refuses a bad endpoint and mixed flags, and names a node that does not answer", async () => {
    await assert.rejects(runNodeCommand(["init", "--home", dir, "--join", "example.com:1"]), /expected a peer endpoint "127.0.0.1:port"/);
    await assert.rejects(runNodeCommand(["init", "--home", dir, "--join", "127.0.0.1:1", "--peers", "127.0.0.1:2"]), /does not go with --genesis, --peers or --validators/);
    const port = (await freePorts(1))[0]!;
    await assert.rejects(initJoiningHome({ home: dir, join: `127.0.0.1:${port}`, p2pPort: 30100 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, JOIN_FAILED);
      assert.match(err.message, new RegExp(`could not ask 127.0.0.1:${port} for the network's genesis`));
      return true;
    });
    assert.throws(() => loadNodeHome(dir), NodeHomeError, "nothing was written");
  });

  it("node tx parses staking transactions and names the argument that is wrong", () => {
    const v = `0x${"ab".repeat(20)}`;
    assert.deepEqual(stakeTxBody(["bond", "100"]), { kind: "bond", amount: 100n });
    assert.deepEqual(stakeTxBody(["undelegate", v.toUpperCase().replace("0X", "0x"), "7"]), { kind: "undelegate", validator: v, amount: 7n });
    assert.deepEqual(stakeTxBody(["endpoint", "127.0.0.1:5"]), { kind: "endpoint", endpoint: "127.0.0.1:5" });
    assert.throws(() => stakeTxBody(["bond", "1.5"]), /amount "1.5" is not a whole number/);
    assert.throws(() => stakeTxBody(["delegate", "0x12", "1"]), /validator "0x12" is not a 20-byte/);
    assert.throws(() => stakeTxBody(["delegate", v]), /expected 2 argument/);
    assert.throws(() => stakeTxBody(["mint", "1"]), /unknown kind "mint"/);
  });
});
