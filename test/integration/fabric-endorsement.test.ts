/**
 * Endorsement by both peer orgs: each endorsing peer holds its own stream to a chaincode
 * service (as each Fabric peer does), so both simulations of one proposal are in flight at
 * once; over a single stream (classic registration, executions keyed by txid) they run one
 * after the other. Either way both endorsements are checked and must match.
 */
import assert from "node:assert/strict";
import { Context, Contract } from "fabric-contract-api";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChaincodeServer, type ChaincodeServerHandle } from "../../chains/fabric/chaincode-host.ts";
import { decodeBlockTxs } from "../../chains/fabric/block.ts";
import { startFabricNode, type FabricNode } from "../../chains/fabric/devnet.ts";
import { connectGateway, type GatewayConnection } from "../../chains/fabric/gateway-client.ts";

/** What the slow probe saw, in order: "start <txid>" / "end <txid>" per simulation. */
const trace: string[] = [];

class SlowProbe extends Contract {
  constructor() {
    super("slowprobe");
  }

  async Slow(ctx: Context, key: string): Promise<string> {
    trace.push(`start ${ctx.stub.getTxID()}`);
    await new Promise((r) => setTimeout(r, 300));
    await ctx.stub.putState(key, Buffer.from("done"));
    trace.push(`end ${ctx.stub.getTxID()}`);
    return "ok";
  }
}

describe("embedded Fabric network: the two peer orgs endorse a proposal at once", function () {
  this.timeout(60_000);
  let dir: string;
  let node: FabricNode;
  let probe: ChaincodeServerHandle;
  let conn: GatewayConnection;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "isthmus-fabric-endorse-"));
    node = await startFabricNode({ dir, batchTimeoutMs: 50 });
    probe = await startChaincodeServer("slowprobe", [SlowProbe]);
    await node.network.connectChaincode(probe.address);
    conn = connectGateway(node.network.address, node.network.identity("Org1MSP", "alice"));
  });

  after(async () => {
    conn?.close();
    await node?.close();
    probe?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a chaincode service gets one stream per endorsing peer, and both simulations overlap", async () => {
    assert.equal(node.network.chaincodes.lanes("slowprobe"), node.network.peerOrgs.length);
    trace.length = 0;
    const contract = conn.gateway.getNetwork(node.network.channel).getContract("slowprobe");
    const tx = await contract.newProposal("Slow", { arguments: ["k1"] }).endorse();
    const id = tx.getTransactionId();
    assert.deepEqual(trace, [`start ${id}`, `start ${id}`, `end ${id}`, `end ${id}`], "both started before either ended");
    // VALID: the MAJORITY policy of two orgs needed both endorsements, and they matched
    const status = await (await tx.submit()).getStatus();
    assert.equal(status.successful, true);
    const [committed] = decodeBlockTxs(node.network.getBlock(Number(status.blockNumber))!).filter((t) => t.txId === id);
    assert.equal(committed!.chaincodeId, "slowprobe");
  });
});
