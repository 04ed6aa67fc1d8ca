// The dashboard's live figures: one `watch` WebSocket per game in memory (a poll of the API keeps
// the list), and what the table shows of a game: its socket's figures when there is one, else the
// API's.

import { GameSocket, api } from "./client.js";
import { tokenFor } from "./dash-auth.js";
import { IN_PROGRESS } from "/protocol.js";

const MAX_WATCHED = 60; // beyond this many games, the poll alone keeps the table current

/**
 * Watch the games that want it, in the list's order: those restored on purpose, and those in
 * memory and in progress, up to MAX_WATCHED. `hooks`: `onState()` after a socket's state changed,
 * `onChange()` after new figures, `refresh()` to read the list again.
 */
export function watchGames(entries, hooks) {
  let watched = 0;
  for (const entry of entries) {
    const status = display(entry).status;
    const want = entry.forceWatch || (entry.info.active && IN_PROGRESS.includes(status) && watched < MAX_WATCHED);
    if (want) watched += 1;
    if (want && !entry.socket) startWatch(entry, hooks);
    if (!want && entry.socket) stopWatch(entry);
  }
}

function startWatch(entry, hooks) {
  entry.socket = new GameSocket({
    hello: () => ({ watch: entry.id, token: tokenFor(entry.id) }),
    onMessage: (message) => onWatchMessage(entry, message, hooks),
    onState: (state) => {
      entry.socketState = state;
      if (state === "refused" || state === "deleted") stopWatch(entry);
      hooks.onState();
    },
  });
  entry.socket.start();
}

export function stopWatch(entry) {
  if (entry.socket) entry.socket.stop();
  entry.socket = null;
  entry.live = null;
  entry.socketState = null;
}

function onWatchMessage(entry, message, hooks) {
  if (!["sync", "round", "status", "progress"].includes(message.type)) return;
  const live = entry.live || (entry.live = {});
  for (const key of [
    "status", "round", "open_round", "total_rounds", "announced_rounds", "deadline",
    "paused_remaining", "submitted", "online", "roles",
  ]) {
    if (key in message) live[key] = message[key];
  }
  entry.clock.update(message.server_time);
  if (message.view) entry.view = message.view;
  if (message.type === "sync" && entry.forceWatch && !entry.info.active) hooks.refresh();
  if (live.status && !IN_PROGRESS.includes(live.status) && !entry.forceWatch) {
    // over: let the game leave memory when idle; the API has its final state
    stopWatch(entry);
    refreshOne(entry, hooks);
  }
  hooks.onChange();
}

async function refreshOne(entry, hooks) {
  try {
    entry.info = await api("GET", `/api/games/${entry.id}`, { token: tokenFor(entry.id) });
  } catch {
    return;
  }
  hooks.onChange();
}

/** What the table shows: the live socket's figures when there is one, else the API's. */
export function display(entry) {
  const info = entry.info;
  const live = entry.socket && entry.live ? entry.live : null;
  const pick = (key) => (live && key in live ? live[key] : info[key]);
  const seats = info.seats.map((s) => ({
    ...s,
    online: live && live.online ? live.online.includes(s.role) : s.online,
    submitted: live && live.submitted ? live.submitted.includes(s.role) : s.submitted,
  }));
  return {
    status: pick("status"),
    round: pick("round"),
    total: live && live.total_rounds ? live.total_rounds : info.total_rounds,
    deadline: pick("deadline"),
    pausedRemaining: pick("paused_remaining"),
    seats,
  };
}
