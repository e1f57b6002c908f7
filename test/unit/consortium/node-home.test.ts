import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../../../chains/errors.ts";
import { homePaths, initNodeHomes, loadNodeHome, NodeHomeError, parseNodeConfig } from "../../../chains/consortium/node/home.ts";
import { readGenesisFile, runNodeCommand } from "../../../chains/consortium/node/cli.ts";
import { NodePortBusyError, startNode } from "../../../chains/consortium/node/run.ts";
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

  it("init --join names the peer port when given a port that answers gRPC without the peer service (a node's API port)", async () => {
    const server = new grpc.Server();
    const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
    try {
      await assert.rejects(initJoiningHome({ home: dir, join: `127.0.0.1:${port}`, p2pPort: 30100 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, JOIN_FAILED);
        assert.match(err.message, /UNIMPLEMENTED.*is it its API port\? --join takes the p2pPort in the node's config\.json/);
        return true;
      });
    } finally {
      server.forceShutdown();
    }
  });

  it("init --genesis names the file and the flag when it is missing, not JSON, or not a genesis", async () => {
    const peers = ["--peers", "127.0.0.1:30200"];
    await assert.rejects(runNodeCommand(["init", "--home", join(dir, "a"), "--genesis", join(dir, "none.json"), ...peers]), (err: Error & { code?: string }) => {
      assert.equal(err.code, "INVALID_INPUT");
      assert.match(err.message, /^--genesis: cannot read .*none\.json: ENOENT/);
      return true;
    });
    writeFileSync(join(dir, "readme.md"), "# not json\n");
    await assert.rejects(runNodeCommand(["init", "--home", join(dir, "b"), "--genesis", join(dir, "readme.md"), ...peers]), /--genesis: .*readme\.md is not JSON/);
    writeFileSync(join(dir, "devnet.json"), JSON.stringify({ api: "http://127.0.0.1:7700", chains: {} }));
    await assert.rejects(runNodeCommand(["init", "--home", join(dir, "c"), "--genesis", join(dir, "devnet.json"), ...peers]), /--genesis: .*devnet\.json is not a consortium genesis\.json/);
    for (const h of ["a", "b", "c"]) assert.equal(existsSync(join(dir, h)), false, "nothing was written");
    const net = initNodeHomes({ dir: join(dir, "net"), validators: 1, chainId: 5, basePort: 30300 });
    assert.equal(readGenesisFile(homePaths(net.homes[0]!.home).genesis).chainId, 5, "a real genesis.json still reads");
  });

  it("a node whose configured port is taken fails naming the port and its config key, before opening the store", async () => {
    const [port] = await freePorts(1);
    const [h] = initNodeHomes({ dir, validators: 1, chainId: 5, basePort: port! }).homes;
    const holder: Server = await new Promise((res, rej) => {
      const s = createServer();
      s.once("error", rej);
      s.listen(port, "127.0.0.1", () => res(s));
    });
    try {
      await assert.rejects(startNode({ home: h!.home }), (err: unknown) => {
        assert.ok(err instanceof NodePortBusyError);
        assert.equal(err.code, "PORT_BUSY");
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} \\(config\\.json p2pPort\\) is in use; is a node already running from this home\\?`));
        return true;
      });
      assert.equal(existsSync(loadNodeHome(h!.home).storePath), false, "the store was not opened");
    } finally {
      await new Promise((res) => holder.close(res));
    }
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
