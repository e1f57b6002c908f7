import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes, hexlify, keccak256, recoverAddress, Signature, toUtf8Bytes } from "ethers";
import { ConfigError, readConfig, resolveKey } from "../../../relayer/config.ts";
import { KeystoreError, keystoreAddress, listKeystores, unlockKeystore, unlockKeystoreSync, writeKeystore } from "../../../relayer/keys/keystore.ts";
import { adapterKey, SignerNotExportableError, SoftwareSigner, unlockSigner, type RelayerSigner } from "../../../relayer/keys/signer.ts";
import { parse } from "yaml";

const KEY = `0x${"4c".repeat(32)}`;
const CHEAP = { N: 1 << 10 };

function cli(args: string[], stdin: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ["bin/isthmus.js", ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}

describe("relayer keys: encrypted keystores, signer, CLI", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "isthmus-keys-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a 0600 scrypt keystore without the key in clear, and unlocks it from env, file or prompt", async () => {
    const file = join(dir, "relayer.json");
    const address = await writeKeystore(file, KEY, "correct horse", CHEAP);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, "utf8");
    assert.ok(!text.includes("4c4c4c4c"), "the key is not in the file in clear");
    const j = JSON.parse(text);
    assert.equal((j.crypto ?? j.Crypto).kdf, "scrypt");
    assert.equal(keystoreAddress(file), address);
    process.env.ISTHMUS_TEST_PW = "correct horse";
    assert.equal(unlockKeystoreSync({ keystore: file, passwordEnv: "ISTHMUS_TEST_PW" }), KEY);
    writeFileSync(join(dir, "pw"), "correct horse\n");
    assert.equal(await unlockKeystore({ keystore: file, passwordFile: join(dir, "pw") }), KEY);
    const asked: string[] = [];
    assert.equal(await unlockKeystore({ keystore: file }, async (q) => (asked.push(q), "correct horse")), KEY);
    assert.match(asked[0]!, /password for .*relayer\.json/);
    await assert.rejects(unlockKeystore({ keystore: file }, async () => "wrong horse"), (e: unknown) => e instanceof KeystoreError && /wrong password/.test(e.message));
    assert.throws(() => unlockKeystoreSync({ keystore: file }), /needs a password/);
    delete process.env.ISTHMUS_TEST_PW;
    assert.throws(() => unlockKeystoreSync({ keystore: file, passwordEnv: "ISTHMUS_TEST_PW" }), /ISTHMUS_TEST_PW .* is not set/);
    await assert.rejects(writeKeystore(file, KEY, "correct horse", CHEAP), /EEXIST/, "never overwrites a keystore");
    assert.deepEqual(listKeystores(dir), [{ file, address }]);
  });

  it("config: key.keystore with passwordEnv | passwordFile | neither; mistakes name the path", () => {
    const doc = () => parse(readFileSync("relayer/relayer.example.yaml", "utf8")) as Record<string, any>;
    const with_ = (key: unknown) => {
      const d = doc();
      d.chains.evm.key = key;
      const evm = readConfig(d, "x.yaml").chains.find((c) => c.name === "evm")!;
      assert.ok(evm.kind === "evm");
      return evm.key;
    };
    assert.deepEqual(with_({ keystore: "k.json", passwordEnv: "PW" }), { keystore: "k.json", passwordEnv: "PW" });
    assert.deepEqual(with_({ keystore: "k.json" }), { keystore: "k.json" });
    assert.throws(() => with_({ keystore: "k.json", passwordEnv: "A", passwordFile: "b" }), (e: unknown) => e instanceof ConfigError && /chains\.evm\.key: give at most one of passwordEnv or passwordFile/.test(e.message));
    assert.throws(() => with_({ env: "K", passwordEnv: "A" }), /passwordEnv and passwordFile go with keystore/);
    assert.throws(() => with_({ keystore: "k.json", hex: KEY }), /give exactly one of keystore, env, file or hex/);
  });

  it("resolves a keystore key source for the adapters, and the signer signs for its address", async () => {
    const file = join(dir, "signer.json");
    await writeKeystore(file, KEY, "pw-for-signer", CHEAP);
    writeFileSync(join(dir, "pw2"), "pw-for-signer");
    assert.equal(resolveKey({ keystore: file, passwordFile: join(dir, "pw2") }, "x.yaml"), KEY);
    const signer = await unlockSigner({ keystore: file, passwordFile: join(dir, "pw2") }, "x.yaml");
    assert.equal(JSON.stringify(signer), JSON.stringify({ address: signer.address }), "JSON shows the address only");
    const digest = getBytes(keccak256(toUtf8Bytes("isthmus")));
    const sig = await signer.signDigest(digest);
    assert.equal(sig.length, 65);
    assert.equal(recoverAddress(digest, Signature.from(hexlify(sig))).toLowerCase(), signer.address);
    assert.equal(adapterKey(signer, "evm"), KEY);
    const hsm: RelayerSigner = { address: signer.address, kind: "external", signDigest: (d) => signer.signDigest(d) };
    assert.throws(() => adapterKey(hsm, "evm"), SignerNotExportableError);
    assert.ok(new SoftwareSigner(KEY).address === signer.address);
  });

  it("CLI: keys new (password piped on stdin), keys import (key from a file, never argv), keys list", async () => {
    const keysDir = join(dir, "cli");
    const made = await cli(["keys", "new"], "piped-password\n", { ISTHMUS_KEYS: keysDir });
    assert.equal(made.code, 0, made.stderr);
    const { address, file } = JSON.parse(made.stdout) as { address: string; file: string };
    assert.equal(file, join(keysDir, `${address}.json`));
    assert.equal(new SoftwareSigner(await unlockKeystore({ keystore: file }, async () => "piped-password")).address, address);
    writeFileSync(join(dir, "raw.key"), KEY + "\n");
    const imported = await cli(["keys", "import", "--key-file", join(dir, "raw.key"), "--password-env", "PW"], "", { ISTHMUS_KEYS: keysDir, PW: "from-env-pw" });
    assert.equal(imported.code, 0, imported.stderr);
    assert.ok(!imported.stdout.includes(KEY.slice(2)), "the key is not printed");
    const listed = await cli(["keys", "list"], "", { ISTHMUS_KEYS: keysDir });
    assert.deepEqual((JSON.parse(listed.stdout).keys as { address: string }[]).map((k) => k.address).sort(), [address, JSON.parse(imported.stdout).address].sort());
    const bad = await cli(["keys", "new"], "short\n", { ISTHMUS_KEYS: keysDir });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /password: must be at least 8 characters/);
  });
});
