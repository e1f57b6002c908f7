import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBytes, hexlify, keccak256, recoverAddress, Signature, toUtf8Bytes } from "ethers";
import { ConfigError, readConfig, resolveKey } from "../../../relayer/config.ts";
import { KeystoreError, keystoreAddress, listKeystores, unlockKeystore, unlockKeystoreSync, writeKeystore } from "../../../relayer/keys/keystore.ts";
import { createServer, type Server } from "node:http";
import { generateKeyPairSync } from "node:crypto";
import { Signer as ConsortiumKey } from "../../../chains/consortium/crypto.ts";
import { connectRemoteP256, connectRemoteSecp256k1, RemoteSignerError } from "../../../relayer/keys/remote-signer.ts";
import { SoftwareSigner, unlockSigner } from "../../../relayer/keys/signer.ts";
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
    await assert.rejects(writeKeystore(file, KEY, "correct horse", CHEAP), (e: unknown) => e instanceof KeystoreError && /relayer\.json: a keystore already exists there and is never overwritten/.test(e.message), "never overwrites a keystore");
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
    assert.throws(() => with_({ keystore: "k.json", hex: KEY }), /give exactly one of keystore, env, file, hex or signer/);
    assert.deepEqual(with_({ signer: { url: "http://127.0.0.1:7720", keyId: "evm-relayer", tokenEnv: "T" }, address: "0x" + "ab".repeat(20) }), {
      signer: { url: "http://127.0.0.1:7720", keyId: "evm-relayer", tokenEnv: "T" },
      address: "0x" + "ab".repeat(20),
    });
    assert.throws(() => with_({ signer: { url: "unix:/x", keyId: "k" } }), /chains\.evm\.key\.signer\.url: must be an http\(s\) URL/);
    assert.throws(() => with_({ signer: { url: "http://h:1", keyId: "a/b" } }), /keyId: must be 1-128 characters/);
    assert.throws(() => with_({ env: "K", address: "0x" + "ab".repeat(20) }), /address: goes with signer/);
    assert.throws(() => resolveKey({ signer: { url: "http://h:1", keyId: "k" } }, "x.yaml"), /held by an external signer/);
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
    assert.equal(signer.kind, "software");
    assert.equal(signer.curve, "secp256k1");
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

  describe("external signer client: checks every answer against the key it expects", () => {
    let server: Server;
    let url: string;
    /** What the fake signing service answers; each test sets it. */
    let answer: (path: string, body: { digest?: string }) => { status: number; body: unknown };
    before(async () => {
      server = createServer((req, res) => {
        let text = "";
        req.on("data", (c) => (text += c));
        req.on("end", () => {
          const auth = req.headers.authorization === "Bearer tok";
          const a = auth ? answer(req.url ?? "", text ? (JSON.parse(text) as { digest?: string }) : {}) : { status: 401, body: { error: "unauthorized" } };
          res.writeHead(a.status, { "content-type": "application/json" }).end(JSON.stringify(a.body));
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      process.env.TEST_SIGNER_TOKEN = "tok";
    });
    after(() => server.close());
    const cfg = () => ({ url, keyId: "relayer", tokenEnv: "TEST_SIGNER_TOKEN" });
    const digest = getBytes(keccak256(toUtf8Bytes("swap")));

    it("secp256k1: signs through the service, refuses a wrong address, another key's signature and a missing token", async () => {
      const held = ConsortiumKey.fromPrivateKey(KEY);
      const other = ConsortiumKey.fromPrivateKey(`0x${"5d".repeat(32)}`);
      let signWith = held;
      answer = (path, body) =>
        path.endsWith("/sign") ? { status: 200, body: { signature: hexlify(signWith.sign(getBytes(body.digest!))) } } : { status: 200, body: { curve: "secp256k1", address: held.address } };
      const s = await connectRemoteSecp256k1(cfg(), held.address);
      assert.equal(s.kind, "external");
      const sig = await s.signDigest(digest);
      assert.equal(recoverAddress(digest, Signature.from(hexlify(sig))).toLowerCase(), held.address);
      await assert.rejects(connectRemoteSecp256k1(cfg(), other.address), (e: unknown) => e instanceof RemoteSignerError && /holds 0x[0-9a-f]{40}, the config expects/.test(e.message));
      signWith = other;
      await assert.rejects(s.signDigest(digest), /signature recovers to .*, not /);
      await assert.rejects(connectRemoteSecp256k1({ ...cfg(), tokenEnv: "TEST_SIGNER_TOKEN_UNSET" }), /TEST_SIGNER_TOKEN_UNSET .* is not set/);
      await assert.rejects(connectRemoteSecp256k1({ ...cfg(), tokenEnv: undefined }), /HTTP 401/);
      answer = () => ({ status: 200, body: { curve: "p256", publicKeyPem: "x" } });
      await assert.rejects(connectRemoteSecp256k1(cfg()), /holds a p256 key; this chain needs secp256k1/);
    });

    it("secp256k1: a signature whose v is not 27/28 (a 0/1 recovery id) is refused, not passed on to be read as another scheme", async () => {
      const held = ConsortiumKey.fromPrivateKey(KEY);
      answer = (path, body) => {
        if (!path.endsWith("/sign")) return { status: 200, body: { curve: "secp256k1", address: held.address } };
        const sig = held.sign(getBytes(body.digest!));
        sig[64] = sig[64]! - 27; // the same signature with a raw recovery id
        return { status: 200, body: { signature: hexlify(sig) } };
      };
      const s = await connectRemoteSecp256k1(cfg(), held.address);
      await assert.rejects(s.signDigest(digest), (e: unknown) => e instanceof RemoteSignerError && /v is [01], expected 27 or 28/.test(e.message));
    });

    it("p256: the service's public key must be the certificate's; a signature that does not verify is refused", async () => {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
      const { signers } = await import("@hyperledger/fabric-gateway");
      let sign = signers.newPrivateKeySigner(privateKey);
      // The fake answers synchronously: the signature over the test's digest is made beforehand.
      const withSig = async () => {
        const sigHex = hexlify(await sign(digest));
        answer = (path) => (path.endsWith("/sign") ? { status: 200, body: { signature: sigHex } } : { status: 200, body: { curve: "p256", publicKeyPem: pem } });
      };
      await withSig();
      // A certificate is not needed to compare keys: the public key PEM stands in for it here.
      const s = await connectRemoteP256(cfg(), pem);
      assert.equal((await s.signDigest(digest)).length > 60, true);
      sign = signers.newPrivateKeySigner(other.privateKey);
      await withSig();
      await assert.rejects(s.signDigest(digest), /does not verify/);
      await assert.rejects(connectRemoteP256(cfg(), other.publicKey.export({ type: "spki", format: "pem" }).toString()), /not the one in the identity's certificate/);
    });
  });
});
