import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The dashboard's static files (relayer/api/dashboard/), read once at start: plain HTML,
 * CSS and ES modules, no build step, nothing fetched from elsewhere.
 */
const DIR = join(dirname(fileURLToPath(import.meta.url)), "dashboard");

/** URL path → file in DIR. Only these are served: no path from a request reaches the filesystem. */
export const DASHBOARD_FILES = {
  "/": "index.html",
  "/dashboard/app.js": "app.js",
  "/dashboard/view.js": "view.js",
  "/dashboard/style.css": "style.css",
  "/dashboard/favicon.svg": "favicon.svg",
} as const;

export type DashboardPath = keyof typeof DASHBOARD_FILES;

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/**
 * Self only: scripts, styles, images and connections (fetch, EventSource) from this origin;
 * no inline script or style, no framing, no plugins, no form posts.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong validator: the content's hash. */
  readonly etag: string;
}

export function loadDashboardFiles(dir = DIR): ReadonlyMap<DashboardPath, StaticFile> {
  return new Map(
    Object.entries(DASHBOARD_FILES).map(([path, file]) => {
      const body = readFileSync(join(dir, file));
      const ext = file.slice(file.lastIndexOf(".") + 1);
      const contentType = TYPES[ext];
      if (!contentType) throw new TypeError(`dashboard: no content type for ${file}`);
      return [path as DashboardPath, { body, contentType, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` }];
    }),
  );
}

/**
 * Headers for a dashboard file. `no-cache` = the browser may keep it but revalidates with
 * the ETag each time, so an upgraded daemon's page is picked up at once and an unchanged
 * one costs a 304.
 */
export function dashboardHeaders(f: StaticFile): Record<string, string> {
  return {
    "content-type": f.contentType,
    "cache-control": "no-cache",
    etag: f.etag,
    "content-security-policy": DASHBOARD_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };
}
