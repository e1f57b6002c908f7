import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { InvalidInputError, IsthmusError } from "../chains/errors.ts";
import type { SwapRecord, SwapStore } from "./store.ts";

const ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * One JSON file per swap in a directory only the owner can read (0700, files 0600).
 * Each write goes to a temporary file that is fsynced and renamed over the old one, so a
 * crash leaves either the previous record or the new one, never half of one.
 */
export class FileSwapStore implements SwapStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  #file(swapId: string): string {
    // The id comes from the relayer: never let it name a path outside the store.
    if (!ID.test(swapId)) throw new InvalidInputError("swapId", `"${swapId.slice(0, 40)}" is not a plain swap id`);
    return join(this.dir, `${swapId}.json`);
  }

  async put(record: SwapRecord): Promise<void> {
    const file = this.#file(record.swapId);
    const tmp = `${file}.tmp`;
    const bytes = Buffer.from(JSON.stringify(record, null, 2) + "\n");
    const fd = openSync(tmp, "w", 0o600);
    try {
      // write(2) may write less than asked (a nearly full disk): go on until all is written or
      // it fails, so a short file is never renamed over the good record.
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dirFd = openSync(this.dir, "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  async get(swapId: string): Promise<SwapRecord | null> {
    const file = this.#file(swapId);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    return parseRecord(file, text);
  }

  async list(): Promise<SwapRecord[]> {
    const names = readdirSync(this.dir).filter((n) => n.endsWith(".json"));
    return names.map((n) => parseRecord(join(this.dir, n), readFileSync(join(this.dir, n), "utf8")));
  }
}

/** A damaged file is reported by name only: JSON.parse's message would quote its text, preimage included. */
function parseRecord(file: string, text: string): SwapRecord {
  try {
    return JSON.parse(text) as SwapRecord;
  } catch {
    throw new IsthmusError("SWAP_STORE_DAMAGED", `${file} is not a readable swap record (restore it from a backup; its preimage is needed to claim)`, { file });
  }
}
