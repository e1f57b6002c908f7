/**
 * `npm run bench` (light client part): gas of contracts/ConsortiumLightClient.sol on
 * Hardhat's in-process network (solc 0.8.30, optimizer 200 runs, cancun), on the real
 * consortium vectors (test/vectors/consortium/light-client.json: 4 validators staked
 * 100/100/100/150, then a fifth validator bonding 50). Prints one JSON object. headerUpdates
 * covers headers without a set change (submitHeader) and the set change itself
 * (submitHeaderWithNextSet: header 4 installing the 5-validator set) and the first header
 * the new set signs. Gas is deterministic, so machine load does not affect these figures.
 *
 * lockProofs / absenceProofs: a lock and a lock's absence proven against a stored stateRoot
 * (sparse Merkle path; `siblings` is the path's depth).
 * totalGas is what a transaction pays (for the views `verifyLock`, `verifyLockAbsent`: eth_estimateGas of a call
 * sent as a transaction); intrinsicGas = 21,000 + calldata (EIP-2028: 16 per non-zero byte,
 * 4 per zero byte); executionGas = totalGas - intrinsicGas.
 */
import { readFileSync } from "node:fs";
import hre from "hardhat";
import type {} from "@nomicfoundation/hardhat-ethers";
import type { Commit, Header } from "../../proofs/consortium/index.ts";
import { type LightClientVectors, OUT } from "../vectors/consortium/capture.ts";

const { ethers } = hre;
type Contract = InstanceType<typeof ethers.Contract>;

const V = JSON.parse(readFileSync(OUT, "utf8")) as LightClientVectors;

function intrinsicGas(data: string): number {
  const bytes = ethers.getBytes(data);
  return 21_000 + bytes.reduce((g, b) => g + (b === 0 ? 4 : 16), 0);
}
const split = (total: bigint, data: string) => ({ totalGas: Number(total), intrinsicGas: intrinsicGas(data), executionGas: Number(total) - intrinsicGas(data) });

async function deploy(): Promise<{ lc: Contract; gas: bigint }> {
  const lc = (await ethers.deployContract("ConsortiumLightClient", [V.chainId, V.validators.map((v) => v.address), V.validators.map((v) => BigInt(v.stake))])) as unknown as Contract;
  const receipt = await lc.deploymentTransaction()!.wait();
  return { lc, gas: receipt!.gasUsed };
}

async function submitGas(lc: Contract, header: Header, commit: Commit) {
  const tx = await lc.submitHeader(header, commit.round, commit.signatures, commit.timesMs);
  const receipt = await tx.wait();
  return { signatures: commit.signatures.length, ...split(receipt!.gasUsed, tx.data) };
}

const { lc, gas: deployGas } = await deploy();
const headerUpdates = [];
for (const { name, header, commit } of V.headers) headerUpdates.push({ name, ...(await submitGas(lc, header, commit)) });
for (const v of V.setChange.accepted) {
  if (!v.nextValidators) {
    headerUpdates.push({ name: v.name, setChange: false, ...(await submitGas(lc, v.header, v.commit)) });
    continue;
  }
  const tx = await lc.submitHeaderWithNextSet(v.header, v.commit.round, v.commit.signatures, v.commit.timesMs, v.nextValidators.map((x) => x.address), v.nextValidators.map((x) => BigInt(x.stake)));
  const receipt = await tx.wait();
  headerUpdates.push({ name: v.name, setChange: true, nextValidators: v.nextValidators.length, signatures: v.commit.signatures.length, ...split(receipt!.gasUsed, tx.data) });
}
const minimal = V.commits.find((c) => c.accept)!;
const { lc: lc2 } = await deploy();
headerUpdates.push({ name: minimal.name, ...(await submitGas(lc2, minimal.header, minimal.commit)) });

const lockProofs = [];
for (const l of V.locks.filter((x) => x.accept)) {
  const data = lc.interface.encodeFunctionData("verifyLock", [l.height, l.lockId, l.value, l.proof]);
  const total = await ethers.provider.estimateGas({ to: await lc.getAddress(), data });
  lockProofs.push({ name: l.name, siblings: l.proof.siblings.length, ...split(total, data) });
}
const absenceProofs = [];
for (const a of V.absences.filter((x) => x.accept)) {
  const data = lc.interface.encodeFunctionData("verifyLockAbsent", [a.height, a.lockId, a.absence]);
  const total = await ethers.provider.estimateGas({ to: await lc.getAddress(), data });
  absenceProofs.push({ name: a.name, siblings: a.absence.siblings.length, ...split(total, data) });
}

// The fold alone at the depths of larger states (~20 levels at 10^6 entries) and the 256 maximum.
const statePathFold = [];
for (const depth of [20, 256]) {
  const siblings = Array.from({ length: depth }, (_, i) => ethers.keccak256(ethers.toUtf8Bytes(`sibling ${i}`)));
  const data = lc.interface.encodeFunctionData("rootFromStatePath", [ethers.keccak256("0x01"), ethers.keccak256("0x02"), siblings]);
  const total = await ethers.provider.estimateGas({ to: await lc.getAddress(), data });
  statePathFold.push({ depth, ...split(total, data) });
}

const out = {
  bench: "ConsortiumLightClient gas",
  compiler: "solc 0.8.30, optimizer 200 runs, evm cancun",
  validators: V.validators.length,
  deployGas: Number(deployGas),
  headerUpdates,
  lockProofs,
  absenceProofs,
  statePathFold,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
