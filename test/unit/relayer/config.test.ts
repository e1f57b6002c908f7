import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ConfigError, DEFAULT_TIMELOCKS, loadConfig, readConfig } from "../../../relayer/config.ts";

const EXAMPLE = "relayer/relayer.example.yaml";
const example = () => parse(readFileSync(EXAMPLE, "utf8")) as Record<string, any>;

describe("relayer config", () => {
  it("parses the shipped example, every documented default included", () => {
    const cfg = loadConfig(EXAMPLE);
    assert.deepEqual(cfg.timelocks, DEFAULT_TIMELOCKS);
    assert.deepEqual(cfg.chains.map((c) => c.kind), ["consortium", "evm"]);
    assert.equal(cfg.routes.length, 4);
    assert.equal(cfg.routes[2]!.rate.text, "0.001");
    assert.deepEqual(cfg.api.tenants.map((t) => [t.name, t.ratePerMinute, t.burst]), [["acme", 600, 60]]);
  });

  it("reads tenants with defaults and refuses keys stored in clear or named twice", () => {
    const t = readConfig({ ...example(), api: { tenants: [{ name: "a", keySha256: "AB".repeat(32) }] } }, "x.yaml").api.tenants[0]!;
    assert.deepEqual(t, { name: "a", keySha256: "ab".repeat(32), ratePerMinute: 600, burst: 60 });
    assert.match(problem((d) => (d.api.tenants[0].keySha256 = "isk_plaintext")).message, /api\.tenants\[0\]\.keySha256: must be the 64-hex-digit sha256/);
    assert.match(problem((d) => d.api.tenants.push({ ...d.api.tenants[0] })).message, /api\.tenants\[1\]\.name: duplicate tenant "acme"/);
    assert.match(problem((d) => (d.api.tenants[0].burst = 0)).message, /api\.tenants\[0\]\.burst: must be at least 1/);
  });

  const problem = (mutate: (doc: Record<string, any>) => void): ConfigError => {
    const doc = example();
    mutate(doc);
    try {
      readConfig(doc, "x.yaml");
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err;
    }
    assert.fail("config was accepted");
  };

  it("metrics.listen: a separate host:port for /metrics, absent by default", () => {
    assert.deepEqual(loadConfig(EXAMPLE).metrics, { listen: { host: "127.0.0.1", port: 7709 } });
    const { metrics: _, ...rest } = example();
    assert.deepEqual(readConfig(rest, "x.yaml").metrics, { listen: null });
    assert.deepEqual(readConfig({ ...example(), metrics: { listen: "[::1]:0" } }, "x.yaml").metrics, { listen: { host: "::1", port: 0 } });
    assert.match(problem((d) => (d.metrics.listen = "7709")).message, /metrics\.listen: "7709" is not host:port/);
    assert.match(problem((d) => (d.metrics.listen = "h:70000")).message, /metrics\.listen: "h:70000" is not host:port/);
    assert.match(problem((d) => (d.metrics.port = 1)).message, /metrics\.port: unknown key/);
  });

  it("refuses unknown keys, naming the key path", () => {
    assert.match(problem((d) => (d.chains.evm.confirmatons = 3)).message, /x\.yaml: chains\.evm\.confirmatons: unknown key/);
    assert.match(problem((d) => (d.timelocks.safety = 3)).message, /timelocks\.safety: unknown key/);
  });

  it("names the path of a malformed value", () => {
    assert.match(problem((d) => (d.routes[1].rate = "-1")).message, /routes\[1\]\.rate: .*not a positive decimal/);
    assert.match(problem((d) => (d.routes[0].to = "solana:SOL")).message, /routes\[0\]\.to: chain "solana" is not under chains/);
    assert.match(problem((d) => (d.chains.evm.htlc = "0x12")).message, /chains\.evm\.htlc: "0x12" is not a 20-byte 0x address/);
    assert.match(problem((d) => (d.chains.consortium.key = { env: "A", hex: "0x1" })).message, /chains\.consortium\.key: give exactly one/);
    assert.match(problem((d) => (d.chains.evm.kind = "solana")).message, /chains\.evm\.kind: must be "consortium" or "evm"/);
    assert.match(problem((d) => delete d.store).message, /store: is required/);
  });
});
