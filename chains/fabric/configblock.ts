/**
 * Block 0: a CONFIG transaction holding the channel configuration tree (configtxgen's shape
 * for a 2.x application channel): Channel{Application{Org1MSP, Org2MSP}, Orderer{OrdererMSP}}
 * with each org's MSP (root certs, NodeOUs), org policies (Readers/Writers/Admins/Endorsement
 * as signature policies), ImplicitMeta policies above them, capabilities V2_0, hashing
 * values and the orderer's batch settings.
 */
import { common, msp, orderer } from "@hyperledger/fabric-protos";
import { randomBytes } from "node:crypto";
import { timestampOf } from "./timestamp.ts";
import { blockDataHash } from "./protoutil.ts";

export interface ConfigOrg {
  readonly mspId: string;
  readonly caCertPem: string;
}

export interface ChannelConfigParams {
  readonly channel: string;
  readonly peerOrgs: readonly ConfigOrg[];
  readonly ordererOrg: ConfigOrg;
  readonly batchMaxMessages: number;
  readonly batchTimeoutMs: number;
}

const Role = msp.MSPRole.MSPRoleType;

function value(msg: { serializeBinary(): Uint8Array }): common.ConfigValue {
  const v = new common.ConfigValue();
  v.setValue(msg.serializeBinary());
  v.setModPolicy("Admins");
  return v;
}

function policy(type: number, msg: { serializeBinary(): Uint8Array }, modPolicy = "Admins"): common.ConfigPolicy {
  const p = new common.Policy();
  p.setType(type);
  p.setValue(msg.serializeBinary());
  const cp = new common.ConfigPolicy();
  cp.setPolicy(p);
  cp.setModPolicy(modPolicy);
  return cp;
}

function implicitMeta(rule: number, sub: string): common.ConfigPolicy {
  const m = new common.ImplicitMetaPolicy();
  m.setRule(rule as never);
  m.setSubPolicy(sub);
  return policy(common.Policy.PolicyType.IMPLICIT_META, m);
}

/** OR(SignedBy(mspId.role...)) as configtxgen writes org policies. */
function signedByAny(mspId: string, roles: number[]): common.ConfigPolicy {
  const env = new common.SignaturePolicyEnvelope();
  env.setVersion(0);
  const rule = new common.SignaturePolicy();
  const nOf = new common.SignaturePolicy.NOutOf();
  nOf.setN(1);
  roles.forEach((role, i) => {
    const r = new msp.MSPRole();
    r.setMspIdentifier(mspId);
    r.setRole(role as never);
    const pr = new msp.MSPPrincipal();
    pr.setPrincipalClassification(msp.MSPPrincipal.Classification.ROLE);
    pr.setPrincipal(r.serializeBinary());
    env.addIdentities(pr);
    const s = new common.SignaturePolicy();
    s.setSignedBy(i);
    nOf.addRules(s);
  });
  rule.setNOutOf(nOf);
  env.setRule(rule);
  return policy(common.Policy.PolicyType.SIGNATURE, env);
}

function orgGroup(org: ConfigOrg, isOrderer: boolean): common.ConfigGroup {
  const g = new common.ConfigGroup();
  g.setModPolicy("Admins");
  const ous = new msp.FabricNodeOUs();
  ous.setEnable(true);
  for (const [set, ou] of [
    [ous.setClientOuIdentifier.bind(ous), "client"],
    [ous.setPeerOuIdentifier.bind(ous), "peer"],
    [ous.setAdminOuIdentifier.bind(ous), "admin"],
    [ous.setOrdererOuIdentifier.bind(ous), "orderer"],
  ] as const) {
    const id = new msp.FabricOUIdentifier();
    id.setCertificate(Buffer.from(org.caCertPem));
    id.setOrganizationalUnitIdentifier(ou);
    set(id);
  }
  const crypto = new msp.FabricCryptoConfig();
  crypto.setSignatureHashFamily("SHA2");
  crypto.setIdentityIdentifierHashFunction("SHA256");
  const fm = new msp.FabricMSPConfig();
  fm.setName(org.mspId);
  fm.addRootCerts(Buffer.from(org.caCertPem));
  fm.setCryptoConfig(crypto);
  fm.setFabricNodeOus(ous);
  const mc = new msp.MSPConfig();
  mc.setType(0); // FABRIC
  mc.setConfig(fm.serializeBinary());
  g.getValuesMap().set("MSP", value(mc));
  const P = g.getPoliciesMap();
  P.set("Readers", signedByAny(org.mspId, isOrderer ? [Role.MEMBER] : [Role.ADMIN, Role.PEER, Role.CLIENT]));
  P.set("Writers", signedByAny(org.mspId, isOrderer ? [Role.MEMBER] : [Role.ADMIN, Role.CLIENT]));
  P.set("Admins", signedByAny(org.mspId, [Role.ADMIN]));
  if (!isOrderer) P.set("Endorsement", signedByAny(org.mspId, [Role.PEER]));
  return g;
}

function capabilities(name: string): common.ConfigValue {
  const c = new common.Capabilities();
  c.getCapabilitiesMap().set(name, new common.Capability());
  return value(c);
}

const RULE = common.ImplicitMetaPolicy.Rule;

export function buildChannelConfig(p: ChannelConfigParams): common.Config {
  const app = new common.ConfigGroup();
  app.setModPolicy("Admins");
  for (const o of p.peerOrgs) app.getGroupsMap().set(o.mspId, orgGroup(o, false));
  app.getValuesMap().set("Capabilities", capabilities("V2_0"));
  const AP = app.getPoliciesMap();
  AP.set("Readers", implicitMeta(RULE.ANY, "Readers"));
  AP.set("Writers", implicitMeta(RULE.ANY, "Writers"));
  AP.set("Admins", implicitMeta(RULE.MAJORITY, "Admins"));
  AP.set("Endorsement", implicitMeta(RULE.MAJORITY, "Endorsement"));
  AP.set("LifecycleEndorsement", implicitMeta(RULE.MAJORITY, "Endorsement"));

  const ord = new common.ConfigGroup();
  ord.setModPolicy("Admins");
  ord.getGroupsMap().set(p.ordererOrg.mspId, orgGroup(p.ordererOrg, true));
  const bs = new orderer.BatchSize();
  bs.setMaxMessageCount(p.batchMaxMessages);
  bs.setAbsoluteMaxBytes(99 * 1024 * 1024);
  bs.setPreferredMaxBytes(512 * 1024);
  ord.getValuesMap().set("BatchSize", value(bs));
  const bt = new orderer.BatchTimeout();
  bt.setTimeout(`${p.batchTimeoutMs}ms`);
  ord.getValuesMap().set("BatchTimeout", value(bt));
  const ct = new orderer.ConsensusType();
  ct.setType("solo");
  ord.getValuesMap().set("ConsensusType", value(ct));
  ord.getValuesMap().set("Capabilities", capabilities("V2_0"));
  const OP = ord.getPoliciesMap();
  OP.set("Readers", implicitMeta(RULE.ANY, "Readers"));
  OP.set("Writers", implicitMeta(RULE.ANY, "Writers"));
  OP.set("Admins", implicitMeta(RULE.MAJORITY, "Admins"));
  OP.set("BlockValidation", implicitMeta(RULE.ANY, "Writers"));

  const ch = new common.ConfigGroup();
  ch.setModPolicy("Admins");
  ch.getGroupsMap().set("Application", app);
  ch.getGroupsMap().set("Orderer", ord);
  const ha = new common.HashingAlgorithm();
  ha.setName("SHA256");
  ch.getValuesMap().set("HashingAlgorithm", value(ha));
  const bdh = new common.BlockDataHashingStructure();
  bdh.setWidth(0xffffffff);
  ch.getValuesMap().set("BlockDataHashingStructure", value(bdh));
  const oa = new common.OrdererAddresses();
  oa.addAddresses("127.0.0.1:7050");
  ch.getValuesMap().set("OrdererAddresses", value(oa));
  ch.getValuesMap().set("Capabilities", capabilities("V2_0"));
  const CP = ch.getPoliciesMap();
  CP.set("Readers", implicitMeta(RULE.ANY, "Readers"));
  CP.set("Writers", implicitMeta(RULE.ANY, "Writers"));
  CP.set("Admins", implicitMeta(RULE.MAJORITY, "Admins"));

  const cfg = new common.Config();
  cfg.setSequence(0);
  cfg.setChannelGroup(ch);
  return cfg;
}

/** The genesis block: one unsigned CONFIG envelope, previous_hash empty, filter [VALID]. */
export function buildGenesisBlock(p: ChannelConfigParams): common.Block {
  const ce = new common.ConfigEnvelope();
  ce.setConfig(buildChannelConfig(p));
  const chdr = new common.ChannelHeader();
  chdr.setType(common.HeaderType.CONFIG);
  chdr.setChannelId(p.channel);
  chdr.setTimestamp(timestampOf(new Date()) as never);
  const shdr = new common.SignatureHeader();
  shdr.setNonce(randomBytes(24));
  const hdr = new common.Header();
  hdr.setChannelHeader(chdr.serializeBinary());
  hdr.setSignatureHeader(shdr.serializeBinary());
  const payload = new common.Payload();
  payload.setHeader(hdr);
  payload.setData(ce.serializeBinary());
  const env = new common.Envelope();
  env.setPayload(payload.serializeBinary());
  const data = new common.BlockData();
  data.addData(env.serializeBinary());
  const header = new common.BlockHeader();
  header.setNumber(0);
  header.setPreviousHash(new Uint8Array());
  header.setDataHash(blockDataHash(data));
  const md = new common.BlockMetadata();
  const lastConfig = new common.Metadata();
  md.setMetadataList([new common.Metadata().serializeBinary(), lastConfig.serializeBinary(), Uint8Array.from([0]), new Uint8Array(), new Uint8Array()]);
  const block = new common.Block();
  block.setHeader(header);
  block.setData(data);
  block.setMetadata(md);
  return block;
}
