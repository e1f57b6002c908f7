/**
 * Reading the file `npm start` writes (.isthmus/devnet/devnet.json) and opening every
 * ledger as its demo user, through the same signer-based openers a real dApp uses.
 * Devnet keys are public test keys.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { signers } from "@hyperledger/fabric-gateway";
import { createPrivateKey } from "node:crypto";
import { Wallet } from "ethers";
import { InvalidInputError, IsthmusError } from "../chains/errors.ts";
import type { AssetInfo, Hex, LedgerAdapter } from "../chains/ledger.ts";
import { openConsortiumLedger, openEvmLedger, openFabricLedger } from "./ledgers.ts";

export interface DevnetInfo {
  readonly file: string;
  readonly relayerUrl: string;
  readonly apiKey?: string;
  readonly chains: readonly string[];
  /** Open every chain as the demo user (callers close them). */
  openLedgers(): Promise<LedgerAdapter[]>;
}

export class DevnetFileError extends IsthmusError {
  override name = "DevnetFileError";
  constructor(file: string, problem: string) {
    super("DEVNET_FILE", `${file}: ${problem}`, { file });
  }
}

/** $ISTHMUS_HOME/devnet.json, or .isthmus/devnet/devnet.json under the working directory. */
export function defaultDevnetFile(): string {
  return resolve(process.env.ISTHMUS_HOME ?? ".isthmus/devnet", "devnet.json");
}

type Doc = Record<string, unknown>;

function field<T>(file: string, obj: Doc, key: string, type: "string" | "number" | "object", where: string): T {
  const v = obj[key];
  if (type === "object" ? typeof v !== "object" || v === null : typeof v !== type) throw new DevnetFileError(file, `${where}.${key} must be a ${type}`);
  return v as T;
}

export function readDevnet(file = defaultDevnetFile()): DevnetInfo {
  let doc: Doc;
  try {
    doc = JSON.parse(readFileSync(file, "utf8")) as Doc;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DevnetFileError(file, code === "ENOENT" ? "not found: start the devnet first with `npm start`, and run this from the folder it was started in (or pass the file's path, or set ISTHMUS_HOME)" : "is not valid JSON");
  }
  const relayerUrl = field<string>(file, doc, "api", "string", "");
  const chains = field<Record<string, Doc>>(file, doc, "chains", "object", "");
  const apiKey = typeof doc.apiKey === "string" ? doc.apiKey : undefined;
  const open = (name: string, c: Doc): Promise<LedgerAdapter> => {
    const w = `chains.${name}`;
    const num = (k: string) => field<number>(file, c, k, "number", w);
    const str = (k: string) => field<string>(file, c, k, "string", w);
    const keyHex = () => field<string>(file, field<Doc>(file, c, "key", "object", w), "hex", "string", `${w}.key`);
    switch (c.kind) {
      case "consortium":
        return openConsortiumLedger({
          name,
          endpoint: str("endpoint"),
          chainId: num("chainId"),
          validators: field<{ address: string; stake: string }[]>(file, c, "validators", "object", w).map((v) => ({ address: v.address, stake: BigInt(v.stake) })),
          blockTimeSec: num("blockTimeSec"),
          clockSkewSec: num("clockSkewSec"),
          privateKey: keyHex(),
        });
      case "evm":
        return openEvmLedger({
          name,
          rpcUrl: str("rpcUrl"),
          chainId: num("chainId"),
          htlc: str("htlc"),
          assets: field<AssetInfo[]>(file, c, "assets", "object", w),
          confirmations: num("confirmations"),
          blockTimeSec: num("blockTimeSec"),
          clockSkewSec: num("clockSkewSec"),
          signer: new Wallet(keyHex()),
        });
      case "fabric": {
        const dir = str("identityDir");
        return openFabricLedger({
          name,
          gatewayAddress: str("gateway"),
          channel: str("channel"),
          chaincode: str("chaincode"),
          identity: { mspId: str("mspId"), credentials: readFileSync(join(dir, "cert.pem")) },
          signer: signers.newPrivateKeySigner(createPrivateKey(readFileSync(join(dir, "key.pem")))),
          ordererCertPem: readFileSync(str("ordererCert"), "utf8"),
          blockTimeSec: num("blockTimeSec"),
          clockSkewSec: num("clockSkewSec"),
        });
      }
      default:
        throw new DevnetFileError(file, `${w}.kind "${String(c.kind)}" is not consortium, evm or fabric`);
    }
  };
  return {
    file,
    relayerUrl,
    ...(apiKey ? { apiKey } : {}),
    chains: Object.keys(chains),
    async openLedgers() {
      const opened: LedgerAdapter[] = [];
      try {
        for (const [name, c] of Object.entries(chains)) opened.push(await open(name, c));
        return opened;
      } catch (err) {
        await Promise.all(opened.map((l) => l.close()));
        throw err;
      }
    },
  };
}

/** The devnet user's address on a chain, for examples that print balances. */
export function userAddress(ledgers: readonly LedgerAdapter[], chain: string): Hex {
  const l = ledgers.find((x) => x.name === chain);
  if (!l) throw new InvalidInputError("chain", `devnet has no chain "${chain}"`);
  return l.address;
}
