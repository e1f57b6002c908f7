import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Wallet } from "ethers";
import { InvalidInputError } from "../../chains/errors.ts";
import { listKeystores, passwordFromSource, promptPassword, writeKeystore, type PasswordSource } from "../keys/keystore.ts";
import { parseFlags, required } from "./args.ts";

/** Default folder of `keys new|import|list`: $ISTHMUS_KEYS or ./.isthmus/keys. */
export function defaultKeysDir(): string {
  return resolve(process.env.ISTHMUS_KEYS ?? ".isthmus/keys");
}

const PASSWORD_FLAGS = { "password-env": { type: "string" }, "password-file": { type: "string" } } as const;

async function password(values: { "password-env"?: string; "password-file"?: string }): Promise<string> {
  if (values["password-env"] !== undefined && values["password-file"] !== undefined) {
    throw new InvalidInputError("keys", "give at most one of --password-env or --password-file");
  }
  const src: PasswordSource = {
    ...(values["password-env"] !== undefined ? { passwordEnv: values["password-env"] } : {}),
    ...(values["password-file"] !== undefined ? { passwordFile: values["password-file"] } : {}),
  };
  return passwordFromSource(src, "keys") ?? (await promptPassword("new keystore password: "));
}

function outFile(out: string | undefined, address: string): string {
  return resolve(out ?? `${defaultKeysDir()}/${address.toLowerCase()}.json`);
}

/**
 * `isthmus keys new [--out file] [--password-env NAME | --password-file F]`
 * `isthmus keys import (--key-env NAME | --key-file F) [--out file] [password flags]` (a key is never taken from argv)
 * `isthmus keys list [--dir D]`
 * Without a password flag the password is asked for (or read as one line of piped stdin).
 */
export async function keysCommand(argv: string[]): Promise<unknown> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "new": {
      const { values } = parseFlags(rest, { out: { type: "string" }, ...PASSWORD_FLAGS }, "keys new");
      const wallet = Wallet.createRandom();
      const file = outFile(values.out, wallet.address);
      const address = await writeKeystore(file, wallet.privateKey, await password(values));
      return { address, file };
    }
    case "import": {
      const { values } = parseFlags(rest, { out: { type: "string" }, "key-env": { type: "string" }, "key-file": { type: "string" }, ...PASSWORD_FLAGS }, "keys import");
      let key: string;
      if (values["key-env"] !== undefined) key = (process.env[values["key-env"]] ?? "").trim();
      else key = readFileSync(required(values["key-file"], "key-file or --key-env", "keys import"), "utf8").trim();
      if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new InvalidInputError("keys import", "the key is not a 32-byte 0x-hex private key"); // never echo it
      const address = new Wallet(key).address;
      const file = outFile(values.out, address);
      return { address: await writeKeystore(file, key, await password(values)), file };
    }
    case "list": {
      const { values } = parseFlags(rest, { dir: { type: "string" } }, "keys list");
      const dir = resolve(values.dir ?? defaultKeysDir());
      return { dir, keys: listKeystores(dir) };
    }
    default:
      throw new InvalidInputError("keys", "usage: isthmus keys new|import|list [flags]");
  }
}
