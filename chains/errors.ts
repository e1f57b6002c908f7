/**
 * One base error for everything above `proofs/`: a short message, a stable code a
 * program can switch on, structured details, and the cause chain.
 * (`proofs/` stays dependency-free: its verifiers return reasoned failures instead.)
 */
export type ErrorDetails = Record<string, unknown>;

export class IsthmusError extends Error {
  override name = "IsthmusError";
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** JSON form for logs and API answers: never includes the stack. */
  toJSON(): { code: string; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Bad input from a caller (CLI argument, API body, config key): nothing was done. */
export class InvalidInputError extends IsthmusError {
  override name = "InvalidInputError";
  constructor(what: string, problem: string, details: ErrorDetails = {}) {
    super("INVALID_INPUT", `${what}: ${problem}`, { what, ...details });
  }
}

/** A ledger refused or failed a request; `chain` says which. */
export class LedgerError extends IsthmusError {
  override name = "LedgerError";
  constructor(chain: string, code: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, `${chain}: ${message}`, { chain, ...details }, options);
  }
}

/** A proof or finality check failed: the data cannot be trusted and nothing may act on it. */
export class VerificationError extends IsthmusError {
  override name = "VerificationError";
  constructor(chain: string, reason: string, details: ErrorDetails = {}) {
    super("VERIFICATION_FAILED", `${chain}: ${reason}`, { chain, reason, ...details });
  }
}

/**
 * A header the adapter had verified as final is not on the node's chain any more: a reorg
 * deeper than the finality rule, or a node serving another fork. Nothing read from that
 * chain is believed afterwards; it needs an operator.
 */
export class FinalityViolationError extends VerificationError {
  override name = "FinalityViolationError";
  override readonly code: string = "FINALITY_VIOLATED";
  constructor(chain: string, reason: string, details: ErrorDetails = {}) {
    super(chain, reason, details);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
