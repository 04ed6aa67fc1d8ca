// The client side of the protocol, shared by the player page and the dashboard: the WebSocket
// client (docs/protocol.md), the HTTP helper for the facilitator API (docs/api.md), the server's
// clock, and what the browser keeps (localStorage, join ids). The protocol's version and codes
// come from the server (/protocol.js, made from the gameserver/protocol package), so a page and
// the server it talks to cannot disagree on them.

import { CLOSE, ERROR, PROTOCOL_VERSION } from "/protocol.js";

// Refusals of a hello that no retry can fix: the page has to do something else.
const FINAL_HELLO_ERRORS = new Set([
  ERROR.BAD_TOKEN, ERROR.NOT_FOUND, ERROR.SEAT_TAKEN, ERROR.WRONG_ROLE, ERROR.NO_SUCH_ROLE,
  ERROR.GAME_FULL, ERROR.UNSUPPORTED_VERSION, ERROR.HELLO_EXPECTED, ERROR.MISSING_FIELD,
  ERROR.BAD_MESSAGE,
]);
// The page's own reasons for dropping a connection, reported as its close code: codes that no
// server sends (the test of the pages checks that CLOSE has none of them).
const SILENT = 4999; // a ping had no answer in time (the heartbeat below)
const HELLO_REFUSED = 4998; // a hello refused for a reason a retry may fix
const NETWORK_LOST = 4997; // the browser says it lost the network
const NO_WELCOME = 4996; // opened (or opening) for too long without a welcome
const NO_CLOSE_FRAME = 1006; // RFC 6455: the connection was lost without a close frame

// The heartbeat (docs/protocol.md, "Heartbeat"): a ping every 2 s; a ping without an answer
// (its pong, or any message) for 3 s means the connection is lost, even if the socket looks
// open. The server holds a page that pings to a short silence limit in turn.
const BEAT_MS = 1 * 1000;
const PING_EVERY_MS = 2 * 1000;
const PONG_LATE_MS = 3 * 1000;
const WELCOME_WITHIN_MS = 10 * 1000;

/** A random id of 128 bits, as 32 hexadecimal digits (for a join id, say). */
export function randomId(prefix = "") {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// `?game=` names the game the hello is for: a proxy in front of several servers routes by it
// (docs/deploy.md); one server alone ignores it.
export function wsUrl(hello = {}) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const credential = hello.join || hello.token || hello.watch || "";
  const game = credential.split(/[-.]/)[0];
  const query = /^[A-Za-z0-9]{1,32}$/.test(game) ? `?game=${game}` : "";
  return `${scheme}://${location.host}/ws${query}`;
}

const JOIN_ID_PREFIX = "gameserver.join.";
const joinIds = new Map(); // the same ids, for a browser that keeps no localStorage

/** The JSON value kept in localStorage under `key`, or null (none, unreadable, or no storage). */
export function loadLocal(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

/**
 * Keep `value` as JSON in localStorage under `key` (null removes it). Without storage (private
 * browsing) nothing is kept: the page still works, only a reload forgets.
 */
export function saveLocal(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // no storage here
  }
}

/**
 * The join id this browser sends with a join code (`join_id`, docs/protocol.md): made once per
 * code and kept in localStorage, so that a join retried after its welcome was lost (a dropped
 * connection, a server crash, a reload) gets its seat back instead of `seat_taken`. With
 * `create: false`, null when this browser never joined with the code.
 */
export function joinIdFor(code, { create = true } = {}) {
  const key = JOIN_ID_PREFIX + code;
  let id = joinIds.get(key) || null;
  if (!id) {
    try {
      id = localStorage.getItem(key);
    } catch {
      id = null;
    }
  }
  if (!id && create) {
    id = randomId("j-");
    try {
      localStorage.setItem(key, id);
    } catch {
      // private browsing without storage: the id lasts as long as the page
    }
  }
  if (id) joinIds.set(key, id);
  return id;
}

/**
 * The view after a round's `view_update` (docs/protocol.md): the keys of `set` take its values;
 * in `extend`, a key given a list has its items appended to the list `view[key]`, and a key
 * given `{name: [items]}` to each list `view[key][name]`. A new object: `view` is left as it was.
 */
export function applyViewUpdate(view, update) {
  const out = { ...view, ...(update.set || {}) };
  for (const [key, more] of Object.entries(update.extend || {})) {
    if (Array.isArray(more)) {
      out[key] = [...(out[key] || []), ...more];
      continue;
    }
    const grown = { ...out[key] };
    for (const [name, items] of Object.entries(more)) grown[name] = [...(grown[name] || []), ...items];
    out[key] = grown;
  }
  return out;
}

/**
 * One WebSocket that says hello, and reconnects with backoff until stopped.
 *
 * `hello()` is called on every connection, so it can switch from a join code to the seat token.
 * `onMessage(msg)` gets every server message; `onState(state, info)` gets "connecting"
 * (info.reconnecting: true after a connection was lost or refused), "online", "offline"
 * (info.retryAt; info.code: the close code of the connection lost, absent after an attempt
 * that never connected), "superseded" (info.error: the `superseded` error
 * that came before the close, if any: another window took the seat, or the facilitator reset it),
 * "deleted" or "refused" (info.error). A connection that stops answering the heartbeat goes
 * "offline" within seconds (see PONG_LATE_MS).
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
    this.openedAt = 0;
    this.pingSentAt = 0;
    this.awaitingPong = false; // a ping went out and nothing came back since
    this.heartbeat = null;
    this._wake = () => this.retryNow();
    this._lost = () => {
      if (this.ws) this._drop(NETWORK_LOST);
    };
    this._visible = () => {
      if (document.visibilityState !== "visible") return;
      if (this.ready) this._ping();
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
    window.addEventListener("offline", this._lost);
    document.addEventListener("visibilitychange", this._visible);
    // Wi-Fi gone or a laptop lid closed leaves a socket that looks open and is dead: ping it,
    // and drop it when a ping gets no answer in time.
    this.heartbeat = setInterval(() => this._beat(), BEAT_MS);
    this._open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    window.removeEventListener("online", this._wake);
    window.removeEventListener("offline", this._lost);
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
    const now = Date.now();
    if (this.ws && !this.welcomed) {
      // a connection attempt or a hello that hangs (a dead network, a frozen server)
      if (now - this.openedAt > WELCOME_WITHIN_MS) this._drop(NO_WELCOME);
      return;
    }
    if (!this.ready) return;
    if (this.awaitingPong) {
      if (now - this.pingSentAt > PONG_LATE_MS) this._drop(SILENT);
      return;
    }
    // A background tab's timers may run once a minute: then it pings once a minute, and the
    // server's own WebSocket pings (answered by the browser) keep the connection known alive.
    if (now - this.pingSentAt >= PING_EVERY_MS - BEAT_MS / 2) this._ping();
  }

  _ping() {
    if (this.awaitingPong || !this.send({ type: "ping", id: "beat" })) return;
    this.awaitingPong = true;
    this.pingSentAt = Date.now();
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
    this.openedAt = Date.now();
    this.awaitingPong = false;
    this.pingSentAt = 0;
    this.onState("connecting", { reconnecting: this.attempt > 0 });
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.lastHeard = Date.now();
      const hello = { type: "hello", v: PROTOCOL_VERSION, ...this.hello() };
      if (hello.join && !hello.token && !hello.watch) hello.join_id = joinIdFor(hello.join);
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      this.awaitingPong = false; // whatever came, the connection is alive
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
        // An attempt that never opened (the server is down) lost no connection: info.code
        // stays the close of the last one that was open (1012 for a restart, say).
        this._retry(opened ? event.code : undefined);
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

export function newId(prefix = "c") {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${random[0].toString(36)}${random[1].toString(36)}`;
}
