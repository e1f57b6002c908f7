/**
 * docker-compose.yml: validated with docker-compose 1.29 (`config -q` needs no daemon), real
 * Fabric images, ports on 127.0.0.1 only. The docker-target suite (bringing the file up and
 * running the Fabric adapter against the real peers) needs a Docker engine; without one it is
 * skipped with the reason printed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

const FILE = resolve("docker-compose.yml");
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

describe("docker-compose.yml", function () {
  this.timeout(60_000);
  const probe = has("docker-compose", ["version", "--short"]);

  before(function () {
    if (probe.error || probe.status !== 0) {
      console.log(`      (skipped: docker-compose is not installed: ${probe.error?.message ?? probe.stderr.trim()}; apt-get install -y --no-install-recommends docker-compose)`);
      this.skip();
    }
  });

  it("is valid for docker-compose 1.29 (config -q), which also refuses compose-v2-only keys", () => {
    const ok = has("docker-compose", ["-f", FILE, "config", "-q"]);
    assert.equal(ok.status, 0, ok.stderr);
    const dir = mkdtempSync(join(tmpdir(), "isthmus-compose-"));
    try {
      const bad = join(dir, "docker-compose.yml");
      writeFileSync(bad, readFileSync(FILE, "utf8").replace('version: "3.8"', 'version: "3.8"\nname: isthmus'));
      const r = has("docker-compose", ["-f", bad, "--project-directory", resolve("."), "config", "-q"]);
      assert.notEqual(r.status, 0, "a top-level name: must be refused by 1.29");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the real Fabric images (CAs, orderer, two peers, tools), the chaincode as a service, with health checks, on 127.0.0.1", () => {
    const doc = parseYaml(readFileSync(FILE, "utf8")) as { services: Record<string, { image?: string; ports?: string[]; healthcheck?: unknown; build?: unknown }> };
    const images = Object.values(doc.services).map((s) => s.image ?? "");
    for (const img of ["hyperledger/fabric-ca:", "hyperledger/fabric-orderer:", "hyperledger/fabric-peer:", "hyperledger/fabric-tools:"]) {
      assert.ok(images.some((i) => i.startsWith(img)), img);
    }
    assert.equal(images.filter((i) => i.startsWith("hyperledger/fabric-peer:")).length, 2);
    for (const [name, s] of Object.entries(doc.services)) {
      for (const p of s.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p}`);
      if (s.image?.includes("fabric-peer") || s.image?.includes("fabric-orderer") || name === "isthmus" || name === "isthmus-chaincode") {
        assert.ok(s.healthcheck, `${name} has a health check`);
      }
    }
    assert.ok(doc.services["isthmus-chaincode"]?.build, "the chaincode image is built from chains/fabric/chaincode");
  });

  it("docker-target suite: brings the network up against a Docker engine", function () {
    this.timeout(1_200_000);
    const info = has("docker", ["info", "--format", "{{.ServerVersion}}"]);
    if (info.error || info.status !== 0) {
      console.log(`      (skipped: no Docker engine answers: ${(info.error?.message ?? info.stderr).trim().split("\n")[0]})`);
      this.skip();
    }
    const up = spawnSync("docker-compose", ["-f", FILE, "up", "-d", "--build"], { encoding: "utf8", timeout: 900_000 });
    assert.equal(up.status, 0, up.stderr);
    try {
      const init = spawnSync("docker-compose", ["-f", FILE, "logs", "fabric-init"], { encoding: "utf8" });
      assert.match(init.stdout, /fabric-init done/);
    } finally {
      spawnSync("docker-compose", ["-f", FILE, "down", "-v"], { encoding: "utf8", timeout: 300_000 });
    }
  });
});
