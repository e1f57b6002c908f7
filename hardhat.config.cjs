// Hardhat 2 config. CommonJS because the project is ESM (Hardhat 2 requires .cjs then).
// Solidity is compiled offline with the exact `solc` npm package: the compiler list
// download from binaries.soliditylang.org is unreachable on our machines.
require("@nomicfoundation/hardhat-ethers");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = require("solc/package.json").version; // pinned exactly in package.json

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }) => {
  if (solcVersion !== SOLC_VERSION) {
    throw new Error(`Offline build only has solc ${SOLC_VERSION}, but ${solcVersion} was requested`);
  }
  const compilerPath = require.resolve("solc/soljson.js");
  const longVersion = require("solc/wrapper")(require(compilerPath)).version().replace(/\.Emscripten\.clang$/, "");
  return { compilerPath, isSolcJs: true, version: solcVersion, longVersion };
});

// Interval mining on top of automine: transactions mine at once, and idle blocks still
// arrive every second so block.timestamp (the chain time timelocks use) keeps moving and
// confirmation counts grow on an idle chain. Blocks may share a timestamp: otherwise every
// automined block in the same second pushes the clock +1 s, and the devnet's EVM time runs
// ahead of true time without bound — breaking the clock-skew bound the margin relies on.
const intervalMining = process.env.ISTHMUS_EVM_INTERVAL_MINING === "1";
const intervalMs = Number(process.env.ISTHMUS_EVM_BLOCK_MS ?? 1000);

module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
  },
  paths: { sources: "./contracts", tests: "./test/contract", cache: "./cache", artifacts: "./artifacts" },
  networks: {
    hardhat: {
      chainId: Number(process.env.ISTHMUS_EVM_CHAIN_ID ?? 31337),
      loggingEnabled: false,
      mining: { auto: true, interval: intervalMining ? intervalMs : 0 },
      allowBlocksWithSameTimestamp: intervalMining,
    },
  },
};
