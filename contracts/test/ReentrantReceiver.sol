// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/**
 * @notice TEST ONLY. An ETH receiver that, while armed, calls `target` with `payload` when
 * it is paid. Like ReentrantToken it records a failed re-entry instead of reverting, so the
 * payment itself succeeds and a test can check that the attack achieved nothing.
 */
contract ReentrantReceiver {
    address public target;
    bytes public payload;
    bool private _attacking;

    uint256 public attempts;
    uint256 public successes;
    bytes public lastRevertData;

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    receive() external payable {
        if (target == address(0) || _attacking) return;
        _attacking = true;
        attempts += 1;
        (bool ok, bytes memory ret) = target.call(payload);
        if (ok) {
            successes += 1;
        } else {
            lastRevertData = ret;
        }
        _attacking = false;
    }
}
