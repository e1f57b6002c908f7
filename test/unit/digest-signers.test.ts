import assert from "node:assert/strict";
import { Transaction, Wallet } from "ethers";
import { Signer } from "../../chains/consortium/crypto.ts";
import { signTx, signTxWith } from "../../chains/consortium/tx.ts";
import { DigestSignerWallet } from "../../chains/evm/digest-signer.ts";
import type { Secp256k1DigestSigner } from "../../chains/signer.ts";

const KEY = `0x${"4c".repeat(32)}`;

/** A signer that holds the key out of reach of the code under test, counting what it signs. */
function countingSigner(): Secp256k1DigestSigner & { calls: number } {
  const key = Signer.fromPrivateKey(KEY);
  const s = { curve: "secp256k1" as const, address: key.address, calls: 0, signDigest: async (d: Uint8Array) => (s.calls++, key.sign(d)) };
  return s;
}

describe("digest signers: the adapters' signing through a signer gives the bytes in-process signing gives", () => {
  it("EVM: DigestSignerWallet serialises exactly what ethers' Wallet does (EIP-1559 and legacy), from the digest alone", async () => {
    const signer = countingSigner();
    const remote = new DigestSignerWallet(signer);
    const local = new Wallet(KEY);
    assert.equal(remote.address.toLowerCase(), local.address.toLowerCase());
    for (const tx of [
      { to: "0x" + "11".repeat(20), data: "0x1234", value: 5n, chainId: 31337, nonce: 7, gasLimit: 100_000n, type: 2, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 10n ** 8n },
      { to: "0x" + "22".repeat(20), data: "0x", value: 0n, chainId: 31337, nonce: 8, gasLimit: 21_000n, type: 0, gasPrice: 10n ** 9n },
    ]) {
      const a = await remote.signTransaction(tx);
      assert.equal(a, await local.signTransaction(tx));
      assert.equal(Transaction.from(a).from!.toLowerCase(), signer.address);
    }
    assert.equal(signer.calls, 2, "one digest per transaction");
    assert.equal(await remote.signMessage("isthmus"), await local.signMessage("isthmus"));
    await assert.rejects(remote.signTransaction({ from: "0x" + "33".repeat(20), to: "0x" + "11".repeat(20), chainId: 1, nonce: 0, gasLimit: 21_000n, gasPrice: 1n }), /transaction\.from: is 0x3333/);
  });

  it("EVM: a signer answering something other than 65 bytes is a typed refusal", async () => {
    const bad: Secp256k1DigestSigner = { curve: "secp256k1", address: "0x" + "11".repeat(20) as `0x${string}`, signDigest: async () => new Uint8Array(64) };
    await assert.rejects(new DigestSignerWallet(bad).signTransaction({ to: "0x" + "11".repeat(20), chainId: 1, nonce: 0, gasLimit: 21_000n, gasPrice: 1n }), /signature: the signer returned 64 bytes/);
  });

  it("consortium: signTxWith (async signer) gives the same signed bytes as signTx", async () => {
    const signer = countingSigner();
    const body = { kind: "transfer" as const, to: ("0x" + "11".repeat(20)) as `0x${string}`, asset: "KRW", amount: 5n };
    const a = await signTxWith(signer, { chainId: 7701, nonce: 3, body });
    const b = signTx(Signer.fromPrivateKey(KEY), { chainId: 7701, nonce: 3, body });
    assert.deepEqual(a.bytes, b.bytes);
    assert.equal(a.from, signer.address);
    await assert.rejects(signTxWith({ ...signer, signDigest: async () => new Uint8Array(10) }, { chainId: 7701, nonce: 3, body }), /the signer returned 10 bytes/);
  });
});
