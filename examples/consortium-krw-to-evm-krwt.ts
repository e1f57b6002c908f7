/** Swap 12.5 KRW on consortium for KRWT on evm on the devnet (`npm start`): npx tsx examples/consortium-krw-to-evm-krwt.ts */
import { swapOnDevnet } from "./lib/route.ts";
import { runIfMain, type ExampleOptions } from "./lib/script.ts";

export const main = (options: ExampleOptions = {}) => swapOnDevnet("consortium:KRW", "evm:KRWT", "12.5", options);

runIfMain(import.meta.url, main);
