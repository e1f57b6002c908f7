/**
 * contracts/HTLC.sol on Hardhat's in-process network (automine). Time moves only through
 * evm_setNextBlockTimestamp / evm_increaseTime, never by sleeping.
 *
 * Accounts: signer 0 deploys, 1 = alice (sender), 2 = bob (receiver), 3 = carol (third party).
 */
import assert from "node:assert/strict";
import hre from "hardhat";
import type {} from "@nomicfoundation/hardhat-ethers"; // hre.ethers typings
import type { Interface } from "ethers";
import { decodeRevert, buildErrorInterface, findRevertData } from "../../chains/evm/revert.ts";

// Values and types come from hre.ethers (ethers' CommonJS build, which the plugin uses): mixing
// in the ESM build's classes fails type checks on private fields.
const { ethers } = hre;
const { AbiCoder, keccak256, sha256, toBeHex, zeroPadValue, ZeroAddress } = ethers;
type HardhatEthersSigner = Awaited<ReturnType<typeof ethers.getSigners>>[number];
type Contract = InstanceType<typeof ethers.Contract>;
type ContractTransactionResponse = InstanceType<typeof ethers.ContractTransactionResponse>;

type Hex = `0x${string}`;
const DAY = 86_400;
const ONE_ETH = 10n ** 18n;
const preimage = (n: number): Hex => zeroPadValue(toBeHex(n), 32) as Hex;
const hashOf = (p: Hex): Hex => sha256(p) as Hex;
const Status = { None: 0n, Locked: 1n, Claimed: 2n, Refunded: 3n } as const;

describe("HTLC contract", function () {
  let deployer: HardhatEthersSigner, alice: HardhatEthersSigner, bob: HardhatEthersSigner, carol: HardhatEthersSigner;
  let htlc: Contract, krwt: Contract, reent: Contract, feeToken: Contract, reentReceiver: Contract;
  let htlcAddr: Hex, krwtAddr: Hex;
  let errors: Interface;
  let snapshot: string;

  const as = (c: Contract, who: HardhatEthersSigner): Contract => c.connect(who) as Contract;
  const now = async (): Promise<number> => (await ethers.provider.getBlock("latest"))!.timestamp;
  const setNextTime = (t: number) => ethers.provider.send("evm_setNextBlockTimestamp", [t]);
  const balanceOf = async (token: Contract | null, who: string): Promise<bigint> =>
    token ? ((await token.balanceOf(who)) as bigint) : ethers.provider.getBalance(who);

  async function expectRevert(p: Promise<unknown>, name: string, args?: readonly unknown[]): Promise<void> {
    let err: unknown;
    try {
      await p;
    } catch (e) {
      err = e;
    }
    assert.ok(err, `expected a revert with ${name}, but it succeeded`);
    const decoded = decodeRevert(errors, findRevertData(err));
    assert.equal(decoded.name, name, `expected ${name}, got ${decoded.name}: ${String(err)}`);
    if (args) assert.deepEqual(Object.values(decoded.args), args.map((a) => (typeof a === "bigint" || typeof a === "number" ? String(a) : String(a).toLowerCase())));
  }

  interface LockArgs {
    from?: HardhatEthersSigner;
    receiver?: string;
    token?: string;
    amount?: bigint;
    hashlock?: Hex;
    timelock?: number;
    value?: bigint;
  }

  /** Locks (approving first for tokens) and returns the id with the parameters used. */
  async function lock(a: LockArgs = {}) {
    const p = {
      from: a.from ?? alice,
      receiver: a.receiver ?? bob.address,
      token: a.token ?? ZeroAddress,
      amount: a.amount ?? ONE_ETH,
      hashlock: a.hashlock ?? hashOf(preimage(1)),
      timelock: a.timelock ?? (await now()) + DAY,
    };
    const id = (await htlc.lockIdFor(p.from.address, p.receiver, p.token, p.amount, p.hashlock, p.timelock)) as Hex;
    const value = a.value ?? (p.token === ZeroAddress ? p.amount : 0n);
    const tx = (await as(htlc, p.from).lock(p.receiver, p.token, p.amount, p.hashlock, p.timelock, { value })) as ContractTransactionResponse;
    return { ...p, id, tx };
  }

  async function approve(token: Contract, owner: HardhatEthersSigner, amount: bigint): Promise<void> {
    await (await as(token, owner).approve(htlcAddr, amount)).wait();
  }

  before(async function () {
    [deployer, alice, bob, carol] = await ethers.getSigners();
    htlc = (await ethers.deployContract("HTLC")) as unknown as Contract;
    krwt = (await ethers.deployContract("KRWT", [deployer.address])) as unknown as Contract;
    reent = (await ethers.deployContract("ReentrantToken")) as unknown as Contract;
    feeToken = (await ethers.deployContract("FeeOnTransferToken", [100])) as unknown as Contract;
    reentReceiver = (await ethers.deployContract("ReentrantReceiver")) as unknown as Contract;
    htlcAddr = (await htlc.getAddress()) as Hex;
    krwtAddr = (await krwt.getAddress()) as Hex;
    const abi = async (name: string) => (await hre.artifacts.readArtifact(name)).abi;
    errors = buildErrorInterface(await abi("HTLC"), await abi("KRWT"));
    for (const who of [alice, bob, carol]) {
      await (await krwt.mint(who.address, 1_000_000n)).wait();
      await (await reent.mint(who.address, 1_000_000n)).wait();
      await (await feeToken.mint(who.address, 1_000_000n)).wait();
    }
    snapshot = await ethers.provider.send("evm_snapshot", []);
  });

  afterEach(async function () {
    await ethers.provider.send("evm_revert", [snapshot]);
    snapshot = await ethers.provider.send("evm_snapshot", []); // a snapshot id is single-use
  });

  describe("lock", function () {
    it("locks ETH, emits Locked with every field, and stores the lock", async function () {
      const before = await balanceOf(null, htlcAddr);
      const l = await lock();
      const receipt = (await l.tx.wait())!;
      const log = receipt.logs.map((x) => htlc.interface.parseLog(x)).find((x) => x?.name === "Locked")!;
      assert.deepEqual(log.args.toArray(), [l.id, alice.address, bob.address, ZeroAddress, l.amount, l.hashlock, BigInt(l.timelock)]);
      assert.equal(await balanceOf(null, htlcAddr), before + l.amount);

      const s = await htlc.getLock(l.id);
      assert.deepEqual(
        [s.sender, s.timelock, s.status, s.receiver, s.token, s.amount, s.hashlock, s.preimage],
        [alice.address, BigInt(l.timelock), Status.Locked, bob.address, ZeroAddress, l.amount, l.hashlock, ethers.ZeroHash],
      );
    });

    it("derives lockId as keccak256(abi.encode(sender, receiver, token, amount, hashlock, timelock))", async function () {
      await approve(krwt, alice, 500n);
      const l = await lock({ token: krwtAddr, amount: 500n });
      const encoded = AbiCoder.defaultAbiCoder().encode(
        ["address", "address", "address", "uint256", "bytes32", "uint64"],
        [alice.address, bob.address, krwtAddr, 500n, l.hashlock, l.timelock],
      );
      assert.equal(l.id, keccak256(encoded));
    });

    it("locks an ERC-20 after approval and moves exactly the amount", async function () {
      await approve(krwt, alice, 12_345n);
      const [a0, h0] = [await balanceOf(krwt, alice.address), await balanceOf(krwt, htlcAddr)];
      const l = await lock({ token: krwtAddr, amount: 12_345n });
      assert.equal(await balanceOf(krwt, alice.address), a0 - 12_345n);
      assert.equal(await balanceOf(krwt, htlcAddr), h0 + 12_345n);
      assert.equal((await htlc.getLock(l.id)).token, krwtAddr);
    });

    it("refuses identical parameters twice with LockExists, but not from another sender", async function () {
      const l = await lock();
      await expectRevert(lock({ timelock: l.timelock }), "LockExists", [l.id]);
      const other = await lock({ from: carol, timelock: l.timelock });
      assert.notEqual(other.id, l.id);
    });

    it("refuses a timelock in the past or equal to the block time", async function () {
      const t = await now();
      await expectRevert(lock({ timelock: t - 10 }), "InvalidTimelock");
      await setNextTime(t + 100);
      await expectRevert(lock({ timelock: t + 100 }), "InvalidTimelock", [t + 100, t + 100]);
    });

    it("refuses a zero amount", async function () {
      await expectRevert(lock({ amount: 0n }), "InvalidAmount", []);
    });

    it("refuses the zero address and the HTLC itself as receiver", async function () {
      await expectRevert(lock({ receiver: ZeroAddress }), "InvalidReceiver", [ZeroAddress]);
      await expectRevert(lock({ receiver: htlcAddr }), "InvalidReceiver", [htlcAddr]);
    });

    it("requires msg.value == amount for ETH and 0 for tokens", async function () {
      await expectRevert(lock({ amount: ONE_ETH, value: ONE_ETH - 1n }), "EthValueMismatch", [ONE_ETH, ONE_ETH - 1n]);
      await approve(krwt, alice, 100n);
      await expectRevert(lock({ token: krwtAddr, amount: 100n, value: 1n }), "EthValueMismatch", [0n, 1n]);
    });

    it("surfaces the token's own error when the allowance is short", async function () {
      await approve(krwt, alice, 99n);
      await expectRevert(lock({ token: krwtAddr, amount: 100n }), "ERC20InsufficientAllowance", [htlcAddr, 99n, 100n]);
    });

    it("refuses a fee-on-transfer token and keeps nothing", async function () {
      const feeAddr = await feeToken.getAddress();
      await approve(feeToken, alice, 10_000n);
      const [a0, h0] = [await balanceOf(feeToken, alice.address), await balanceOf(feeToken, htlcAddr)];
      await expectRevert(lock({ token: feeAddr, amount: 10_000n }), "FeeOnTransferNotSupported", [10_000n, 9_900n]);
      assert.equal(await balanceOf(feeToken, alice.address), a0);
      assert.equal(await balanceOf(feeToken, htlcAddr), h0);
    });
  });

  describe("claim", function () {
    it("succeeds one second before expiry, pays the receiver and stores the preimage", async function () {
      const l = await lock();
      const b0 = await balanceOf(null, bob.address);
      await setNextTime(l.timelock - 1);
      const receipt = await (await as(htlc, carol).claim(l.id, preimage(1))).wait();
      const log = receipt.logs.map((x: never) => htlc.interface.parseLog(x)).find((x: { name: string } | null) => x?.name === "Claimed");
      assert.deepEqual(log.args.toArray(), [l.id, preimage(1)]);
      assert.equal(await balanceOf(null, bob.address), b0 + l.amount, "carol paid the gas, bob got the funds");
      const s = await htlc.getLock(l.id);
      assert.equal(s.status, Status.Claimed);
      assert.equal(s.preimage, preimage(1));
    });

    it("fails at expiry with Expired(timelock, now)", async function () {
      const l = await lock();
      await setNextTime(l.timelock);
      await expectRevert(as(htlc, bob).claim(l.id, preimage(1), { gasLimit: 200_000 }), "Expired", [l.timelock, l.timelock]);
    });

    it("rejects a wrong preimage", async function () {
      const l = await lock();
      await expectRevert(as(htlc, bob).claim(l.id, preimage(2)), "WrongPreimage", [l.id, preimage(2)]);
    });

    it("pays an ERC-20 receiver when a third party claims", async function () {
      await approve(krwt, alice, 700n);
      const l = await lock({ token: krwtAddr, amount: 700n });
      const [b0, h0] = [await balanceOf(krwt, bob.address), await balanceOf(krwt, htlcAddr)];
      await (await as(htlc, carol).claim(l.id, preimage(1))).wait();
      assert.equal(await balanceOf(krwt, bob.address), b0 + 700n);
      assert.equal(await balanceOf(krwt, htlcAddr), h0 - 700n);
      assert.equal(await balanceOf(krwt, carol.address), 1_000_000n);
    });

    it("cannot claim twice", async function () {
      const l = await lock();
      await (await as(htlc, bob).claim(l.id, preimage(1))).wait();
      await expectRevert(as(htlc, bob).claim(l.id, preimage(1)), "NotLocked", [l.id, Status.Claimed]);
    });

    it("reverts LockNotFound for an unknown id", async function () {
      await expectRevert(as(htlc, bob).claim(ethers.ZeroHash, preimage(1)), "LockNotFound", [ethers.ZeroHash]);
      await expectRevert(as(htlc, bob).refund(ethers.ZeroHash), "LockNotFound", [ethers.ZeroHash]);
    });
  });

  describe("refund", function () {
    it("fails before expiry with NotExpired and succeeds at expiry, paying the sender", async function () {
      const l = await lock();
      await setNextTime(l.timelock - 1);
      await expectRevert(as(htlc, carol).refund(l.id, { gasLimit: 200_000 }), "NotExpired", [l.timelock, l.timelock - 1]);

      const a0 = await balanceOf(null, alice.address);
      await setNextTime(l.timelock);
      const receipt = await (await as(htlc, carol).refund(l.id)).wait();
      const log = receipt.logs.map((x: never) => htlc.interface.parseLog(x)).find((x: { name: string } | null) => x?.name === "Refunded");
      assert.deepEqual(log.args.toArray(), [l.id]);
      assert.equal(await balanceOf(null, alice.address), a0 + l.amount, "carol paid the gas, alice got the funds");
      assert.equal((await htlc.getLock(l.id)).status, Status.Refunded);
    });

    it("refunds an ERC-20 lock after evm_increaseTime", async function () {
      await approve(krwt, alice, 300n);
      const l = await lock({ token: krwtAddr, amount: 300n, timelock: (await now()) + 60 });
      const a0 = await balanceOf(krwt, alice.address);
      await ethers.provider.send("evm_increaseTime", [60]);
      await ethers.provider.send("evm_mine", []);
      await (await as(htlc, alice).refund(l.id)).wait();
      assert.equal(await balanceOf(krwt, alice.address), a0 + 300n);
    });

    it("cannot refund after a claim, nor claim or refund after a refund", async function () {
      const claimed = await lock();
      await (await as(htlc, bob).claim(claimed.id, preimage(1))).wait();
      const refunded = await lock({ hashlock: hashOf(preimage(7)), timelock: claimed.timelock });
      await setNextTime(claimed.timelock);
      await expectRevert(as(htlc, alice).refund(claimed.id, { gasLimit: 200_000 }), "NotLocked", [claimed.id, Status.Claimed]);
      await (await as(htlc, alice).refund(refunded.id)).wait();
      await expectRevert(as(htlc, alice).refund(refunded.id), "NotLocked", [refunded.id, Status.Refunded]);
      await expectRevert(as(htlc, bob).claim(refunded.id, preimage(7)), "NotLocked", [refunded.id, Status.Refunded]);
    });
  });

  describe("hostile tokens and receivers", function () {
    let reentAddr: Hex;
    const REENTRANT_CALL = () => errors.getError("ReentrancyGuardReentrantCall")!.selector;

    beforeEach(async function () {
      reentAddr = (await reent.getAddress()) as Hex;
    });

    it("a token re-entering claim from transfer cannot claim twice", async function () {
      await approve(reent, alice, 2_000n);
      const l = await lock({ token: reentAddr, amount: 1_000n });
      await lock({ token: reentAddr, amount: 1_000n, hashlock: hashOf(preimage(9)) }); // bystander funds
      await reent.arm(htlcAddr, htlc.interface.encodeFunctionData("claim", [l.id, preimage(1)]));
      const b0 = await balanceOf(reent, bob.address);

      await (await as(htlc, carol).claim(l.id, preimage(1))).wait();

      assert.equal(await reent.attempts(), 1n);
      assert.equal(await reent.successes(), 0n);
      assert.equal((await reent.lastRevertData()).slice(0, 10), REENTRANT_CALL());
      assert.equal(await balanceOf(reent, bob.address), b0 + 1_000n, "paid exactly once");
      assert.equal(await balanceOf(reent, htlcAddr), 1_000n, "the bystander lock is intact");
    });

    it("a token re-entering refund of another lock from transfer gets nothing", async function () {
      await approve(reent, alice, 2_000n);
      const t = (await now()) + 60;
      const a = await lock({ token: reentAddr, amount: 1_000n, timelock: t });
      const b = await lock({ token: reentAddr, amount: 1_000n, timelock: t, hashlock: hashOf(preimage(9)) });
      await reent.arm(htlcAddr, htlc.interface.encodeFunctionData("refund", [b.id]));
      await setNextTime(t);
      const a0 = await balanceOf(reent, alice.address);

      await (await as(htlc, carol).refund(a.id)).wait();

      assert.equal(await reent.successes(), 0n);
      assert.equal((await reent.lastRevertData()).slice(0, 10), REENTRANT_CALL());
      assert.equal(await balanceOf(reent, alice.address), a0 + 1_000n);
      assert.equal((await htlc.getLock(b.id)).status, Status.Locked);
      assert.equal(await balanceOf(reent, htlcAddr), 1_000n);
    });

    it("a token re-entering claim or lock from transferFrom (during lock) gets nothing", async function () {
      await approve(reent, alice, 3_000n);
      const victim = await lock({ token: reentAddr, amount: 1_000n });
      await reent.arm(htlcAddr, htlc.interface.encodeFunctionData("claim", [victim.id, preimage(1)]));
      await lock({ token: reentAddr, amount: 1_000n, hashlock: hashOf(preimage(5)) });
      assert.equal((await reent.lastRevertData()).slice(0, 10), REENTRANT_CALL());
      assert.equal((await htlc.getLock(victim.id)).status, Status.Locked);

      const t = (await now()) + DAY;
      await reent.arm(htlcAddr, htlc.interface.encodeFunctionData("lock", [bob.address, ZeroAddress, 1n, hashOf(preimage(6)), t]));
      await lock({ token: reentAddr, amount: 1_000n, hashlock: hashOf(preimage(8)) });
      assert.equal(await reent.attempts(), 2n);
      assert.equal(await reent.successes(), 0n);
      assert.equal(await balanceOf(reent, htlcAddr), 3_000n);
    });

    it("an ETH receiver re-entering claim from its receive() gets paid once", async function () {
      const recvAddr = (await reentReceiver.getAddress()) as Hex;
      const l = await lock({ receiver: recvAddr });
      const other = await lock({ receiver: recvAddr, hashlock: hashOf(preimage(3)) });
      await reentReceiver.arm(htlcAddr, htlc.interface.encodeFunctionData("claim", [other.id, preimage(3)]));

      await (await as(htlc, carol).claim(l.id, preimage(1))).wait();

      assert.equal(await reentReceiver.attempts(), 1n);
      assert.equal(await reentReceiver.successes(), 0n);
      assert.equal((await reentReceiver.lastRevertData()).slice(0, 10), REENTRANT_CALL());
      assert.equal(await balanceOf(null, recvAddr), l.amount);
      assert.equal((await htlc.getLock(other.id)).status, Status.Locked);
    });
  });

  describe("storage layout (documented in HTLC.sol for eth_getProof)", function () {
    it("puts lock fields at keccak256(lockId . 0) + 0..5, sender/timelock/status packed", async function () {
      await approve(krwt, alice, 4_242n);
      const l = await lock({ token: krwtAddr, amount: 4_242n });
      await (await as(htlc, bob).claim(l.id, preimage(1))).wait();

      const base = BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [l.id, 0n])));
      const slot = async (k: bigint): Promise<bigint> => BigInt(await ethers.provider.getStorage(htlcAddr, base + k));
      const word0 = await slot(0n);
      assert.equal(word0 & ((1n << 160n) - 1n), BigInt(alice.address), "sender in bits 0..159");
      assert.equal((word0 >> 160n) & ((1n << 64n) - 1n), BigInt(l.timelock), "timelock in bits 160..223");
      assert.equal((word0 >> 224n) & 0xffn, Status.Claimed, "status in bits 224..231");
      assert.equal(word0 >> 232n, 0n);
      assert.equal(await slot(1n), BigInt(bob.address));
      assert.equal(await slot(2n), BigInt(krwtAddr));
      assert.equal(await slot(3n), 4_242n);
      assert.equal(await slot(4n), BigInt(l.hashlock));
      assert.equal(await slot(5n), BigInt(preimage(1)));
      assert.equal(await slot(6n), 0n, "nothing past the struct");
    });

    it("reads as all zero (status None) for an unknown id", async function () {
      const s = await htlc.getLock(preimage(12345));
      assert.equal(s.status, Status.None);
      assert.equal(s.sender, ZeroAddress);
      assert.equal(s.amount, 0n);
    });
  });

  describe("KRWT", function () {
    it("is Korean Won Token / KRWT with 2 decimals, minted only by the owner", async function () {
      assert.equal(await krwt.name(), "Korean Won Token");
      assert.equal(await krwt.symbol(), "KRWT");
      assert.equal(await krwt.decimals(), 2n);
      await expectRevert(as(krwt, alice).mint(alice.address, 1n), "OwnableUnauthorizedAccount", [alice.address]);
    });
  });
});
