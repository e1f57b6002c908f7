/**
 * Fabric policy evaluation over a set of already verified signers: SIGNATURE policies
 * (common.SignaturePolicyEnvelope; NOutOf / SignedBy over MSPRole principals, each signer
 * used at most once, as fabric/common/cauthdsl does) and IMPLICIT_META policies (ANY / ALL /
 * MAJORITY of the named sub-policy of each child group, fabric/common/policies/implicitmeta.go).
 */
import { common, msp } from "@hyperledger/fabric-protos";
import type { PolicyGroup } from "./channel-config.ts";
import type { FabricIdentity } from "./identity.ts";

const Role = msp.MSPRole.MSPRoleType;

function principalMatches(p: msp.MSPPrincipal, id: FabricIdentity): boolean {
  if (p.getPrincipalClassification() !== msp.MSPPrincipal.Classification.ROLE) return false; // only role principals are supported
  const role = msp.MSPRole.deserializeBinary(p.getPrincipal_asU8());
  if (role.getMspIdentifier() !== id.mspId) return false;
  switch (role.getRole()) {
    case Role.MEMBER:
      return true;
    case Role.PEER:
      return id.roles.has("peer");
    case Role.CLIENT:
      return id.roles.has("client");
    case Role.ADMIN:
      return id.roles.has("admin");
    case Role.ORDERER:
      return id.roles.has("orderer");
    default:
      return false;
  }
}

function evalRule(rule: common.SignaturePolicy, principals: readonly msp.MSPPrincipal[], signers: readonly FabricIdentity[], used: boolean[]): boolean {
  if (rule.hasSignedBy()) {
    const p = principals[rule.getSignedBy()];
    if (!p) return false;
    for (let i = 0; i < signers.length; i++) {
      if (!used[i] && principalMatches(p, signers[i]!)) {
        used[i] = true;
        return true;
      }
    }
    return false;
  }
  const nOf = rule.getNOutOf();
  if (!nOf) return false;
  let satisfied = 0;
  for (const sub of nOf.getRulesList()) {
    const trial = [...used];
    if (evalRule(sub, principals, signers, trial)) {
      satisfied++;
      trial.forEach((u, i) => (used[i] = u));
    }
  }
  return satisfied >= nOf.getN();
}

/** Whether `signers` satisfy the policy named `name` in `group`. */
export function satisfiesPolicy(group: PolicyGroup, name: string, signers: readonly FabricIdentity[]): boolean {
  const policy = group.policies.get(name);
  if (!policy) return false;
  if (policy.getType() === common.Policy.PolicyType.SIGNATURE) {
    const env = common.SignaturePolicyEnvelope.deserializeBinary(policy.getValue_asU8());
    const rule = env.getRule();
    return rule ? evalRule(rule, env.getIdentitiesList(), signers, signers.map(() => false)) : false;
  }
  if (policy.getType() === common.Policy.PolicyType.IMPLICIT_META) {
    const meta = common.ImplicitMetaPolicy.deserializeBinary(policy.getValue_asU8());
    const children = [...group.groups.values()];
    const met = children.filter((g) => satisfiesPolicy(g, meta.getSubPolicy(), signers)).length;
    switch (meta.getRule()) {
      case common.ImplicitMetaPolicy.Rule.ANY:
        return met >= 1;
      case common.ImplicitMetaPolicy.Rule.ALL:
        return met === children.length;
      case common.ImplicitMetaPolicy.Rule.MAJORITY:
        return met > Math.floor(children.length / 2);
      default:
        return false;
    }
  }
  return false;
}
