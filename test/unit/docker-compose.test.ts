/**
 * docker-compose.yml: validated with docker-compose 1.29 (`config -q` needs no daemon), real
 * Fabric images, ports on 127.0.0.1 only, and consistent with the endpoints the docker-target
 * suite (test/docker/fabric.docker.test.ts) expects by default.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { COMPOSE_DEFAULTS } from "../docker/endpoints.ts";

const FILE = resolve("docker-compose.yml");
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

describe("docker-compose.yml", function () {
  this.timeout(60_000);
  const probe = has("docker-compose", ["version", "--short"]);

  // Only this test runs the binary; the structural ones below read the YAML and need nothing installed.
  it("is valid for docker-compose 1.29 (config -q), which also refuses compose-v2-only keys", function () {
    if (probe.error || probe.status !== 0) {
      console.log(`      (skipped: docker-compose is not installed: ${probe.error?.message ?? probe.stderr.trim()}; apt-get install -y --no-install-recommends docker-compose)`);
      this.skip();
    }
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

  it("publishes what the docker-target suite expects by default (test/docker/endpoints.ts)", () => {
    const doc = parseYaml(readFileSync(FILE, "utf8")) as { services: Record<string, { ports?: string[]; volumes?: string[]; command?: string; depends_on?: unknown }> };
    const [host, port] = COMPOSE_DEFAULTS.gateway.split(":");
    const org1Peer = doc.services["peer0.org1.example.com"]!;
    assert.ok(org1Peer.ports?.includes(`${host}:${port}:7051`), `peer0.org1 publishes its gateway on ${COMPOSE_DEFAULTS.gateway}`);
    // fabric-init writes the cryptogen identities and orderer.pem, ca.org1 the issuer, both under the suite's identities dir.
    const out = `./${COMPOSE_DEFAULTS.identities.replace(/\/identities$/, "")}:/out`;
    for (const svc of ["fabric-init", "ca.org1.example.com"]) assert.ok(doc.services[svc]!.volumes?.includes(out), `${svc} mounts ${out}`);
    const init = readFileSync(resolve("docker/fabric/init.sh"), "utf8");
    assert.match(init, new RegExp(`^CH=${COMPOSE_DEFAULTS.channel}$`, "m"), "channel");
    assert.match(init, new RegExp(`--name ${COMPOSE_DEFAULTS.chaincode} `), "chaincode name");
    assert.match(init, /\/out\/identities\/orderer\.pem/);
    assert.match(init, /d=\/out\/identities\/Org\$\{o\}MSP\/\$u;/, "identity dirs are <MSP id>/<user>");
    for (const who of [COMPOSE_DEFAULTS.relayer, COMPOSE_DEFAULTS.user]) {
      const [msp, name] = who.split("/");
      assert.match(init, new RegExp(`for u in [^;]*\\b${name}\\b`), `${name} is copied`);
      assert.match(msp!, /^Org[12]MSP$/, `${who}: fabric-init writes Org1MSP and Org2MSP`);
    }
    const ca = readFileSync(resolve("docker/fabric/ca-org1.sh"), "utf8");
    assert.ok(ca.includes(`/out/identities/${COMPOSE_DEFAULTS.issuer}`), "ca.org1 enrolls the issuer where the suite looks");
    assert.match(ca, /isthmus\.role=issuer:ecert/, "with the attribute the chaincode's Mint checks");
    assert.ok(JSON.stringify(doc.services["fabric-init"]!.depends_on).includes("ca.org1.example.com"), "fabric-init waits for the issuer");
  });
});
