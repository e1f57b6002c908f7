// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/**
 * @title ConsortiumLightClient
 * @notice Follows the Isthmus consortium chain on an EVM chain: stores the stateRoot of each
 * header whose commit is signed by MORE than 2/3 of the validator stake, and verifies lock
 * records (and their absence) against a stored stateRoot. Encodings are those of
 * chains/consortium/README.md and proofs/consortium/*.ts (header.ts, vote.ts, validators.ts,
 * state.ts, ../sparse-merkle.ts):
 *
 * - header hash = keccak256(abi.encode(HEADER_TAG, chainId, height, timeMs, prevHash, txRoot,
 *   resultsRoot, stateRoot, validatorsHash, nextValidatorsHash, proposer)). `Header` has only static fields, so
 *   abi.encode(HEADER_TAG, header) is exactly that flat encoding.
 * - precommit digest = keccak256(abi.encode(VOTE_TAG, chainId, height, round, uint8(2),
 *   blockHash, timeMs)) with each voter's own timeMs; signatures are 65 bytes r || s || v,
 *   v 27/28, low-s only (EIP-2), over the raw digest (no message prefix).
 * - validator set hash = keccak256(abi.encode(VALIDATORS_TAG, n, addr1, stake1, ...)), sorted.
 * - state: binary sparse Merkle tree over keccak256(key) paths (MSB first, 1 = right) in which
 *   a subtree holding one entry is that entry's leaf and an empty subtree is zero;
 *   leaf = keccak256(0x00 || keccak256(key) || keccak256(value)), node = keccak256(0x01 || l || r).
 *   A lock is key 0x04 || lockId with value
 *   abi.encode(sender, receiver, asset, amount, hashlock, timelock, status, preimage).
 *
 * Commits are checked strictly: where proofs/consortium's verifyCommit ignores an unusable
 * signature (and still accepts when the rest is enough), this contract reverts on the first
 * one with an error naming it. A submitter drops the entries verifyCommit reports in
 * `ignored` before calling; any commit accepted here is accepted by verifyCommit.
 *
 * Validator-set changes: a header names the set that signs it (validatorsHash) and the set
 * that signs the next height (nextValidatorsHash; changes decided in block H take effect at
 * H + 2). The contract holds one trusted set and accepts a header only if that set signed it
 * and its height is above every stored one. A header that changes the set must come through
 * `submitHeaderWithNextSet` with the new set, which must hash to its nextValidatorsHash and
 * then becomes the trusted set (event ValidatorSetChanged); `submitHeader` refuses it
 * (NextValidatorSetRequired), so no change can be skipped. Headers in between may be
 * skipped while the set stays the same (one trusted set signs them all).
 */
contract ConsortiumLightClient {
    /// Block header fields, in header-hash order (proofs/consortium/header.ts).
    struct Header {
        uint256 chainId;
        uint64 height;
        uint64 timeMs;
        bytes32 prevHash;
        bytes32 txRoot;
        bytes32 resultsRoot;
        bytes32 stateRoot;
        bytes32 validatorsHash;
        bytes32 nextValidatorsHash;
        address proposer;
    }

    /// A path in the sparse Merkle state tree (proofs/sparse-merkle.ts SparseProof): the
    /// siblings from the leaf's level up to the root; their count is the leaf's depth.
    struct StateProof {
        bytes32[] siblings;
    }

    /// Where an absent key's path ends (proofs/sparse-merkle.ts SparseAbsenceProof): an empty
    /// subtree (endsAtLeaf false; the hashes are then ignored) or the leaf of another key sharing the path.
    struct StateAbsence {
        bool endsAtLeaf;
        bytes32 leafKeyHash;
        bytes32 leafValueHash;
        bytes32[] siblings;
    }

    /// A lock record of the consortium state (proofs/consortium/state.ts); status 1 locked, 2 claimed, 3 refunded.
    struct Lock {
        address sender;
        address receiver;
        string asset;
        uint256 amount;
        bytes32 hashlock;
        uint64 timelock;
        uint8 status;
        bytes32 preimage;
    }

    bytes32 public constant HEADER_TAG = keccak256("isthmus.consortium.header.v1");
    bytes32 public constant VOTE_TAG = keccak256("isthmus.consortium.vote.v1");
    bytes32 public constant VALIDATORS_TAG = keccak256("isthmus.consortium.validators.v1");
    /// Tendermint's SignedMsgType for a precommit.
    uint8 public constant PRECOMMIT = 2;
    /// State key prefix of lock records.
    bytes1 public constant LOCK_KEY_PREFIX = 0x04;
    /// secp256k1 group order / 2: larger s values are the malleable twin (EIP-2).
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// keccak256 paths have 256 bits.
    uint256 public constant MAX_STATE_DEPTH = 256;
    /// The signer bitmap is one word.
    uint256 public constant MAX_VALIDATORS = 256;

    uint256 public immutable chainId;
    /// Hash of the trusted set (the one that signs the next header to be accepted).
    bytes32 public validatorsHash;
    uint256 public totalStake;
    /// First height the trusted set signs (1 for the constructor's genesis set).
    uint64 public validatorSetFromHeight;

    address[] private _validators;
    uint256[] private _stakes;
    /// validator address => index + 1 (0 = not a validator)
    mapping(address => uint256) private _slot;
    /// height => stateRoot of the verified header (zero = none)
    mapping(uint64 => bytes32) private _stateRoots;
    uint64 public latestHeight;

    event HeaderSubmitted(uint64 indexed height, bytes32 blockHash, bytes32 stateRoot, uint64 timeMs, uint256 signedStake);
    event ValidatorSetChanged(uint64 indexed fromHeight, bytes32 validatorsHash, uint256 totalStake, uint256 validators);

    // --- constructor misuse ---
    error NoValidators();
    error TooManyValidators(uint256 count, uint256 max);
    error ValidatorListMismatch(uint256 addresses, uint256 stakes);
    error ValidatorsNotSorted(uint256 index);
    error ZeroStake(uint256 index);
    error ZeroValidatorAddress(uint256 index);
    error TotalStakeTooLarge(uint256 total);
    // --- header and commit ---
    error WrongChainId(uint256 got, uint256 expected);
    error UnknownValidatorSet(bytes32 got, bytes32 expected);
    error HeaderAlreadySubmitted(uint64 height, bytes32 storedStateRoot);
    error HeaderNotNewer(uint64 height, uint64 latestHeight);
    error NextValidatorSetRequired(bytes32 nextValidatorsHash);
    error NextValidatorSetMismatch(bytes32 computed, bytes32 nextValidatorsHash);
    error SignatureTimesMismatch(uint256 signatures, uint256 timesMs);
    error BadSignatureLength(uint256 index, uint256 length);
    error BadSignatureV(uint256 index, uint8 v);
    error SignatureSOutOfRange(uint256 index, bytes32 s);
    error UnrecoverableSignature(uint256 index);
    error NotAValidator(uint256 index, address signer);
    error DuplicateSigner(uint256 index, address signer);
    error InsufficientStake(uint256 signedStake, uint256 totalStake);
    // --- state proofs ---
    error UnknownHeight(uint64 height);
    error ProofTooLong(uint256 siblings, uint256 maxDepth);
    error ProofRootMismatch(bytes32 computed, bytes32 stateRoot);
    error KeyIsPresent(bytes32 keyHash);
    error LeafOffPath(bytes32 leafKeyHash, uint256 depth);
    error LockIdMismatch(bytes32 lockId, bytes32 fieldsHash);
    error UnknownLockStatus(uint8 status);

    /// @param validators_ addresses sorted ascending (as the chain's validator-set hash sorts them)
    /// @param stakes_ positive stakes aligned with `validators_`
    constructor(uint256 chainId_, address[] memory validators_, uint256[] memory stakes_) {
        chainId = chainId_;
        _installSet(validators_, stakes_, 1);
    }

    /**
     * @notice Verifies `header` and its commit (precommit signatures of round `round`, each
     * with the time its voter signed) and stores the header's stateRoot under its height.
     * @return blockHash the header's hash, which the signatures sign
     */
    function submitHeader(
        Header calldata header,
        uint32 round,
        bytes[] calldata signatures,
        uint64[] calldata timesMs
    ) external returns (bytes32 blockHash) {
        if (header.nextValidatorsHash != header.validatorsHash) revert NextValidatorSetRequired(header.nextValidatorsHash);
        return _submit(header, round, signatures, timesMs);
    }

    /**
     * @notice `submitHeader` for a header that changes the validator set: after the header
     * verifies against the trusted set, `nextValidators_` (sorted) with `nextStakes_` must hash
     * to its nextValidatorsHash and become the trusted set, from height + 1.
     */
    function submitHeaderWithNextSet(
        Header calldata header,
        uint32 round,
        bytes[] calldata signatures,
        uint64[] calldata timesMs,
        address[] calldata nextValidators_,
        uint256[] calldata nextStakes_
    ) external returns (bytes32 blockHash) {
        blockHash = _submit(header, round, signatures, timesMs);
        bytes32 installed = _installSet(nextValidators_, nextStakes_, header.height + 1);
        if (installed != header.nextValidatorsHash) revert NextValidatorSetMismatch(installed, header.nextValidatorsHash);
    }

    function _submit(
        Header calldata header,
        uint32 round,
        bytes[] calldata signatures,
        uint64[] calldata timesMs
    ) private returns (bytes32 blockHash) {
        if (header.chainId != chainId) revert WrongChainId(header.chainId, chainId);
        if (header.validatorsHash != validatorsHash) revert UnknownValidatorSet(header.validatorsHash, validatorsHash);
        bytes32 stored = _stateRoots[header.height];
        if (stored != bytes32(0)) revert HeaderAlreadySubmitted(header.height, stored);
        if (header.height <= latestHeight) revert HeaderNotNewer(header.height, latestHeight);
        if (signatures.length != timesMs.length) revert SignatureTimesMismatch(signatures.length, timesMs.length);

        blockHash = hashHeader(header);
        uint256 signed = _countCommit(header.height, round, blockHash, signatures, timesMs);
        // More than 2/3 (Tendermint's +2/3): exactly 2/3 is not enough.
        if (signed * 3 <= totalStake * 2) revert InsufficientStake(signed, totalStake);

        _stateRoots[header.height] = header.stateRoot;
        latestHeight = header.height;
        emit HeaderSubmitted(header.height, blockHash, header.stateRoot, header.timeMs, signed);
    }

    /**
     * @notice Verifies that the state committed at `height` holds lock `lockId` with the
     * encoded record `lockValue`, and returns the record decoded.
     */
    function verifyLock(
        uint64 height,
        bytes32 lockId,
        bytes calldata lockValue,
        StateProof calldata proof
    ) external view returns (Lock memory lock) {
        bytes32 root = _stateRoots[height];
        if (root == bytes32(0)) revert UnknownHeight(height);
        bytes32 keyHash = keccak256(abi.encodePacked(LOCK_KEY_PREFIX, lockId));
        bytes32 computed = rootFromStatePath(keyHash, _hashLeaf(keyHash, keccak256(lockValue)), proof.siblings);
        if (computed != root) revert ProofRootMismatch(computed, root);

        // The value is flat abi.encode(fields...); a struct holding a string is encoded behind
        // one offset word, so prepend it to decode straight into `Lock`.
        lock = abi.decode(bytes.concat(bytes32(uint256(0x20)), lockValue), (Lock));
        bytes32 fieldsHash = keccak256(
            abi.encode(lock.sender, lock.receiver, lock.asset, lock.amount, lock.hashlock, lock.timelock)
        );
        if (fieldsHash != lockId) revert LockIdMismatch(lockId, fieldsHash);
        if (lock.status < 1 || lock.status > 3) revert UnknownLockStatus(lock.status);
    }

    /**
     * @notice Verifies that the state committed at `height` holds NO lock `lockId`: the path
     * of its key ends at an empty subtree or at another key's leaf. Reverts unless proven.
     */
    function verifyLockAbsent(uint64 height, bytes32 lockId, StateAbsence calldata absence) external view {
        bytes32 root = _stateRoots[height];
        if (root == bytes32(0)) revert UnknownHeight(height);
        bytes32 keyHash = keccak256(abi.encodePacked(LOCK_KEY_PREFIX, lockId));
        bytes32 end;
        uint256 depth = absence.siblings.length;
        if (absence.endsAtLeaf) {
            if (absence.leafKeyHash == keyHash) revert KeyIsPresent(keyHash);
            // Only a leaf whose path shares the first `depth` bits can sit where the key's path ends.
            if (depth > 0 && depth <= MAX_STATE_DEPTH && uint256(absence.leafKeyHash ^ keyHash) >> (256 - depth) != 0) {
                revert LeafOffPath(absence.leafKeyHash, depth);
            }
            end = _hashLeaf(absence.leafKeyHash, absence.leafValueHash);
        }
        // else: an empty subtree, whose hash is zero (leafKeyHash and leafValueHash are ignored).
        bytes32 computed = rootFromStatePath(keyHash, end, absence.siblings);
        if (computed != root) revert ProofRootMismatch(computed, root);
    }

    /// @notice The stateRoot stored for `height`, zero if none.
    function stateRootAt(uint64 height) external view returns (bytes32) {
        return _stateRoots[height];
    }

    /// @notice The validator set, sorted by address, with stakes.
    function validatorSet() external view returns (address[] memory, uint256[] memory) {
        return (_validators, _stakes);
    }

    /// @notice keccak256(abi.encode(HEADER_TAG, chainId, height, timeMs, prevHash, txRoot, resultsRoot, stateRoot, validatorsHash, nextValidatorsHash, proposer)).
    function hashHeader(Header calldata header) public pure returns (bytes32) {
        return keccak256(abi.encode(HEADER_TAG, header));
    }

    /// @notice The digest a validator signs for a precommit of `blockHash` at its time `timeMs`.
    function precommitDigest(uint64 height, uint32 round, bytes32 blockHash, uint64 timeMs) public view returns (bytes32) {
        return keccak256(abi.encode(VOTE_TAG, chainId, height, round, PRECOMMIT, blockHash, timeMs));
    }

    /**
     * @notice The root a sparse Merkle path leads to (proofs/sparse-merkle.ts sparseRootFromPath):
     * `end` (a leaf hash, or zero for an empty subtree) sits at depth siblings.length on the
     * path of `keyHash` (bit 0 = its most significant bit, 1 = right); siblings go upwards.
     */
    function rootFromStatePath(bytes32 keyHash, bytes32 end, bytes32[] calldata siblings) public pure returns (bytes32 hash) {
        uint256 depth = siblings.length;
        if (depth > MAX_STATE_DEPTH) revert ProofTooLong(depth, MAX_STATE_DEPTH);
        hash = end;
        uint256 path = uint256(keyHash);
        for (uint256 i = 0; i < depth; i++) {
            // siblings[i] is the sibling at depth (depth - 1 - i); its bit is counted from the top.
            bool right = (path >> (256 - (depth - i))) & 1 == 1;
            hash = right ? _hashNode(siblings[i], hash) : _hashNode(hash, siblings[i]);
        }
    }

    /// keccak256(0x00 || keyHash || valueHash)
    function _hashLeaf(bytes32 keyHash, bytes32 valueHash) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x00)
            mstore(add(p, 1), keyHash)
            mstore(add(p, 33), valueHash)
            h := keccak256(p, 65)
        }
    }

    /// keccak256(0x01 || left || right), in scratch memory past the free pointer (not allocated).
    function _hashNode(bytes32 left, bytes32 right) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            h := keccak256(p, 65)
        }
    }

    /// Replaces the trusted set (checked: sorted, non-zero, positive stakes) and returns its hash.
    function _installSet(address[] memory validators_, uint256[] memory stakes_, uint64 fromHeight) private returns (bytes32 hash) {
        uint256 n = validators_.length;
        if (n == 0) revert NoValidators();
        if (n > MAX_VALIDATORS) revert TooManyValidators(n, MAX_VALIDATORS);
        if (stakes_.length != n) revert ValidatorListMismatch(n, stakes_.length);
        for (uint256 i = 0; i < _validators.length; i++) delete _slot[_validators[i]];
        bytes memory enc = abi.encode(VALIDATORS_TAG, n);
        uint256 total;
        for (uint256 i = 0; i < n; i++) {
            address a = validators_[i];
            if (a == address(0)) revert ZeroValidatorAddress(i);
            if (i > 0 && a <= validators_[i - 1]) revert ValidatorsNotSorted(i);
            if (stakes_[i] == 0) revert ZeroStake(i);
            total += stakes_[i];
            _slot[a] = i + 1;
            enc = bytes.concat(enc, abi.encode(a, stakes_[i]));
        }
        // signed * 3 and total * 2 must not overflow in submitHeader.
        if (total > type(uint256).max / 3) revert TotalStakeTooLarge(total);
        hash = keccak256(enc);
        validatorsHash = hash;
        totalStake = total;
        validatorSetFromHeight = fromHeight;
        _validators = validators_;
        _stakes = stakes_;
        emit ValidatorSetChanged(fromHeight, hash, total, n);
    }

    /// Stake of the distinct validators whose precommits in `signatures` are valid; reverts on any bad entry.
    function _countCommit(
        uint64 height,
        uint32 round,
        bytes32 blockHash,
        bytes[] calldata signatures,
        uint64[] calldata timesMs
    ) private view returns (uint256 signed) {
        uint256 seen; // bit i = validator i already counted
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(i, precommitDigest(height, round, blockHash, timesMs[i]), signatures[i]);
            uint256 slot = _slot[signer];
            if (slot == 0) revert NotAValidator(i, signer);
            uint256 bit = 1 << (slot - 1);
            if (seen & bit != 0) revert DuplicateSigner(i, signer);
            seen |= bit;
            signed += _stakes[slot - 1];
        }
    }

    /// ecrecover with the checks of proofs/consortium/signature.ts: 65 bytes, v 27/28, 0 < s <= n/2.
    function _recover(uint256 index, bytes32 digest, bytes calldata sig) private pure returns (address signer) {
        if (sig.length != 65) revert BadSignatureLength(index, sig.length);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) revert BadSignatureV(index, v);
        if (uint256(s) == 0 || uint256(s) > HALF_N) revert SignatureSOutOfRange(index, s);
        signer = ecrecover(digest, v, r, s); // zero for r = 0, r >= n, or no point
        if (signer == address(0)) revert UnrecoverableSignature(index);
    }
}
