import assert from "node:assert/strict";
import { ChainPeering } from "../../../chains/consortium/node/peering.ts";
import { type GrpcTransport } from "../../../chains/consortium/net/grpc-transport.ts";
import { type ValidatorNode } from "../../../chains/consortium/validator.ts";
import { quietLogger } from "../../../chains/consortium/log.ts";
import { Driver } from "./staking-driver.ts";
import { carol, validatorSigners } from "./helpers.ts";

/** The links a transport holds: configured peers plus what peering added and did not remove. */
class Links {
  readonly endpoints = new Set<string>(["static.peer:26656"]);
  addPeer(endpoint: string): boolean {
    if (this.endpoints.has(endpoint)) return false;
    this.endpoints.add(endpoint);
    return true;
  }
  removePeer(endpoint: string): boolean {
    return this.endpoints.delete(endpoint);
  }
}

describe("consortium chain peering", () => {
  it("keeps one link per member's current endpoint: a changed endpoint, or a departed validator's once it signs no more, is dropped; configured peers stay", () => {
    const d = new Driver();
    const links = new Links();
    const me = validatorSigners[0]!;
    const peering = new ChainPeering({
      node: { chain: d.chain, address: me.address } as unknown as ValidatorNode,
      transport: links as unknown as GrpcTransport,
      selfEndpoint: "me:1",
      intervalMs: 60_000,
      log: quietLogger,
    });
    try {
      d.block([[carol, { kind: "bond", amount: 100n }]]);
      // A member can announce a new endpoint every block: each is a host every node would dial.
      for (let port = 1000; port < 1010; port++) {
        d.block([[carol, { kind: "endpoint", endpoint: `victim.example:${port}` }]]);
        peering.tick();
      }
      assert.deepEqual([...links.endpoints].sort(), ["static.peer:26656", "victim.example:1009"]);
      // Announcing a configured peer's endpoint and then leaving must not drop the configured link.
      d.block([[carol, { kind: "endpoint", endpoint: "static.peer:26656" }]]);
      peering.tick();
      d.block([[carol, { kind: "unbond", amount: 100n }]]);
      peering.tick();
      assert.deepEqual([...links.endpoints], ["static.peer:26656"]);
      d.block();
      d.block();
      // A validator that left is not dialed any more once it signs no more.
      d.block([[carol, { kind: "bond", amount: 100n }]]);
      d.block([[carol, { kind: "endpoint", endpoint: "carol.example:2000" }]]);
      peering.tick();
      assert.ok(links.endpoints.has("carol.example:2000"));
      d.block([[carol, { kind: "unbond", amount: 100n }]]); // H: carol leaves the set from H + 2
      peering.tick();
      assert.ok(links.endpoints.has("carol.example:2000"), "still dialed while it signs block H + 1");
      d.block();
      peering.tick();
      assert.deepEqual([...links.endpoints], ["static.peer:26656"]);
    } finally {
      peering.stop();
    }
  });
});
