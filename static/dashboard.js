// The facilitator dashboard: sign in (dash-auth.js), create games or a class (dash-create.js),
// hand out join links (as text, QR codes and printed cards), follow every game live (one `watch`
// WebSocket per game in memory, dash-watch.js, and a poll of the API for the list), act on one
// game or all of them (dash-actions.js), read stored games, clone from a round (dash-detail.js),
// compare teams, export CSV.

import { ServerClock, api } from "./client.js";
import {
  auth, authenticate, forgetCredentials, loadSaved, sessionToken, tokenFor, tokens,
} from "./dash-auth.js";
import { GameActions } from "./dash-actions.js";
import { ClassPanel } from "./dash-class.js";
import { CreateForm } from "./dash-create.js";
import { GameDetails } from "./dash-detail.js";
import { setUpModels, showModels } from "./dash-models.js";
import { compareView, linksTable, linksText } from "./dash-panels.js";
import { showHandouts } from "./dash-qr.js";
import { buildRow, titleOf as titleOfGame, updateDeadline, updateRow } from "./dash-table.js";
import { display, stopWatch, watchGames } from "./dash-watch.js";
import { copyText, el } from "./dom.js";
import { IN_PROGRESS } from "/protocol.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 5000; // the list (names, new games, restored); live figures come by WebSocket
const PAGE_SIZE = 50; // games per page of the admin's list, newest first

const games = new Map(); // game id -> entry
let listed = []; // game ids, in the list's order
let pollTimer = null;
let renderQueued = false;
let pollFailed = false;
let linksSignature = "";
let pagesWanted = 1; // pages of the admin's list shown
let moreGames = false; // older games than those shown exist

async function signIn(credential, remember) {
  const who = await authenticate(credential, remember);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = {
    admin: "Signed in with the admin key",
    session: `Session ${who.scope}`,
    game: `Game ${who.scope}`,
  }[who.mode];
  $("create-section").hidden = who.mode !== "admin";
  $("models-section").hidden = who.mode !== "admin";
  if (who.mode === "admin") {
    showModels(auth.credential);
    setUpModels(() => auth.credential, async (kind) => {
      await createForm.loadKinds();
      $("kind").value = kind;
      createForm.buildSettings();
    });
  }
  if (who.mode === "session") setFilterDefault(`session:${who.scope}`);
  if (who.mode === "admin") createForm.loadPresets();
  classPanel.show(who.mode === "session" ? who.scope : null);
  await refresh();
  clearInterval(pollTimer);
  pollTimer = setInterval(refresh, POLL_MS);
}

function signOut() {
  pagesWanted = 1;
  classPanel.show(null);
  clearInterval(pollTimer);
  for (const entry of games.values()) stopWatch(entry);
  games.clear();
  listed = [];
  $("games-body").replaceChildren();
  forgetCredentials();
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("signin").hidden = false;
  $("who").textContent = "";
  setConnection("idle", "Not signed in");
  $("credential").focus();
}

// -- the list of games ----------------------------------------------------------------------

/** The admin's list: the newest games, a page at a time (each page reads only the games'
 * stored summaries); "Show older games" asks for one more page. */
async function fetchPages() {
  const list = [];
  let after = null;
  for (let page = 0; page < pagesWanted; page += 1) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), order: "newest" });
    if (after) query.set("after", after);
    const out = await api("GET", `/api/games?${query}`, { token: auth.credential });
    list.push(...out.games);
    after = out.next;
    if (!after) break;
  }
  moreGames = Boolean(after);
  return list;
}

async function fetchGames() {
  if (auth.mode === "admin") return fetchPages();
  let list = [];
  if (auth.mode === "session") {
    list = (await api("GET", `/api/sessions/${auth.scope}`, { token: auth.credential })).games;
  } else {
    list = [await api("GET", `/api/games/${auth.scope}`, { token: auth.credential })];
  }
  const have = new Set(list.map((g) => g.game_id));
  for (const [gameId, token] of Object.entries(tokens.games)) {
    if (have.has(gameId)) continue;
    try {
      list.push(await api("GET", `/api/games/${gameId}`, { token }));
    } catch (err) {
      if (err.status === 404) delete tokens.games[gameId];
    }
  }
  return list;
}

async function refresh() {
  let list;
  try {
    list = await fetchGames();
  } catch (err) {
    pollFailed = true;
    setConnection("offline", `Server unreachable: ${err.message}`);
    return;
  }
  pollFailed = false;
  const seen = new Set();
  for (const info of list) {
    seen.add(info.game_id);
    let entry = games.get(info.game_id);
    if (!entry) {
      entry = { id: info.game_id, info, live: null, socket: null, clock: new ServerClock(), row: null, forceWatch: false };
      games.set(info.game_id, entry);
    }
    entry.info = info;
  }
  for (const [gameId, entry] of games) {
    if (!seen.has(gameId)) {
      stopWatch(entry);
      if (entry.row) entry.row.remove();
      games.delete(gameId);
    }
  }
  listed = list.map((g) => g.game_id);
  updateFilterOptions();
  ensureWatches();
  render();
}

// -- live: one watch socket per game in memory ----------------------------------------------

const watchHooks = {
  onState: () => {
    renderConnection();
    scheduleRender();
  },
  onChange: () => scheduleRender(),
  refresh: () => refresh(),
};

function ensureWatches() {
  watchGames(listed.map((id) => games.get(id)), watchHooks);
  renderConnection();
}

function setConnection(state, text) {
  $("connection").dataset.state = state;
  if ($("connection-text").textContent !== text) $("connection-text").textContent = text;
}

function renderConnection() {
  if (pollFailed) return;
  const sockets = [...games.values()].filter((e) => e.socket);
  const down = sockets.filter((e) => e.socketState !== "online").length;
  if (!sockets.length) setConnection("online", "Up to date (polling)");
  else if (!down) setConnection("online", `Live: ${sockets.length} game${sockets.length === 1 ? "" : "s"} watched`);
  else setConnection("offline", `Reconnecting to ${down} of ${sockets.length} games`);
}

// -- filter ---------------------------------------------------------------------------------

let filterDefault = "all";

function setFilterDefault(value) {
  filterDefault = value;
  if ([...$("filter").options].some((o) => o.value === value)) $("filter").value = value;
}

function updateFilterOptions() {
  const select = $("filter");
  const current = select.value || filterDefault;
  const sessions = new Map();
  let loose = 0;
  for (const id of listed) {
    const sid = games.get(id).info.session_id;
    if (sid) sessions.set(sid, (sessions.get(sid) || 0) + 1);
    else loose += 1;
  }
  const options = [["all", `All games (${listed.length})`]];
  for (const [sid, count] of sessions) options.push([`session:${sid}`, `Class ${sid} (${count} teams)`]);
  if (loose && sessions.size) options.push(["loose", `Single games (${loose})`]);
  const signature = JSON.stringify(options);
  if (select.dataset.signature !== signature) {
    select.dataset.signature = signature;
    select.replaceChildren(...options.map(([value, text]) => el("option", { value }, text)));
  }
  const wanted = options.some(([v]) => v === filterDefault) && !select.dataset.touched ? filterDefault : current;
  select.value = options.some(([v]) => v === wanted) ? wanted : "all";
}

function shownEntries() {
  const filter = $("filter").value || "all";
  const hideOver = $("hide-over").checked;
  return listed.map((id) => games.get(id)).filter((entry) => {
    const sid = entry.info.session_id;
    if (filter.startsWith("session:") && sid !== filter.slice(8)) return false;
    if (filter === "loose" && sid) return false;
    if (hideOver && !IN_PROGRESS.includes(display(entry).status)) return false;
    return true;
  });
}

// -- the table ------------------------------------------------------------------------------

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function titleOf(entry) {
  return titleOfGame(entry.info);
}

function rowOf(entry) {
  if (!entry.row) {
    const policies = (createForm.kinds.find((k) => k.kind === entry.info.kind) || {}).policies || [];
    entry.row = buildRow(entry.info, {
      policies,
      onAction: (action) => actions.onAction(entry, action),
      onSeat: (role) => actions.onSeat(entry, role),
      onReset: (role) => actions.onReset(entry, role),
    });
  }
  return entry.row;
}

function render() {
  const body = $("games-body");
  const shown = shownEntries();
  const shownIds = new Set(shown.map((e) => e.id));
  for (const entry of games.values()) {
    const row = rowOf(entry);
    row.hidden = !shownIds.has(entry.id);
    updateRow(row, entry.info, display(entry), { watched: Boolean(entry.socket), clock: entry.clock });
  }
  // keep the rows in the list's order without moving the ones already in place
  let cursor = body.firstElementChild;
  for (const id of listed) {
    const row = games.get(id).row;
    if (row === cursor) cursor = cursor.nextElementSibling;
    else body.insertBefore(row, cursor);
  }
  $("empty").hidden = shown.length > 0;
  $("more-games").hidden = !moreGames;
  renderLinks(shown);
  renderConnection();
}

// -- notices --------------------------------------------------------------------------------

function say(text, problem = false) {
  const notice = $("notice");
  notice.textContent = text;
  notice.classList.toggle("error", problem);
}

// -- join links -----------------------------------------------------------------------------

function renderLinks(shown) {
  const withSeats = shown.filter((e) => IN_PROGRESS.includes(display(e).status));
  const signature = withSeats.map((e) => `${e.id}:${e.info.join.map((l) => l.code).join("|")}`).join(",");
  if (signature === linksSignature) return;
  linksSignature = signature;
  const box = $("links");
  box.replaceChildren(...withSeats.map((entry) => el("details", { open: withSeats.length <= 4 },
    el("summary", {}, `${titleOf(entry)} (${entry.id})`),
    el("div", { class: "toolbar" }, el("button", {
      type: "button", class: "small", "data-testid": `handouts-${entry.id}`,
      "aria-label": `Print handouts for ${titleOf(entry)}: one card per seat with its QR code`,
      onclick: (event) => showHandouts([entry.info], event.currentTarget),
    }, "Print handouts")),
    linksTable(entry.info, say))));
  if (!withSeats.length) box.append(el("p", { class: "muted" }, "No game in progress is shown."));
}

// -- compare teams ------------------------------------------------------------------------

async function compare() {
  const box = $("compare");
  const shown = shownEntries().filter((e) => e.info.round > 0);
  if (!shown.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No game shown has played a round yet."));
    return;
  }
  box.replaceChildren(el("p", {}, "Loading…"));
  const loaded = await Promise.all(shown.map((entry) =>
    api("GET", `/api/games/${entry.id}?view=1`, { token: tokenFor(entry.id) }).catch(() => null)));
  box.replaceChildren(...compareView(loaded.filter(Boolean)));
}

// -- start ----------------------------------------------------------------------------------

const classPanel = new ClassPanel({ tokenFor: sessionToken, say, onChange: () => refresh() });
const details = new GameDetails({
  say,
  refresh,
  titleOf: (gameId) => (games.get(gameId) ? titleOf(games.get(gameId)) : gameId),
});
const actions = new GameActions({
  say,
  onChange: () => scheduleRender(),
  onWatch: () => ensureWatches(),
  onDetails: (gameId) => details.show(gameId),
  onLinks: () => { linksSignature = ""; },
  refresh,
});
const createForm = new CreateForm({
  say,
  onKinds: () => {
    // rows built before the policies were known get their bot choices now
    for (const entry of games.values()) {
      if (entry.row) {
        entry.row.remove();
        entry.row = null;
      }
    }
    if (auth.mode) render();
  },
  onClass: (sessionId) => {
    filterDefault = `session:${sessionId}`;
    $("filter").dataset.touched = "";
    classPanel.show(sessionId);
  },
  onCreated: async () => {
    linksSignature = "";
    await refresh();
    $("filter").value = filterDefault;
    render();
  },
});

function init() {
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const credential = $("credential").value.trim();
    $("signin-error").textContent = "";
    if (!credential) {
      $("signin-error").textContent = "Enter the admin key or a facilitator token.";
      return;
    }
    $("signin-button").disabled = true;
    try {
      await signIn(credential, $("remember").checked);
      $("credential").value = "";
    } catch (err) {
      $("signin-error").textContent = err.status === 401 || err.status === 404
        ? "This key or token is not accepted." : err.message;
    } finally {
      $("signin-button").disabled = false;
    }
  });
  $("sign-out").addEventListener("click", signOut);
  createForm.setUp();
  $("filter").addEventListener("change", () => {
    $("filter").dataset.touched = "1";
    filterDefault = $("filter").value;
    if (auth.mode === "admin") classPanel.show(filterDefault.startsWith("session:") ? filterDefault.slice(8) : null);
    linksSignature = "";
    render();
  });
  $("hide-over").addEventListener("change", () => {
    linksSignature = "";
    render();
  });
  for (const node of document.querySelectorAll("[data-bulk]")) {
    node.addEventListener("click", () => actions.onBulk(node.dataset.bulk, shownEntries()));
  }
  $("copy-all-links").addEventListener("click", async () => {
    const entries = shownEntries().filter((e) => IN_PROGRESS.includes(display(e).status));
    const ok = await copyText(linksText(entries.map((e) => e.info)));
    say(ok ? `Copied the links of ${entries.length} games.` : "Copying is not allowed here.");
  });
  $("print-all-handouts").addEventListener("click", (event) => {
    const entries = shownEntries().filter((e) => IN_PROGRESS.includes(display(e).status));
    if (!entries.length) {
      say("No game in progress is shown, so there are no links to print.");
      return;
    }
    showHandouts(entries.map((e) => e.info), event.currentTarget);
  });
  $("compare-button").addEventListener("click", compare);
  $("more-games").addEventListener("click", async () => {
    pagesWanted += 1;
    await refresh();
  });
  setInterval(() => {
    for (const entry of games.values()) {
      if (entry.row && !entry.row.hidden) updateDeadline(entry.row, display(entry), entry.clock);
    }
  }, 500);
  createForm.loadKinds();
  const saved = loadSaved();
  if (saved) {
    signIn(saved, auth.remember).catch(() => {
      $("signin").hidden = false;
      $("signin-error").textContent = "The saved key or token is no longer accepted; sign in again.";
    });
  } else {
    $("signin").hidden = false;
  }
}

init();
