// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/**
 * @title KRWT
 * @notice Devnet "Korean Won Token". 2 decimals like KRW on the consortium chain
 * (100 KRWT = 10000 base units). Only the owner mints; there is no supply cap.
 */
contract KRWT is ERC20, Ownable {
    constructor(address initialOwner) ERC20("Korean Won Token", "KRWT") Ownable(initialOwner) {}

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
