/** Swap 7 KRW on fabric for KRWT on evm on the devnet (`npm start`): npx tsx examples/fabric-krw-to-evm-krwt.ts */
import { swapOnDevnet } from "./lib/route.ts";
import { runIfMain, type ExampleOptions } from "./lib/script.ts";

export const main = (options: ExampleOptions = {}) => swapOnDevnet("fabric:KRW", "evm:KRWT", "7", options);

runIfMain(import.meta.url, main);
