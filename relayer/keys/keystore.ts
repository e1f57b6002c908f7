import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { decryptKeystoreJson, decryptKeystoreJsonSync, encryptKeystoreJson, isKeystoreJson, Wallet } from "ethers";
import { InvalidInputError, IsthmusError } from "../../chains/errors.ts";
import type { Hex } from "../../chains/ledger.ts";

/**
 * Encrypted key files: the Web3 Secret Storage format (JSON keystore v3, scrypt KDF,
 * AES-128-CTR) as ethers reads and writes it, so standard tools open them too.
 * A key is unlocked once at start with a password from an environment variable, a file,
 * or a prompt; the password and the key never reach a log.
 */
export class KeystoreError extends IsthmusError {
  override name = "KeystoreError";
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super("KEYSTORE", `${file}: ${problem}`, { file }, options);
  }
}

/** Where the password comes from. With neither, it is asked for on the terminal (or read as one line from stdin). */
export interface PasswordSource {
  readonly passwordEnv?: string;
  readonly passwordFile?: string;
}

export interface KeystoreSource extends PasswordSource {
  readonly keystore: string;
}

/** scrypt cost; the default is ethers' (N = 2^17, r = 8, p = 1). Tests pass a cheaper N. */
export interface ScryptCost {
  readonly N?: number;
}

const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;

function keystoreExists(file: string, cause?: unknown): KeystoreError {
  return new KeystoreError(file, "a keystore already exists there and is never overwritten; move it away, or write to another file (--out)", cause === undefined ? undefined : { cause });
}

/** Write `privateKey` encrypted under `password` to a new `file` (0600, never replacing one). Returns the address. */
export async function writeKeystore(file: string, privateKey: string, password: string, cost: ScryptCost = {}): Promise<Hex> {
  if (!PRIVATE_KEY.test(privateKey)) throw new InvalidInputError("key", "must be a 32-byte 0x-hex private key");
  if (password.length < 8) throw new InvalidInputError("password", "must be at least 8 characters");
  // Before the scrypt work (seconds): the link below still refuses a file that appears meanwhile.
  if (existsSync(file)) throw keystoreExists(file);
  const wallet = new Wallet(privateKey);
  const json = await encryptKeystoreJson({ address: wallet.address, privateKey }, password, cost.N ? { scrypt: { N: cost.N } } : {});
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, json + "\n", { mode: 0o600, flag: "wx" });
  try {
    // link, not rename: fails with EEXIST instead of replacing a keystore that already exists.
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw keystoreExists(file, err);
    throw new KeystoreError(file, `cannot write: ${(err as Error).message}`);
  } finally {
    unlinkSync(tmp);
  }
  return wallet.address.toLowerCase() as Hex;
}

function readKeystoreText(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new KeystoreError(file, `cannot read: ${(err as Error).message}`);
  }
  if (!isKeystoreJson(text)) throw new KeystoreError(file, "is not a JSON keystore (v3, scrypt)");
  return text;
}

/** The address a keystore file is for, without decrypting it. */
export function keystoreAddress(file: string): Hex {
  const doc = JSON.parse(readKeystoreText(file)) as { address?: string };
  const a = (doc.address ?? "").toLowerCase().replace(/^(?!0x)/, "0x");
  if (!/^0x[0-9a-f]{40}$/.test(a)) throw new KeystoreError(file, "has no address field");
  return a as Hex;
}

/** Keystore files in a directory with their addresses (nothing decrypted). */
export function listKeystores(dir: string): { file: string; address: Hex }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith(".json"))
    .sort()
    .flatMap((n) => {
      try {
        return [{ file: join(dir, n), address: keystoreAddress(join(dir, n)) }];
      } catch {
        return [];
      }
    });
}

/** A password from the configured source, synchronously; null when it must be prompted for. */
export function passwordFromSource(src: PasswordSource, where: string): string | null {
  if (src.passwordEnv !== undefined) {
    const v = process.env[src.passwordEnv];
    if (v === undefined || v === "") throw new KeystoreError(where, `environment variable ${src.passwordEnv} (the keystore password) is not set`);
    return v;
  }
  if (src.passwordFile !== undefined) {
    try {
      return readFileSync(src.passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw new KeystoreError(where, `cannot read the password file ${src.passwordFile}: ${(err as Error).message}`);
    }
  }
  return null;
}

/** Ask for a password: silently on a terminal, or one line of piped stdin. */
export async function promptPassword(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  const tty = (input as { isTTY?: boolean }).isTTY === true;
  if (tty) output.write(question);
  const rl = createInterface({ input, terminal: false });
  try {
    const line = await new Promise<string | null>((resolve) => {
      rl.once("line", resolve);
      rl.once("close", () => resolve(null));
    });
    if (tty) output.write("\n");
    if (line === null) throw new InvalidInputError("password", "no password given (stdin closed)");
    return line;
  } finally {
    rl.close();
  }
}

function checked(file: string, privateKey: string): string {
  if (!PRIVATE_KEY.test(privateKey)) throw new KeystoreError(file, "decrypted to something that is not a private key");
  return privateKey;
}

/** Decrypt with a password from the env or a file (no prompt). */
export function unlockKeystoreSync(src: KeystoreSource): string {
  const text = readKeystoreText(src.keystore);
  const password = passwordFromSource(src, src.keystore);
  if (password === null) throw new KeystoreError(src.keystore, "needs a password: set passwordEnv or passwordFile, or run the daemon on a terminal to be asked");
  try {
    return checked(src.keystore, decryptKeystoreJsonSync(text, password).privateKey);
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    throw new KeystoreError(src.keystore, "wrong password or corrupted keystore");
  }
}

/** Decrypt, asking for the password when the source names none. */
export async function unlockKeystore(src: KeystoreSource, prompt: (q: string) => Promise<string> = promptPassword): Promise<string> {
  const text = readKeystoreText(src.keystore);
  const password = passwordFromSource(src, src.keystore) ?? (await prompt(`password for ${src.keystore}: `));
  try {
    return checked(src.keystore, (await decryptKeystoreJson(text, password)).privateKey);
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    throw new KeystoreError(src.keystore, "wrong password or corrupted keystore");
  }
}
