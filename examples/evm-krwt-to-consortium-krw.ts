/** Swap 8 KRWT on evm for KRW on consortium on the devnet (`npm start`): npx tsx examples/evm-krwt-to-consortium-krw.ts */
import { swapOnDevnet } from "./lib/route.ts";
import { runIfMain, type ExampleOptions } from "./lib/script.ts";

export const main = (options: ExampleOptions = {}) => swapOnDevnet("evm:KRWT", "consortium:KRW", "8", options);

runIfMain(import.meta.url, main);
