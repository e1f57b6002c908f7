/** Swap 9 KRWT on evm for KRW on fabric on the devnet (`npm start`): npx tsx examples/evm-krwt-to-fabric-krw.ts */
import { swapOnDevnet } from "./lib/route.ts";
import { runIfMain, type ExampleOptions } from "./lib/script.ts";

export const main = (options: ExampleOptions = {}) => swapOnDevnet("evm:KRWT", "fabric:KRW", "9", options);

runIfMain(import.meta.url, main);
