/**
 * Pure helpers of chains/evm: revert decoding over the error shapes ethers and Hardhat
 * produce, log-safe RPC error text, and the missing-artifact message.
 */
import assert from "node:assert/strict";
import { AbiCoder, Interface } from "ethers";
import { IsthmusError } from "../../chains/errors.ts";
import { ARTIFACT_MISSING, loadArtifact } from "../../chains/evm/artifacts.ts";
import { decodeRevert, buildErrorInterface, findRevertData, formatRevert, describeRpcError } from "../../chains/evm/revert.ts";
import type { Hex } from "../../chains/ledger.ts";

const ABI = [
  "error WrongPreimage(bytes32 lockId, bytes32 preimage)",
  "error Expired(uint64 timelock, uint256 blockTimestamp)",
  "error InvalidReceiver(address receiver)",
  "function claim(bytes32 lockId, bytes32 preimage)",
];
const iface = buildErrorInterface(ABI, ["error Expired(uint64 timelock, uint256 blockTimestamp)", "error InvalidAmount()"]);
const id = `0x${"11".repeat(32)}` as Hex;
const pre = `0x${"22".repeat(32)}` as Hex;
const wrongPreimage = new Interface(ABI).encodeErrorResult("WrongPreimage", [id, pre]) as Hex;

describe("evm revert helpers", function () {
  it("merges error fragments from several ABIs, each once", function () {
    const names: string[] = [];
    iface.forEachError((f) => names.push(f.name));
    assert.deepEqual(names.sort(), ["Expired", "InvalidAmount", "InvalidReceiver", "WrongPreimage"]);
  });

  it("decodes a custom error into named, JSON-safe args", function () {
    const r = decodeRevert(iface, wrongPreimage);
    assert.deepEqual(r, { name: "WrongPreimage", args: { lockId: id, preimage: pre }, data: wrongPreimage });
    const expired = decodeRevert(iface, new Interface(ABI).encodeErrorResult("Expired", [100, 101n]) as Hex);
    assert.deepEqual(expired.args, { timelock: "100", blockTimestamp: "101" });
    assert.doesNotThrow(() => JSON.stringify(expired));
    const addr = decodeRevert(iface, new Interface(ABI).encodeErrorResult("InvalidReceiver", ["0xabcdef0000000000000000000000000000000001"]) as Hex);
    assert.equal(addr.args.receiver, "0xabcdef0000000000000000000000000000000001", "un-checksummed, as ethers decodes it checksummed");
    assert.equal(formatRevert(expired), "Expired(timelock=100, blockTimestamp=101)");
  });

  it("decodes the builtin Error(string) and Panic(uint256)", function () {
    const err = `0x08c379a0${AbiCoder.defaultAbiCoder().encode(["string"], ["Nope Nope"]).slice(2)}` as Hex;
    assert.deepEqual(decodeRevert(iface, err).args, { 0: "Nope Nope" });
    assert.equal(decodeRevert(iface, err).name, "Error");
    const panic = `0x4e487b71${AbiCoder.defaultAbiCoder().encode(["uint256"], [0x11]).slice(2)}` as Hex;
    assert.equal(decodeRevert(iface, panic).name, "Panic");
  });

  it("reports unknown selectors and missing data as 'unknown'", function () {
    assert.deepEqual(decodeRevert(iface, "0xdeadbeef"), { name: "unknown", args: { selector: "0xdeadbeef" }, data: "0xdeadbeef" });
    assert.deepEqual(decodeRevert(iface, undefined), { name: "unknown", args: {}, data: "0x" });
    assert.equal(decodeRevert(iface, "0x").name, "unknown");
  });

  it("finds revert data where ethers and Hardhat put it, but not in the transaction", function () {
    assert.equal(findRevertData({ code: "CALL_EXCEPTION", data: wrongPreimage, transaction: { data: "0x12345678" } }), wrongPreimage);
    // Hardhat answering eth_sendRawTransaction for a mined, reverted transaction:
    assert.equal(findRevertData({ error: { code: -32603, data: { message: "VM Exception", txHash: `0x${"ab".repeat(32)}`, data: wrongPreimage } } }), wrongPreimage);
    assert.equal(findRevertData({ info: { error: { data: wrongPreimage } } }), wrongPreimage);
    assert.equal(findRevertData({ transaction: { data: wrongPreimage }, payload: { params: [wrongPreimage] } }), undefined);
    assert.equal(findRevertData(new Error("plain")), undefined);
  });

  it("describes RPC errors with the node's words and never the signed transaction", function () {
    const signed = `0x02f9${"cd".repeat(400)}`;
    const ethersLike = {
      shortMessage: "nonce has already been used",
      message: `nonce has already been used (transaction="${signed}", info={...})`,
      info: { error: { code: -32000, message: "Nonce too low. Expected nonce to be 2 but got 1." } },
    };
    assert.equal(describeRpcError(ethersLike), "Nonce too low. Expected nonce to be 2 but got 1.");
    assert.equal(describeRpcError({ shortMessage: "could not coalesce error", message: signed, error: { message: "boom" } }), "boom");
    assert.equal(describeRpcError({ shortMessage: "missing revert data", message: `missing revert data ${signed}` }), "missing revert data");
    assert.ok(describeRpcError(new Error("x".repeat(1000))).length <= 301);
  });

  it("tells the user to compile when an artifact is missing", function () {
    assert.throws(
      () => loadArtifact("HTLC", { artifactsDir: "/nonexistent/artifacts" }),
      (err: unknown) => err instanceof IsthmusError && err.code === ARTIFACT_MISSING && /npm run compile/.test(err.message),
    );
  });
});
