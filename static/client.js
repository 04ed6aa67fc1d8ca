// Shared by the player page and the dashboard: the WebSocket client (docs/protocol.md), the HTTP
// helper for the facilitator API (docs/api.md), a server clock and small DOM helpers. The
// protocol's version and codes come from the server (/protocol.js, made from
// gameserver/protocol.py), so a page and the server it talks to cannot disagree on them.

import { CLOSE, ERROR, PROTOCOL_VERSION } from "/protocol.js";

// Refusals of a hello that no retry can fix: the page has to do something else.
const FINAL_HELLO_ERRORS = new Set([
  ERROR.BAD_TOKEN, ERROR.NOT_FOUND, ERROR.SEAT_TAKEN, ERROR.WRONG_ROLE, ERROR.NO_SUCH_ROLE,
  ERROR.GAME_FULL, ERROR.UNSUPPORTED_VERSION, ERROR.HELLO_EXPECTED, ERROR.MISSING_FIELD,
  ERROR.BAD_MESSAGE,
]);
// The page's own reasons for dropping a connection, reported as its close code: codes that no
// server sends (the test of the pages checks that CLOSE has none of them).
const SILENT = 4999; // nothing heard for 45 s
const HELLO_REFUSED = 4998; // a hello refused for a reason a retry may fix
const NO_CLOSE_FRAME = 1006; // RFC 6455: the connection was lost without a close frame

// `?game=` names the game the hello is for: a proxy in front of several servers routes by it
// (docs/deploy.md); one server alone ignores it.
export function wsUrl(hello = {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const credential = hello.join || hello.token || hello.watch || "";
  const game = credential.split(/[-.]/)[0];
  const query = /^[A-Za-z0-9]{1,32}$/.test(game) ? `?game=${game}` : "";
  return `${scheme}://${location.host}/ws${query}`;
}

/**
 * One WebSocket that says hello, and reconnects with backoff until stopped.
 *
 * `hello()` is called on every connection, so it can switch from a join code to the seat token.
 * `onMessage(msg)` gets every server message; `onState(state, info)` gets "connecting",
 * "online", "offline" (info.retryAt, info.code), "superseded" (info.error: the `superseded` error
 * that came before the close, if any: another window took the seat, or the facilitator reset it),
 * "deleted" or "refused" (info.error).
 * Closes such as CLOSE.RESTARTING and CLOSE.TOO_SLOW are ordinary reasons to come back;
 * CLOSE.SUPERSEDED, CLOSE.SEAT_RESET and CLOSE.GAME_DELETED are not.
 */
export class GameSocket {
  constructor({ hello, onMessage, onState = () => {} }) {
    this.hello = hello;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.welcomed = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.lastHeard = 0;
    this.heartbeat = null;
    this._wake = () => this.retryNow();
    this._visible = () => {
      if (document.visibilityState !== "visible") return;
      if (this.ready) this.send({ type: "ping", id: "wake" });
      else this.retryNow();
    };
  }

  get ready() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN && this.welcomed);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    window.addEventListener("online", this._wake);
    document.addEventListener("visibilitychange", this._visible);
    // A laptop lid closed for an hour leaves a socket that looks open and is dead: ping it, and
    // drop it when nothing at all came back for a while.
    this.heartbeat = setInterval(() => this._beat(), 10000);
    this._open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    window.removeEventListener("online", this._wake);
    document.removeEventListener("visibilitychange", this._visible);
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    if (ws) ws.close(CLOSE.NORMAL);
  }

  send(message) {
    if (!this.ready) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this._open();
  }

  _beat() {
    if (!this.ready) return;
    if (Date.now() - this.lastHeard > 45000) {
      this._drop(SILENT);
      return;
    }
    this.send({ type: "ping", id: "beat" });
  }

  _open() {
    clearTimeout(this.retryTimer);
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.hello()));
    } catch (err) {
      this._retry(NO_CLOSE_FRAME);
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    this.lastError = null;
    this.onState("connecting", {});
    ws.onopen = () => {
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, ...this.hello() }));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "welcome") {
        this.welcomed = true;
        this.attempt = 0;
        this.onState("online", {});
      } else if (message.type === "error" && !this.welcomed) {
        this.onMessage(message);
        if (FINAL_HELLO_ERRORS.has(message.code)) {
          this.stop();
          this.onState("refused", { error: message });
        } else {
          this._drop(HELLO_REFUSED);
        }
        return;
      }
      if (message.type === "error" && (message.code === ERROR.SUPERSEDED || message.code === ERROR.SEAT_RESET)) {
        this.lastError = message;
      }
      this.onMessage(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      if (this.stopped) return;
      if (event.code === CLOSE.SUPERSEDED || event.code === CLOSE.SEAT_RESET) {
        const error = this.lastError;
        this.stop();
        this.onState("superseded", { error });
      } else if (event.code === CLOSE.GAME_DELETED) {
        this.stop();
        this.onState("deleted", {});
      } else {
        this._retry(event.code);
      }
    };
  }

  _drop(code) {
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    if (ws) ws.close();
    if (!this.stopped) this._retry(code);
  }

  _retry(code) {
    // 0.5 s, 0.9 s, 1.6 s, ... up to 15 s, with jitter so a class does not come back in step.
    const base = Math.min(15000, 500 * 1.8 ** this.attempt);
    const delay = Math.round(base * (0.6 + 0.4 * Math.random()));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.onState("offline", { code, retryAt });
    this.retryTimer = setTimeout(() => this._open(), delay);
  }
}

/** The server's clock, corrected from the `server_time` of sync, round and status messages. */
export class ServerClock {
  constructor() {
    this.offset = 0;
  }
  update(serverTime) {
    if (typeof serverTime === "number") this.offset = serverTime * 1000 - Date.now();
  }
  /** Seconds until a Unix time on the server's clock. */
  secondsUntil(unixTime) {
    return unixTime - (Date.now() + this.offset) / 1000;
  }
}

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** A facilitator API call; throws ApiError with the server's message on a 4xx/5xx. */
export async function api(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError("the server cannot be reached", "offline", 0);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(error.message || `HTTP ${response.status}`, error.code, response.status);
  }
  return data;
}

/** Build an element: el("p", {class: "x", onclick: f}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function humanize(key) {
  const text = String(key).replace(/[_-]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function fmt(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

export function fmtMoney(value) {
  if (typeof value !== "number") return "–";
  const sign = value < 0 ? "−" : "";
  const text = Math.abs(value).toLocaleString("en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return `${sign}$${text}`;
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function listWords(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The game's decision: the view's `max_<key>` names it (`max_order` -> `order`). */
export function decisionKey(view) {
  for (const key of Object.keys(view || {})) {
    const match = /^max_(\w+)$/.exec(key);
    if (match && typeof view[key] === "number") return { key: match[1], max: view[key] };
  }
  return { key: "value", max: Number.MAX_SAFE_INTEGER };
}

/**
 * The same check as the server's whole_number_decision: a whole number in 0..max.
 * Returns {value} or {error} worded like the server's message.
 */
export function checkWholeNumber(text, key, max) {
  const raw = String(text).trim();
  const allowed = `${key} must be a whole number between 0 and ${max}`;
  if (raw === "") return { error: `${allowed}; enter one` };
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(raw)) return { error: `${allowed}, got '${raw}'` };
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    return { error: `${allowed}, got ${raw}` };
  }
  return { value };
}

export function newId(prefix = "c") {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${random[0].toString(36)}${random[1].toString(36)}`;
}

/** Copy text; falls back to a hidden textarea where the Clipboard API is not allowed (http). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

export const KIND_TITLES = { beer: "Beer Game", fishery: "Fishery" };
export const ROUND_WORDS = { beer: "week" };

export function roundWord(kind) {
  return ROUND_WORDS[kind] || "round";
}

export function roleName(role) {
  return humanize(role);
}
