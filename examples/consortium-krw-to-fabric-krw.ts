/** Swap 6 KRW on consortium for KRW on fabric on the devnet (`npm start`): npx tsx examples/consortium-krw-to-fabric-krw.ts */
import { swapOnDevnet } from "./lib/route.ts";
import { runIfMain, type ExampleOptions } from "./lib/script.ts";

export const main = (options: ExampleOptions = {}) => swapOnDevnet("consortium:KRW", "fabric:KRW", "6", options);

runIfMain(import.meta.url, main);
