// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
// The storage-based guard rather than ReentrancyGuardTransient: solc warns about transient
// storage on every compile, and this one's namespaced slot keeps slot 0 free for `_locks`.
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/**
 * @title HTLC
 * @notice Hash-time-locked escrow for ETH (token == address(0)) and plain ERC-20 tokens.
 *
 * Semantics shared with every Isthmus ledger:
 * - hashlock = sha256(abi.encodePacked(bytes32 preimage)).
 * - claim pays the receiver and only while block.timestamp < timelock; anyone may call it.
 * - refund pays the sender and only when block.timestamp >= timelock; anyone may call it.
 * - A lock ends exactly once: Claimed or Refunded. The preimage is stored on claim, so the
 *   state alone tells the outcome.
 * - lockId = keccak256(abi.encode(sender, receiver, token, amount, hashlock, timelock)): a
 *   sender can compute it before sending, and resending identical parameters reverts
 *   (LockExists) instead of locking twice.
 *
 * Not supported: fee-on-transfer tokens (refused at lock), rebasing tokens (their balance
 * changes behind the contract's back; do not configure them).
 *
 * Storage layout (for eth_getProof storage proofs). The contract has exactly one storage
 * variable: `_locks`, a mapping at slot 0. (OZ ReentrancyGuard keeps its flag in the ERC-7201
 * slot 0x9b779b17422d0df92223018b32b4d1fa46e071723d6817e2486d003becc55f00, away from it.)
 * A lock's struct starts at base = uint256(keccak256(abi.encode(lockId, uint256(0)))):
 *
 *   slot base+0: sender   (bits   0..159, low-order end of the word)
 *                timelock (bits 160..223, uint64)
 *                status   (bits 224..231, uint8: 0 None, 1 Locked, 2 Claimed, 3 Refunded)
 *   slot base+1: receiver (bits 0..159)
 *   slot base+2: token    (bits 0..159; 0 for ETH)
 *   slot base+3: amount
 *   slot base+4: hashlock
 *   slot base+5: preimage (zero until Claimed)
 *
 * A missing lock reads as all-zero slots (status None); test/contract/htlc.test.ts checks
 * this layout against eth_getStorageAt.
 */
contract HTLC is ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Locked,
        Claimed,
        Refunded
    }

    /// Field order is the storage order documented above; do not reorder.
    struct Lock {
        address sender;
        uint64 timelock;
        Status status;
        address receiver;
        address token;
        uint256 amount;
        bytes32 hashlock;
        bytes32 preimage;
    }

    mapping(bytes32 lockId => Lock) private _locks;

    event Locked(
        bytes32 indexed lockId,
        address indexed sender,
        address indexed receiver,
        address token,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    );
    event Claimed(bytes32 indexed lockId, bytes32 preimage);
    event Refunded(bytes32 indexed lockId);

    error LockExists(bytes32 lockId);
    error LockNotFound(bytes32 lockId);
    error NotLocked(bytes32 lockId, Status status);
    error Expired(uint64 timelock, uint256 blockTimestamp);
    error NotExpired(uint64 timelock, uint256 blockTimestamp);
    error WrongPreimage(bytes32 lockId, bytes32 preimage);
    error InvalidAmount();
    error InvalidTimelock(uint64 timelock, uint256 blockTimestamp);
    error InvalidReceiver(address receiver);
    error FeeOnTransferNotSupported(uint256 expected, uint256 received);
    error EthValueMismatch(uint256 expected, uint256 sent);

    /// @notice Escrows `amount` of `token` (address(0) = ETH, sent as msg.value) for `receiver`.
    function lock(address receiver, address token, uint256 amount, bytes32 hashlock, uint64 timelock)
        external
        payable
        nonReentrant
        returns (bytes32 lockId)
    {
        // address(this) as receiver would make claim unpayable for ETH and pointless for tokens.
        if (receiver == address(0) || receiver == address(this)) revert InvalidReceiver(receiver);
        if (amount == 0) revert InvalidAmount();
        if (timelock <= block.timestamp) revert InvalidTimelock(timelock, block.timestamp);
        uint256 expectedValue = token == address(0) ? amount : 0;
        if (msg.value != expectedValue) revert EthValueMismatch(expectedValue, msg.value);

        lockId = lockIdFor(msg.sender, receiver, token, amount, hashlock, timelock);
        Lock storage l = _locks[lockId];
        if (l.status != Status.None) revert LockExists(lockId);

        l.sender = msg.sender;
        l.timelock = timelock;
        l.status = Status.Locked;
        l.receiver = receiver;
        l.token = token;
        l.amount = amount;
        l.hashlock = hashlock;
        emit Locked(lockId, msg.sender, receiver, token, amount, hashlock, timelock);

        if (token != address(0)) {
            IERC20 erc20 = IERC20(token);
            uint256 before = erc20.balanceOf(address(this));
            erc20.safeTransferFrom(msg.sender, address(this), amount);
            uint256 afterwards = erc20.balanceOf(address(this));
            // Escrowed amounts must be exactly what a claim or refund will pay out.
            uint256 received = afterwards > before ? afterwards - before : 0;
            if (received != amount) revert FeeOnTransferNotSupported(amount, received);
        }
    }

    /// @notice Pays the receiver if `preimage` matches and the lock has not expired.
    function claim(bytes32 lockId, bytes32 preimage) external nonReentrant {
        Lock storage l = _activeLock(lockId);
        if (block.timestamp >= l.timelock) revert Expired(l.timelock, block.timestamp);
        if (sha256(abi.encodePacked(preimage)) != l.hashlock) revert WrongPreimage(lockId, preimage);

        l.status = Status.Claimed;
        l.preimage = preimage;
        emit Claimed(lockId, preimage);

        _pay(l.token, l.receiver, l.amount);
    }

    /// @notice Returns the funds to the sender once the lock has expired.
    function refund(bytes32 lockId) external nonReentrant {
        Lock storage l = _activeLock(lockId);
        if (block.timestamp < l.timelock) revert NotExpired(l.timelock, block.timestamp);

        l.status = Status.Refunded;
        emit Refunded(lockId);

        _pay(l.token, l.sender, l.amount);
    }

    /// @notice The stored lock; status None (all fields zero) when it does not exist.
    function getLock(bytes32 lockId) external view returns (Lock memory) {
        return _locks[lockId];
    }

    /// @notice The id `sender` gets when locking these parameters.
    function lockIdFor(
        address sender,
        address receiver,
        address token,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(sender, receiver, token, amount, hashlock, timelock));
    }

    function _activeLock(bytes32 lockId) private view returns (Lock storage l) {
        l = _locks[lockId];
        if (l.status == Status.None) revert LockNotFound(lockId);
        if (l.status != Status.Locked) revert NotLocked(lockId, l.status);
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            Address.sendValue(payable(to), amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }
}
