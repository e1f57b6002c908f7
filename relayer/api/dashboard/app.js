// The dashboard: state from the relayer's read endpoints, kept live by /events?heads=1.
// After any stream interruption the page shows "reconnecting" and, once the stream is
// back, re-reads every endpoint, so changes made while it was away are not missed.
import { assetRef, DEADLINES, decimalsOf, FINAL_STATES, formatSecondsLeft, formatUnits, formatUnixTime, PHASES, secondsLeft, shortId } from "./view.js";

const RECENT_LIMIT = 15;
const INFLIGHT_LIMIT = 200;
const BALANCE_REFRESH_MS = 15_000;
const RETRY_MS = 3000;
/** The server sends at least a keepalive every 15 s; silence this long means a dead (half-open) connection. */
const SILENCE_MS = 40_000;

/** The EventSource on /events?heads=1 (null between a closed stream and its retry). */
let source = null;
/** Browser time of the stream's last sign of life (used only to notice a silent stream). */
let lastHeardMs = 0;

const state = {
  chains: new Map(), // name → chain view (GET /chains, `chain` events)
  balances: [],
  inflight: [], // most urgent first (GET /inflight)
  inflightTotal: 0,
  recent: [],
};

// ---- rendering ------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fillBody(table, rows, emptyText, columns) {
  const body = document.querySelector(`#${table} tbody`);
  body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, emptyText))]));
}

const dash = "—";
const num = (v) => (v === null || v === undefined ? dash : v.toLocaleString("en-US"));

function amount(units, chain, asset) {
  const d = decimalsOf(state.chains, chain, asset);
  return d === null ? `${units} base units ${asset}` : `${formatUnits(units, d)} ${asset}`;
}

function renderChains() {
  const rows = [...state.chains.values()].map((c) =>
    el(
      "tr",
      { "data-chain": c.name },
      el("td", {}, c.name),
      el("td", {}, c.kind),
      el("td", { class: "num" }, num(c.headHeight)),
      el("td", { class: "num" }, num(c.finalizedHeight)),
      el("td", { class: "num" }, c.lagBlocks === null ? dash : `${c.lagBlocks} blk`),
      el("td", {}, c.finality.description),
      el("td", {}, c.chainTime === null ? dash : formatUnixTime(c.chainTime)),
      el("td", { class: "num" }, c.scanLagBlocks ? `${num(c.scannedHeight)} (${c.scanLagBlocks} behind)` : num(c.scannedHeight)),
      el("td", { class: c.up ? "ok" : "bad" }, c.up ? "up" : `backing off (${c.failures} failures)`),
    ),
  );
  fillBody("chains", rows, "no chains", 9);
}

function renderBalances() {
  const rows = state.balances.map((b) =>
    el(
      "tr",
      { "data-chain": b.chain, "data-asset": b.asset },
      el("td", {}, b.chain),
      el("td", {}, b.asset),
      b.ok ? el("td", { class: "num" }, formatUnits(b.units, b.decimals)) : el("td", { class: "num bad" }, `unavailable: ${b.error}`),
      el("td", { class: "mono" }, state.chains.get(b.chain)?.relayer ?? dash),
    ),
  );
  fillBody("balances", rows, "no balances", 4);
}

function deadlineList(swap) {
  const items = swap.deadlines.map((d) => {
    const left = secondsLeft(d, state.chains);
    const text = left === null ? "chain time unknown" : formatSecondsLeft(left);
    return el(
      "li",
      { class: left !== null && left < 60 ? "soon" : "", "data-deadline": d.what },
      `${DEADLINES[d.what] ?? d.what} on ${d.chain}: `,
      el("strong", {}, text),
      el("span", { class: "at", title: `${formatUnixTime(d.time)} UTC in ${d.chain}'s block time` }, ` by ${formatUnixTime(d.time).slice(11)} UTC`),
    );
  });
  return items.length ? el("ul", { class: "deadlines" }, ...items) : dash;
}

function swapCells(s) {
  return [
    el("td", { class: "mono", title: s.id }, shortId(s.id)),
    el("td", {}, `${assetRef(s.from)} → ${assetRef(s.to)}`),
    el("td", { class: "num" }, amount(s.amountIn, s.from.chain, s.from.asset)),
    el("td", { class: "num" }, amount(s.amountOut, s.to.chain, s.to.asset)),
  ];
}

function renderInflight() {
  const rows = state.inflight.map((s) =>
    el("tr", { "data-swap-id": s.id, "data-state": s.state }, ...swapCells(s), el("td", { class: "phase" }, PHASES[s.state] ?? s.state), el("td", { class: "wrap" }, deadlineList(s))),
  );
  fillBody("inflight", rows, "no swaps in flight", 6);
  const shown = state.inflight.length;
  const total = Math.max(shown, state.inflightTotal);
  document.getElementById("inflight-count").textContent = total === 0 ? "" : total > shown ? `(${total}; the ${shown} most urgent shown)` : `(${total})`;
}

function renderRecent() {
  const rows = state.recent.map((s) =>
    el(
      "tr",
      { "data-swap-id": s.id, "data-state": s.state },
      ...swapCells(s),
      el("td", { class: s.state === "completed" ? "ok" : "warn" }, PHASES[s.state] ?? s.state),
      el("td", {}, new Date(s.createdAtMs).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")),
    ),
  );
  fillBody("recent", rows, "none yet", 6);
}

/** Render at most once per frame, however many chain events arrive together. */
const pendingRenders = new Set();
function renderSoon(render) {
  if (pendingRenders.size === 0) {
    requestAnimationFrame(() => {
      const renders = [...pendingRenders];
      pendingRenders.clear();
      for (const r of renders) r();
    });
  }
  pendingRenders.add(render);
}

function setConnection(kind, text) {
  const c = document.getElementById("conn");
  c.dataset.state = kind;
  c.textContent = text;
  document.body.classList.toggle("stale", kind !== "live");
}

// ---- data -----------------------------------------------------------------

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

async function loadChains() {
  const chains = await getJson("/chains");
  state.chains = new Map(chains.map((c) => [c.name, c]));
  renderChains();
}

async function loadBalances() {
  state.balances = await getJson("/balances");
  renderBalances();
}

/** Wrap a loader so an older answer arriving after a newer one is dropped. */
function latestOnly(load) {
  let seq = 0;
  return async () => {
    const mine = ++seq;
    const value = await load();
    return mine === seq ? value : undefined;
  };
}

const fetchInflight = latestOnly(async () => {
  const res = await fetch(`/inflight?limit=${INFLIGHT_LIMIT}`, { headers: { accept: "application/json" }, cache: "no-store" });
  if (!res.ok) throw new Error(`/inflight: HTTP ${res.status}`);
  return { swaps: await res.json(), total: Number(res.headers.get("x-total-count") ?? "0") };
});
async function loadInflight() {
  const v = await fetchInflight();
  if (v === undefined) return;
  state.inflight = v.swaps;
  state.inflightTotal = v.total;
  renderInflight();
}

const fetchRecent = latestOnly(() => Promise.all(["completed", "refunded"].map((st) => getJson(`/swaps?state=${st}&limit=${RECENT_LIMIT}`))));
async function loadRecent() {
  const lists = await fetchRecent();
  if (lists === undefined) return;
  state.recent = lists
    .flat()
    .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? 1 : -1))
    .slice(0, RECENT_LIMIT);
  renderRecent();
}

/** Coalesce bursts of events into one reload per loader. */
function debounced(load, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      load().then(loadSucceeded, reportLoadError);
    }, ms);
  };
}

const streamOpen = () => source !== null && source.readyState === EventSource.OPEN;

/** A read worked again after one failed while the stream stayed up: back to "live". */
function loadSucceeded() {
  if (streamOpen() && document.getElementById("conn").dataset.state === "error") setConnection("live", "live");
}

function reportLoadError(err) {
  // While the stream is down its "reconnecting" stays shown (the reconnect re-reads
  // everything); a failed read while it is up is shown, and the next good read clears it.
  if (!streamOpen()) return;
  setConnection("error", `could not read the relayer: ${err.message}`);
}

const reloadInflight = debounced(loadInflight, 150);
const reloadFinished = debounced(() => Promise.all([loadRecent(), loadBalances()]), 300);

async function loadAll() {
  await loadChains(); // decimals and chain times first: the other tables use them
  await Promise.all([loadInflight(), loadRecent(), loadBalances()]);
}

// ---- live stream ------------------------------------------------------------

function connect() {
  source = new EventSource("/events?heads=1");
  const heard = () => {
    lastHeardMs = Date.now();
  };
  for (const type of ["open", "chain", "swap", "keepalive"]) source.addEventListener(type, heard);
  source.addEventListener("open", () => {
    // (Re)connected: read everything again so nothing that changed while away is missed.
    loadAll()
      .then(() => setConnection("live", "live"))
      .catch(reportLoadError);
  });
  source.addEventListener("chain", (e) => {
    const c = JSON.parse(e.data);
    state.chains.set(c.name, c);
    renderSoon(renderChains);
    renderSoon(renderInflight); // time left follows the chains' times
  });
  source.addEventListener("swap", (e) => {
    const change = JSON.parse(e.data);
    reloadInflight();
    if (FINAL_STATES.has(change.state)) reloadFinished();
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (the server answered with an error): try again ourselves.
      setConnection("reconnecting", `stream closed; reconnecting in ${RETRY_MS / 1000}s…`);
      source = null;
      setTimeout(connect, RETRY_MS);
    } else {
      setConnection("reconnecting", "stream lost; reconnecting… (figures below may be stale)");
    }
  });
}

connect();
setInterval(() => {
  if (streamOpen() && Date.now() - lastHeardMs > SILENCE_MS) {
    source.close();
    source = null;
    setConnection("reconnecting", `stream silent for ${SILENCE_MS / 1000}s; reconnecting…`);
    connect();
  }
}, 5000);
setInterval(() => {
  if (streamOpen()) loadBalances().then(loadSucceeded, reportLoadError);
}, BALANCE_REFRESH_MS);
