/**
 * The channel configuration a Fabric proof is checked against, read from a config block
 * (common.Block → Envelope → Payload{type CONFIG} → ConfigEnvelope → Config.channel_group):
 * each organisation's MSP (msp.FabricMSPConfig: root and intermediate certificates, NodeOU
 * identifiers) and the policy tree of the Application and Orderer groups.
 */
import { common, msp } from "@hyperledger/fabric-protos";
import { X509Certificate } from "node:crypto";
import { blockDataHash, blockHeaderHash, equalBytes } from "./encoding.ts";

export type NodeRole = "client" | "peer" | "admin" | "orderer";

export interface OrgMsp {
  readonly mspId: string;
  readonly roots: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
  /** NodeOU identifiers (OU value → role); null when NodeOUs are disabled. */
  readonly nodeOus: ReadonlyMap<string, NodeRole> | null;
}

/** A config group reduced to what policy evaluation needs. */
export interface PolicyGroup {
  readonly policies: ReadonlyMap<string, common.Policy>;
  readonly groups: ReadonlyMap<string, PolicyGroup>;
}

export interface ChannelConfig {
  readonly channel: string;
  /** The config block's number and header hash: the default trusted block. */
  readonly blockNumber: number;
  readonly blockHash: Uint8Array;
  readonly msps: ReadonlyMap<string, OrgMsp>;
  readonly application: PolicyGroup;
  readonly orderer: PolicyGroup;
}

export type ConfigRead = { readonly ok: true; readonly config: ChannelConfig } | { readonly ok: false; readonly reason: string };

function groupOf(g: common.ConfigGroup): PolicyGroup {
  const policies = new Map<string, common.Policy>();
  g.getPoliciesMap().forEach((cp: common.ConfigPolicy, name: string) => {
    const p = cp.getPolicy();
    if (p) policies.set(name, p);
  });
  const groups = new Map<string, PolicyGroup>();
  g.getGroupsMap().forEach((sub: common.ConfigGroup, name: string) => groups.set(name, groupOf(sub)));
  return { policies, groups };
}

function orgMspOf(name: string, g: common.ConfigGroup): OrgMsp | string {
  const v = g.getValuesMap().get("MSP");
  if (!v) return `organisation ${name} has no MSP value`;
  const mc = msp.MSPConfig.deserializeBinary(v.getValue_asU8());
  if (mc.getType() !== 0) return `organisation ${name}'s MSP is not of type FABRIC`;
  const fm = msp.FabricMSPConfig.deserializeBinary(mc.getConfig_asU8());
  const pem = (b: Uint8Array) => new X509Certificate(Buffer.from(b));
  const roots = fm.getRootCertsList_asU8().map(pem);
  if (roots.length === 0) return `organisation ${name}'s MSP has no root certificate`;
  const ous = fm.getFabricNodeOus();
  let nodeOus: Map<string, NodeRole> | null = null;
  if (ous?.getEnable()) {
    nodeOus = new Map();
    const add = (id: msp.FabricOUIdentifier | undefined, role: NodeRole) => {
      const ou = id?.getOrganizationalUnitIdentifier();
      if (ou) nodeOus!.set(ou, role);
    };
    add(ous.getClientOuIdentifier(), "client");
    add(ous.getPeerOuIdentifier(), "peer");
    add(ous.getAdminOuIdentifier(), "admin");
    add(ous.getOrdererOuIdentifier(), "orderer");
  }
  return { mspId: fm.getName(), roots, intermediates: fm.getIntermediateCertsList_asU8().map(pem), nodeOus };
}

/** Reads a config block (serialized common.Block). Never throws on bad bytes. */
export function readChannelConfig(blockBytes: Uint8Array): ConfigRead {
  try {
    const block = common.Block.deserializeBinary(blockBytes);
    const header = block.getHeader();
    const envs = block.getData()?.getDataList_asU8() ?? [];
    if (!header || envs.length !== 1) return { ok: false, reason: "config block must have a header and exactly one envelope" };
    if (!equalBytes(header.getDataHash_asU8(), blockDataHash(envs))) return { ok: false, reason: "config block's data_hash does not match its envelope" };
    const payload = common.Payload.deserializeBinary(common.Envelope.deserializeBinary(envs[0]!).getPayload_asU8());
    const chdr = common.ChannelHeader.deserializeBinary(payload.getHeader()?.getChannelHeader_asU8() ?? new Uint8Array());
    if (chdr.getType() !== common.HeaderType.CONFIG) return { ok: false, reason: `config block's envelope is of type ${chdr.getType()}, not CONFIG` };
    const root = common.ConfigEnvelope.deserializeBinary(payload.getData_asU8()).getConfig()?.getChannelGroup();
    const app = root?.getGroupsMap().get("Application");
    const ord = root?.getGroupsMap().get("Orderer");
    if (!app || !ord) return { ok: false, reason: "channel config has no Application or Orderer group" };
    const msps = new Map<string, OrgMsp>();
    for (const parent of [app, ord]) {
      for (const [name, g] of parent.getGroupsMap().entries()) {
        const m = orgMspOf(name, g);
        if (typeof m === "string") return { ok: false, reason: m };
        msps.set(m.mspId, m);
      }
    }
    const number = header.getNumber();
    const blockHash = blockHeaderHash({ number, previousHash: header.getPreviousHash_asU8(), dataHash: header.getDataHash_asU8() });
    return { ok: true, config: { channel: chdr.getChannelId(), blockNumber: number, blockHash, msps, application: groupOf(app), orderer: groupOf(ord) } };
  } catch (err) {
    return { ok: false, reason: `config block does not decode: ${(err as Error).message}` };
  }
}
