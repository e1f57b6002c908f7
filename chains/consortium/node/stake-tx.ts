/**
 * `isthmus node tx --home <dir> <kind> …`: a staking transaction signed with the home's own
 * key (key.json), submitted to a node API (default: the home's own) and waited for:
 *
 *   bond <amount> | unbond <amount>
 *   delegate <validator> <amount> | undelegate <validator> <amount>
 *   endpoint <host:port>
 *
 * Amounts are ISTH base units. Prints {hash, height, ok, code, message}; a refused or failed
 * transaction throws TxRejectedError with the chain's code and reason.
 */
import { type Hex, isHex } from "../../../proofs/hex.ts";
import { InvalidInputError, LedgerError } from "../../errors.ts";
import { RpcErrorCode, TxErrorCode, TxRejectedError, isTxErrorCode } from "../codes.ts";
import { Signer } from "../crypto.ts";
import { ConsortiumClient } from "../rpc/client.ts";
import { type TxBody, signTx } from "../tx.ts";
import { loadNodeHome } from "./home.ts";

export interface StakeTxOptions {
  readonly home: string;
  /** Node API endpoint; default the home's own API port. */
  readonly api?: string;
  readonly args: readonly string[];
  readonly waitMs?: number;
}

export interface StakeTxResult {
  readonly hash: Hex;
  readonly height: number;
  readonly ok: true;
}

export function stakeTxBody(args: readonly string[]): TxBody {
  const [kind, ...rest] = args;
  const amount = (s: string | undefined): bigint => {
    if (s === undefined || !/^\d+$/.test(s)) throw new InvalidInputError(`node tx ${kind}`, `amount "${s ?? ""}" is not a whole number of base units`);
    return BigInt(s);
  };
  const address = (s: string | undefined): Hex => {
    if (!isHex(s, 20)) throw new InvalidInputError(`node tx ${kind}`, `validator "${s ?? ""}" is not a 20-byte 0x-hex address`);
    return s.toLowerCase() as Hex;
  };
  const arity = (n: number) => {
    if (rest.length !== n) throw new InvalidInputError(`node tx ${kind}`, `expected ${n} argument(s), got ${rest.length}`);
  };
  switch (kind) {
    case "bond":
    case "unbond":
      arity(1);
      return { kind, amount: amount(rest[0]) };
    case "delegate":
    case "undelegate":
      arity(2);
      return { kind, validator: address(rest[0]), amount: amount(rest[1]) };
    case "endpoint":
      arity(1);
      return { kind, endpoint: rest[0]! };
    default:
      throw new InvalidInputError("node tx", `unknown kind "${kind ?? ""}" (expected bond, unbond, delegate, undelegate or endpoint)`);
  }
}

export async function runStakeTx(o: StakeTxOptions): Promise<StakeTxResult> {
  const body = stakeTxBody(o.args);
  const home = loadNodeHome(o.home);
  const signer = Signer.fromPrivateKey(home.privateKey);
  const client = new ConsortiumClient(o.api ?? `127.0.0.1:${home.config.apiPort}`);
  try {
    const { pendingNonce } = await client.getAccount(signer.address);
    const tx = signTx(signer, { chainId: home.genesis.chainId, nonce: pendingNonce, body });
    await client.submitTx(tx.bytes);
    const waitMs = o.waitMs ?? 30_000;
    const st = await client.waitTx(tx.hash, waitMs);
    if (st.status === "committed") {
      if (st.result.ok) return { hash: tx.hash, height: st.height, ok: true };
      const code = isTxErrorCode(st.result.code) ? st.result.code : TxErrorCode.MALFORMED_TX;
      throw new TxRejectedError("consortium", code, st.result.message, { txHash: tx.hash, height: st.height });
    }
    if (st.status === "dropped") throw new TxRejectedError("consortium", TxErrorCode.TX_DROPPED, `${st.code}: ${st.message}`, { txHash: tx.hash });
    throw new LedgerError("consortium", RpcErrorCode.TX_TIMEOUT, `${tx.hash} not included within ${waitMs} ms (status ${st.status}); it may still be`, { txHash: tx.hash });
  } finally {
    client.close();
  }
}
