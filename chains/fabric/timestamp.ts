/** google.protobuf.Timestamp from the one google-protobuf copy that fabric-protos uses (it ships no types). */
import { createRequire } from "node:module";

export interface ProtoTimestamp {
  getSeconds(): number;
  getNanos(): number;
  toDate(): Date;
}

const require = createRequire(import.meta.url);
const mod = require("google-protobuf/google/protobuf/timestamp_pb.js") as { Timestamp: { fromDate(d: Date): ProtoTimestamp } };

export function timestampOf(d: Date): ProtoTimestamp {
  return mod.Timestamp.fromDate(d);
}

interface ProtoAny {
  setTypeUrl(v: string): void;
  setValue(v: Uint8Array): void;
}
const anyMod = require("google-protobuf/google/protobuf/any_pb.js") as { Any: new () => ProtoAny };

/** google.protobuf.Any holding `value` of the named message type. */
export function anyOf(typeName: string, value: Uint8Array): ProtoAny {
  const a = new anyMod.Any();
  a.setTypeUrl(`type.googleapis.com/${typeName}`);
  a.setValue(value);
  return a;
}
