/** Swap 5 KRW on fabric for KRW on consortium on the devnet (`npm start`): npx tsx examples/fabric-krw-to-consortium-krw.ts */
import { swapOnDevnet } from "./lib/route.ts";
import { runIfMain, type ExampleOptions } from "./lib/script.ts";

export const main = (options: ExampleOptions = {}) => swapOnDevnet("fabric:KRW", "consortium:KRW", "5", options);

runIfMain(import.meta.url, main);
