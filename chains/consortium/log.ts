/** The logging this package needs; relayer/log.ts's Logger fits it structurally. */
export interface ChainLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const quietLogger: ChainLogger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });
