import assert from "node:assert/strict";
import { Interface, Transaction, Wallet, type JsonRpcProvider } from "ethers";
import { LedgerError } from "../../chains/errors.ts";
import { bumpFees, TxSender } from "../../chains/evm/tx-sender.ts";

const KEY = `0x${"5a".repeat(32)}`;
const TO = `0x${"77".repeat(20)}` as const;

/**
 * A scripted node: each eth_sendRawTransaction goes to `onSend` (which may throw the node's
 * refusal), blocks advance one per getBlockNumber call, and receipts exist for the hashes
 * in `mined`.
 */
function scriptedNode(onSend: (tx: Transaction, n: number) => void) {
  const sent: Transaction[] = [];
  const mined = new Set<string>();
  let height = 100;
  let nonceReads = 0;
  const provider = {
    estimateGas: async () => 21_000n,
    getFeeData: async () => ({ maxFeePerGas: 1000n, maxPriorityFeePerGas: 100n, gasPrice: null }),
    getTransactionCount: async () => (nonceReads++, 7),
    getBlockNumber: async () => height++,
    getTransaction: async (h: string) => (sent.some((t) => t.hash === h) ? {} : null),
    getTransactionReceipt: async (h: string) => (mined.has(h) ? { status: 1, hash: h, blockNumber: height } : null),
    call: async () => "0x",
    send: async (method: string, params: string[]) => {
      assert.equal(method, "eth_sendRawTransaction");
      const tx = Transaction.from(params[0]!);
      sent.push(tx);
      onSend(tx, sent.length);
      return tx.hash;
    },
  };
  const sender = new TxSender({
    chain: "evm",
    chainId: 31337,
    provider: provider as unknown as JsonRpcProvider,
    wallet: new Wallet(KEY),
    errors: new Interface([]),
    pollingIntervalMs: 1,
    receiptTimeoutMs: 5_000,
    rebroadcastAfterBlocks: 3,
  });
  return { sender, sent, mined, nonceReads: () => nonceReads };
}

const call = { label: "transfer", to: TO, data: "0x" as const, value: 1n };

describe("EVM tx sender: rebroadcast at the same nonce, refusals answered from chain state", () => {
  it("bumpFees raises every fee by the percentage, rounding up", () => {
    assert.deepEqual(bumpFees({ type: 2, maxFeePerGas: 1000n, maxPriorityFeePerGas: 3n }, 25), { type: 2, maxFeePerGas: 1250n, maxPriorityFeePerGas: 4n });
    assert.deepEqual(bumpFees({ type: 0, gasPrice: 0n }, 10), { type: 0, gasPrice: 1n });
  });

  it("a transaction not mined after K blocks is signed again at the same nonce with a higher fee", async () => {
    const node = scriptedNode((tx, n) => {
      if (n === 2) node.mined.add(tx.hash!); // the first was silently dropped; the rebroadcast mines
    });
    const receipt = await node.sender.send(call);
    assert.equal(node.sent.length, 2);
    const [a, b] = node.sent as [Transaction, Transaction];
    assert.equal(b.nonce, a.nonce, "same nonce");
    assert.equal(b.maxFeePerGas, (a.maxFeePerGas! * 125n) / 100n, "fee bumped 25%");
    assert.ok(b.maxPriorityFeePerGas! > a.maxPriorityFeePerGas!);
    assert.equal(receipt.hash, b.hash);
    assert.equal(node.sender.rebroadcasts, 1);
    assert.equal(node.sender.nonceResyncs, 0, "a rebroadcast keeps the nonce");
  });

  for (const refusal of ["nonce too low", "already known", "replacement transaction underpriced"]) {
    it(`"${refusal}" on a rebroadcast while the first is mined returns the first's receipt, sending nothing more`, async () => {
      let first = "";
      const node = scriptedNode((tx, n) => {
        if (n === 1) first = tx.hash!;
        if (n === 2) {
          node.mined.add(first); // it was mined meanwhile
          throw new Error(refusal);
        }
      });
      const receipt = await node.sender.send(call);
      assert.equal(receipt.hash, first);
      assert.equal(node.sent.length, 2, "no blind retry");
    });
  }

  it('"replacement underpriced" while ours is pending: keep waiting, bump again, the later one mines', async () => {
    const node = scriptedNode((tx, n) => {
      if (n === 2) throw new Error("replacement transaction underpriced");
      if (n === 3) node.mined.add(tx.hash!);
    });
    const receipt = await node.sender.send(call);
    assert.equal(node.sent.length, 3);
    assert.equal(receipt.hash, node.sent[2]!.hash);
    assert.equal(new Set(node.sent.map((t) => t.nonce)).size, 1);
  });

  it('"nonce too low" with none of ours mined: someone else used the nonce -> TX_REPLACED, nonce re-read next send', async () => {
    const node = scriptedNode((_tx, n) => {
      if (n === 2) throw new Error("nonce too low");
      if (n === 3) node.mined.add(_tx.hash!);
    });
    await assert.rejects(node.sender.send(call), (e: unknown) => e instanceof LedgerError && e.code === "TX_REPLACED");
    assert.equal(node.sender.nonceResyncs, 1, "counted for isthmus_nonce_resyncs_total");
    const reads = node.nonceReads();
    await node.sender.send(call);
    assert.equal(node.nonceReads(), reads + 1, "the next send re-read the nonce from the chain");
  });
});
