// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @notice TEST ONLY. An ERC-20 that, while armed, calls `target` with `payload` from inside
 * every transfer and transferFrom, before moving any balance (the worst moment for the
 * victim). A failed re-entry is recorded, not propagated, so the outer call completes and a
 * test can check that the attack achieved nothing.
 */
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool private _attacking;

    uint256 public attempts;
    uint256 public successes;
    bytes public lastRevertData;

    constructor() ERC20("Reentrant Token", "REENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function disarm() external {
        target = address(0);
        delete payload;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _attack();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _attack();
        return super.transferFrom(from, to, value);
    }

    function _attack() private {
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
