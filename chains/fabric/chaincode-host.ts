/**
 * Runs a fabric-contract-api chaincode as a service (fabric-shim's ChaincodeServer, the same
 * code `fabric-chaincode-node server` runs) inside this process, on a loopback port, so the
 * network talks to it over the real Chaincode/Connect gRPC stream.
 */
import { createServer } from "node:net";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

interface ShimServer {
  start(): Promise<void>;
  _server: { forceShutdown(): void };
}

export interface ChaincodeServerHandle {
  readonly address: string;
  readonly ccid: string;
  close(): void;
}

/** A free loopback port (the shim's server cannot report a port it bound to 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts `contracts` as chaincode `name` on 127.0.0.1 (ccid `name:1.0`). */
export async function startChaincodeServer(name: string, contracts: readonly unknown[]): Promise<ChaincodeServerHandle> {
  process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= "CRITICAL"; // chaincode errors reach the client anyway
  return keepProcessHandlers(() => startServer(name, contracts));
}

/**
 * The shim's winston logger registers uncaughtException/unhandledRejection handlers that log
 * and keep the process alive; in a host process that would hide crashes, so they are removed.
 */
async function keepProcessHandlers<T>(f: () => Promise<T>): Promise<T> {
  const events = ["uncaughtException", "unhandledRejection"] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as "uncaughtException") as unknown[])]));
  try {
    return await f();
  } finally {
    for (const e of events) {
      for (const l of process.listeners(e as "uncaughtException")) {
        // also the ones registered when fabric-contract-api was first imported
        const shims = /loggerUnhandledRejectionFn|_uncaughtException/.test(l.name);
        if (!before.get(e)!.has(l) || shims) process.removeListener(e as "uncaughtException", l);
      }
    }
  }
}

/**
 * At CORE_CHAINCODE_LOGGING_LEVEL=CRITICAL the shim prints nothing (its winston level "fatal"
 * is above every record it writes), yet winston formats each debug record (timestamp,
 * metadata, colours) before its transport drops it: about a tenth of the chaincode's CPU per
 * transaction. The shim's and fabric-contract-api's loggers are muted, which skips that work;
 * the output is the same (none). A chaincode's own ctx.logging loggers come from the shim's.
 */
function silenceShimLogging(): void {
  if ((process.env.CORE_CHAINCODE_LOGGING_LEVEL ?? "").toUpperCase() !== "CRITICAL") return;
  rememberParameterValidators();
  silenceLoggers("fabric-shim/lib/logger.js", []);
  // fabric-contract-api's own loggers (same winston setup) are created when the contract
  // module is first imported, usually before this runs: its getLogger returns the cached
  // instance for a name, so those are silenced by name (fabric-contract-api 2.5.8).
  silenceLoggers("fabric-contract-api/lib/logger.js", [
    "./lib/contract.js",
    "./lib/jsontransactionserializer.js",
    "./lib/annotations/default.js",
    "./lib/annotations/info.js",
    "./lib/annotations/object.js",
    "./lib/annotations/transaction.js",
  ]);
}

function silenceLoggers(module: string, existing: readonly string[]): void {
  type GetLogger = ((name?: string) => { silent?: boolean }) & { silenced?: true };
  const logging = require(module) as { getLogger: GetLogger };
  const original = logging.getLogger;
  if (original.silenced) return;
  logging.getLogger = Object.assign((name?: string) => mute(original(name)), { silenced: true as const });
  for (const name of existing) logging.getLogger(name);
}

/**
 * A silent winston logger still builds and pushes each record through its stream before
 * dropping it; its level methods are replaced with no-ops, which print the same (nothing).
 */
function mute<L extends object>(logger: L): L {
  const levels = Object.keys((logger as { levels?: Record<string, number> }).levels ?? {});
  const noop = () => logger;
  for (const level of [...levels, "log"]) Object.defineProperty(logger, level, { value: noop, configurable: true, writable: true });
  return Object.assign(logger, { silent: true });
}

/**
 * The shim builds a ClientIdentity for every invocation, parsing the creator's PEM certificate
 * with @fidm/x509 (pure JS ASN.1): about a fifth of the chaincode process's CPU per
 * transaction, for the same few client certificates every time. The parsed certificate is only
 * read (subject, issuer, extensions) to derive the identity's id and attributes, so a parse is
 * remembered per exact PEM text (bounded); anything that does not parse still throws as before.
 */
function rememberCertificateParses(max = 1_000): void {
  const shimRequire = createRequire(require.resolve("fabric-shim"));
  type FromPem = ((data: string | Buffer) => unknown) & { remembered?: true };
  const { Certificate } = shimRequire("@fidm/x509") as { Certificate: { fromPEM: FromPem } };
  const original = Certificate.fromPEM;
  if (original.remembered) return;
  const parsed = new Map<string, unknown>();
  Certificate.fromPEM = Object.assign(
    (data: string | Buffer) => {
      const key = typeof data === "string" ? data : data.toString("latin1");
      const hit = parsed.get(key);
      if (hit !== undefined) return hit;
      const cert = original.call(Certificate, data);
      if (parsed.size >= max) parsed.delete(parsed.keys().next().value!);
      parsed.set(key, cert);
      return cert;
    },
    { remembered: true as const },
  );
}

/**
 * fabric-shim 2.5's DataMarshall.handleParameters builds its debug records eagerly for every
 * parameter of every call — util.inspect of the argument, a `require('util')` (which goes
 * through tsx's resolver each time), JSON.stringify of the schemas — and recompiles each
 * parameter's JSON schema with ajv (a cache hit, but keyed by a stable stringify of the whole
 * schema): about a sixth of the chaincode process's CPU per transaction. With the shim's
 * logging muted (silenceShimLogging) those records are never written, so the method is
 * replaced by the same steps without them, and a parameter's compiled validator is reused
 * for the same schema object. Only schemas without a `$ref` are remembered: the JSON
 * serializer rewrites referenced component schemas in place, so those compile every call as
 * before. Errors and validation results are the shim's own.
 */
function rememberParameterValidators(): void {
  type Validator = ((data: unknown) => boolean) & { errors?: { message?: string }[] | null };
  interface Param {
    schema: { type?: string; $ref?: string };
  }
  interface Marshall {
    ajv: { compile(schema: object): Validator };
    components: unknown;
    fromWireBuffer(data: Buffer, schema: object, loggerPrefix: string): { value: unknown; validateData: unknown };
  }
  type HandleParameters = ((this: Marshall, fn: { parameters?: Param[] }, parameters: Buffer[], loggerPrefix: string) => unknown[]) & { lean?: true };
  const DataMarshall = require("fabric-shim/lib/contract-spi/datamarshall.js") as { prototype: { handleParameters: HandleParameters } };
  if (DataMarshall.prototype.handleParameters.lean) return;
  const compiled = new WeakMap<Marshall, WeakMap<object, { components: unknown; schema: object; validate: Validator }>>();
  // the shim's wrapper schema for one parameter (no closure per call: see validatorFor)
  function wrap(m: Marshall, expected: Param): object {
    return { properties: { prop: expected.schema }, components: { schemas: m.components } };
  }
  // a function declaration, not a closure made per call (tsx names each one it creates)
  function validatorFor(m: Marshall, expected: Param): { schema: object; validate: Validator } {
    const hit = compiled.get(m)?.get(expected.schema);
    if (hit && hit.components === m.components) return hit;
    const schema = wrap(m, expected);
    const entry = { components: m.components, schema, validate: m.ajv.compile(schema) };
    if (!JSON.stringify(expected.schema).includes("$ref")) {
      let mine = compiled.get(m);
      if (!mine) compiled.set(m, (mine = new WeakMap()));
      mine.set(expected.schema, entry);
    }
    return entry;
  }
  DataMarshall.prototype.handleParameters = Object.assign(
    function (this: Marshall, fn: { parameters?: Param[] }, parameters: Buffer[], loggerPrefix: string): unknown[] {
      const expectedParams = fn.parameters;
      if (!expectedParams) return parameters.map((e) => e.toString());
      if (expectedParams.length !== parameters.length) {
        throw new Error(`Expected ${expectedParams.length} parameters, but ${parameters.length} have been supplied`);
      }
      const out: unknown[] = [];
      for (let i = 0; i < expectedParams.length; i++) {
        const expected = expectedParams[i]!;
        if (!expected.schema.type && !expected.schema.$ref) throw new Error(`Incorrect type information ${JSON.stringify(expected.schema)}`);
        const { schema, validate } = validatorFor(this, expected);
        const { value, validateData } = this.fromWireBuffer(parameters[i]!, schema, loggerPrefix);
        if (!validate({ prop: validateData })) {
          throw new Error(`Unable to validate parameter due to ${JSON.stringify(validate.errors!.map((e) => e.message))}`);
        }
        out.push(value);
      }
      return out;
    },
    { lean: true as const },
  );
}

async function startServer(name: string, contracts: readonly unknown[]): Promise<ChaincodeServerHandle> {
  silenceShimLogging();
  rememberCertificateParses();
  const shim = require("fabric-shim") as { server(cc: unknown, opts: { ccid: string; address: string }): ShimServer };
  const ChaincodeFromContract = require("fabric-shim/lib/contract-spi/chaincodefromcontract.js") as new (...a: unknown[]) => unknown;
  const { JSONSerializer } = require("fabric-contract-api") as { JSONSerializer: unknown };
  const cc = new ChaincodeFromContract([...contracts], { transaction: "jsonSerializer", serializers: { jsonSerializer: JSONSerializer } }, {}, name, "1.0");
  const ccid = `${name}:1.0`;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const server = shim.server(cc, { ccid, address });
    try {
      await silenceDeprecation(() => server.start());
      return { address, ccid, close: () => server._server.forceShutdown() };
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE|No address added/i.test(String(err))) throw err;
    }
  }
}

/** grpc-js warns that Server.start() is deprecated; the shim calls it. Keep test output clean. */
async function silenceDeprecation<T>(f: () => Promise<T>): Promise<T> {
  const orig = process.emitWarning;
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if (String(w).includes("Calling start() is no longer necessary")) return;
    return (orig as (...a: unknown[]) => void).call(process, w, ...rest);
  }) as typeof process.emitWarning;
  try {
    return await f();
  } finally {
    process.emitWarning = orig;
  }
}
