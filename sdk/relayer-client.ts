import { RelayerApiError, RelayerUnreachableError } from "./errors.ts";

export { RelayerApiError, RelayerUnreachableError };

/** A thin JSON client for the relayer API, with a deadline on every call. */
export class RelayerClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 10_000,
    /** A tenant's API key, sent as a bearer token (mutating endpoints need one). */
    private readonly apiKey?: string,
  ) {}

  async get<T = unknown>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  async post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    // A 429 stored nothing, so retrying after the server's Retry-After is safe, a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, body);
      } catch (err) {
        if (!(err instanceof RelayerApiError) || err.status !== 429 || attempt >= 3) throw err;
        const wait = Number((err.details as { retryAfterSec?: number }).retryAfterSec ?? 1);
        await new Promise((r) => setTimeout(r, Math.min(30, Math.max(1, wait)) * 1000));
      }
    }
  }

  private async requestOnce<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new RelayerUnreachableError(this.baseUrl, err);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RelayerApiError("BAD_RESPONSE", `relayer answered ${res.status} with non-JSON`, res.status);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }).error ?? {};
      throw new RelayerApiError(e.code ?? "HTTP_" + res.status, e.message ?? `HTTP ${res.status}`, res.status, e.details ?? {});
    }
    return json as T;
  }
}
