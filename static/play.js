// The player page: join (a seat's link, a typed code, or an open code plus a free role; the form
// is play-join.js), then play. The seat token is kept in localStorage per game, so a reload or a
// laptop that slept resumes the seat; a decision not yet acknowledged is kept there too and sent
// (again, with the same message id) once the connection is back (play-seats.js keeps both,
// play-outbox.js sends and resends the decision). The protocol makes such resends harmless, as it
// makes a join retried with the same join id (client.js keeps one per join code) get its seat back.

import { GameSocket, ServerClock, applyViewUpdate, newId } from "./client.js";
import { at, fmtAs, fmtDuration, humanize } from "./format.js";
import { displayOf, ensureKind, fetchKinds, kindOf, kindTitle, roleName, roundWord } from "./kinds.js";
import { renderDebrief } from "./debrief.js";
import { Lobby } from "./lobby.js";
import { buildDecisionFields, readDecision, showDecisionError } from "./play-decision.js";
import { setUpJoin, showJoin } from "./play-join.js";
import { Outbox } from "./play-outbox.js";
import { forgetSeat, gameIdOf, keepSeat, savedOutbox, savedSeat } from "./play-seats.js";
import {
  briefing, decisionState, defaultedWords, figureItems, gameNote, historyCharts, roundLine,
  statusWords,
} from "./play-view.js";
import { ERROR, IN_PROGRESS, STATUS } from "/protocol.js";

const $ = (id) => document.getElementById(id);
const OVER = new Set([STATUS.FINISHED, STATUS.ENDED]);

const game = {
  gameId: null,
  role: null,
  kind: null,
  status: null,
  round: 0,
  openRound: 1,
  announced: null,
  view: null,
  viewRound: null, // the rounds played when `view` was made: what a round's update applies to
  submitted: [],
  online: [],
  roles: [],
  bots: [], // roles a server-side bot plays for now
  deadline: null,
  pausedRemaining: null,
  confirmed: null, // {round, decision, id}: the server has it, durably
  outbox: null, // {round, id, decision}: made here, not acknowledged yet
  notice: "",
  defaulted: null, // what the last closed round used for this seat, which had no decision
};
const clock = new ServerClock();
const outbox = new Outbox(game, () => socket);
let seat = null; // {gameId, code, token, role, name, classId?, team?, rejoin?}
let lobby = null; // the class's lobby, when the page was opened from a class link
let announced = 0; // the number of the last class message shown
let socket = null;
let connection = { state: "idle", retryAt: 0 };
let joined = false; // a welcome came on the current connection
let lastRendered = "";

// -- joining ------------------------------------------------------------------------------

function resumeSeat(saved) {
  connect({ ...saved });
}

function connect(newSeat) {
  if (socket) socket.stop();
  seat = newSeat;
  lastRendered = "";
  botShown = false;
  game.gameId = seat.gameId;
  game.outbox = savedOutbox(seat.gameId);
  socket = new GameSocket({
    // view_updates: each round brings what changed in the view, not the whole view, which grows
    // with the game (docs/protocol.md).
    hello: () => (seat.token ? { token: seat.token, view_updates: true } : {
      join: seat.code,
      view_updates: true,
      ...(seat.name ? { name: seat.name } : {}),
      ...(seat.role ? { role: seat.role } : {}),
    }),
    onMessage,
    onState,
  });
  socket.start();
}

// -- the connection -----------------------------------------------------------------------

const RESET_WORDS = "Your seat was reset by the facilitator; ask for a new code.";
const RETRY_LOBBY_MS = 3000; // a class's seat token refused: ask the lobby again after this

/**
 * The stored token no longer opens the seat (the facilitator reset it, or the game is gone):
 * forget it, so no reload or reconnection tries it again, and show the join form. A seat's own
 * code died with the reset; a game's open code still works to pick a free role.
 */
function seatLost(message) {
  const lost = seat;
  if (lost.classId && lobby) {
    // A class's seat: the lobby knows where the student sits now (moved, or a reset put right).
    socket.stop();
    game.outbox = null;
    $("game-section").hidden = true;
    $("debrief").replaceChildren();
    lobby.resume(connection.state === "refused" ? RETRY_LOBBY_MS : 0);
    return;
  }
  forgetSeat(lost.gameId);
  game.outbox = null;
  outbox.stopResending();
  const code = lost.open ? lost.code : "";
  const url = new URL(location.href);
  if (!code && url.searchParams.has("code")) {
    url.searchParams.delete("code");
    history.replaceState(null, "", url);
  }
  seat = null;
  $("game-title").textContent = "Play";
  $("seat-line").textContent = "";
  document.title = "Play";
  $("game-section").hidden = true;
  $("debrief").replaceChildren();
  $("superseded").hidden = true;
  showJoin(code, message);
  $("join-button").disabled = false;
}

function onState(state, info) {
  // Coming back after a lost connection is still being offline, as far as the player can tell.
  connection = state === "connecting" && info.reconnecting
    ? { state: "offline", reconnecting: true }
    : { state, ...info };
  if (state === "connecting") joined = false;
  if (state === "superseded" && seat && info.error && info.error.code === ERROR.SEAT_RESET) {
    // CLOSE.SEAT_RESET after a reset: the token is dead, coming back with it would only be refused
    connection = { state: "reset" };
    seatLost(seat.open
      ? "Your seat was reset by the facilitator; choose a free role to join again, or ask for a new code."
      : RESET_WORDS);
    renderConnection();
    return;
  }
  if (state === "refused") {
    const error = info.error || {};
    if (seat && seat.token) {
      seatLost(error.code === ERROR.BAD_TOKEN
        ? "Your seat could not be resumed: the facilitator reset it, or the game was deleted. Ask for a new code."
        : `Your seat could not be resumed (${error.message || error.code}). Join again with your code.`);
    } else {
      showJoin(seat ? seat.code : "", error.message || "Could not join.");
    }
    $("join-button").disabled = false;
  }
  if (state === "deleted" && seat) {
    forgetSeat(seat.gameId);
  }
  if (state === "superseded") $("superseded").hidden = false;
  if (state === "online") $("superseded").hidden = true;
  renderConnection();
  renderDecision();
}

function renderConnection() {
  const box = $("connection");
  const { state } = connection;
  box.dataset.state = state;
  // The close of the last connection that was open, for tests (failed attempts keep it).
  if (connection.code) box.dataset.closeCode = String(connection.code);
  const words = {
    idle: "Not joined yet",
    connecting: "Connecting…",
    online: "Connected",
    offline: "Offline: reconnecting",
    superseded: "Open in another window",
    refused: "Not joined",
    reset: "Seat reset",
    deleted: "This game was deleted",
  };
  $("connection-text").textContent = words[state] || state;
  $("retry-now").hidden = state !== "offline";
}

function onMessage(message) {
  switch (message.type) {
    case "welcome":
      joined = true;
      if (message.token) seat.token = message.token;
      seat.role = message.role;
      seat.gameId = message.game_id;
      game.gameId = message.game_id;
      game.role = message.role;
      keepSeat(seat);
      $("join-section").hidden = true;
      $("game-section").hidden = false;
      $("join-button").disabled = false;
      break;
    case "sync":
      applyFigures(message);
      game.defaulted = message.defaulted ?? null;
      game.view = message.view;
      game.viewRound = message.round;
      game.confirmed = message.decision
        ? { round: message.open_round, decision: message.decision, id: message.decision_id }
        : null;
      outbox.reconcile();
      render(true);
      break;
    case "round":
      applyFigures(message);
      game.defaulted = message.defaulted ?? null;
      if (!message.view_update) {
        game.view = message.view;
        game.viewRound = message.round;
      } else if (game.view && game.viewRound === message.round - 1) {
        game.view = applyViewUpdate(game.view, message.view_update);
        game.viewRound = message.round;
      } else {
        socket.send({ type: "sync" }); // not the view this updates: the sync brings the whole one
      }
      game.confirmed = null;
      game.notice = "";
      if (document.activeElement !== $("decision-input")) $("decision-input").value = "";
      announceRound();
      render(true);
      break;
    case "status": {
      const before = game.status;
      applyFigures(message);
      if (before !== game.status) announce(statusWords(game.status));
      if (game.status === STATUS.RUNNING) outbox.send();
      render(false);
      break;
    }
    case "progress":
      game.submitted = message.submitted || [];
      game.online = message.online || [];
      // `progress` does not say who is a bot. Our seat decided without us: a bot was given it,
      // so ask for a sync, which says so (and shows the bot's decision).
      if (game.submitted.includes(game.role) && !game.outbox
        && !(game.confirmed && game.confirmed.round === game.openRound)) {
        socket.send({ type: "sync" });
      }
      render(false);
      break;
    case "ack":
      if (outbox.ack(message)) render(false);
      break;
    case "error":
      if (joined) {
        outbox.error(message);
        render(false);
      }
      break;
    case "announcement":
      showAnnouncement(message);
      break;
    default:
      break;
  }
}

function applyFigures(message) {
  for (const [field, key] of [
    ["status", "status"], ["round", "round"], ["openRound", "open_round"],
    ["announced", "announced_rounds"], ["submitted", "submitted"], ["online", "online"],
    ["roles", "roles"], ["bots", "bots"], ["deadline", "deadline"],
    ["pausedRemaining", "paused_remaining"],
  ]) {
    if (key in message) game[field] = message[key];
  }
  if (message.kind) game.kind = message.kind;
  if (message.role) game.role = message.role;
  clock.update(message.server_time);
}

// -- decisions ----------------------------------------------------------------------------

function onDecide(event) {
  event.preventDefault();
  const decision = readDecision(displayOf(game.kind), game.view);
  if (!decision) return;
  game.notice = "";
  outbox.set({ round: game.openRound, id: newId("d"), decision });
  outbox.send();
  render(false);
}

// -- rendering ----------------------------------------------------------------------------

function announce(text) {
  $("announce").textContent = text;
}

/** Said to a screen reader when a round opens: the round and the game's first figures. */
function announceRound() {
  const view = game.view || {};
  const display = displayOf(game.kind);
  let text = `${humanize(roundWord(game.kind))} ${game.openRound} started.`;
  if (game.status === STATUS.FINISHED) text = "The game is over. The debrief is below.";
  else {
    const figures = (display.figures || []).slice(0, 3)
      .map((f) => `${f.label.toLowerCase()} ${fmtAs(f.format, at(view, f.key))}`);
    if (figures.length) text += ` ${humanize(figures.join(", "))}.`;
  }
  const defaulted = defaultedWords(game);
  announce(defaulted ? `${defaulted} ${text}` : text);
}

function renderDefaulted() {
  const text = defaultedWords(game);
  const box = $("defaulted-notice");
  box.hidden = !text;
  box.dataset.round = text ? String(game.round) : "";
  if ($("defaulted-text").textContent !== text) $("defaulted-text").textContent = text;
}

let botShown = false;

/** The notice that a server-side bot plays this seat for now (the player may still be here). */
function renderBot() {
  const over = OVER.has(game.status);
  const bot = !over && (game.bots || []).includes(game.role);
  $("bot-notice").hidden = !bot;
  if (bot !== botShown) {
    botShown = bot;
    announce(bot
      ? "A bot is playing your seat for now; the facilitator can hand it back."
      : "Your seat is yours again: you decide.");
  }
  return bot;
}

function renderDecision() {
  const status = $("decision-status");
  if (!game.view) return;
  const bot = renderBot();
  $("decide-card").hidden = OVER.has(game.status);
  $("decision-submit").disabled = bot || !IN_PROGRESS.includes(game.status);
  for (const input of document.querySelectorAll("#decide-form input")) input.disabled = bot;
  const { state, value, text } = decisionState(game, Boolean(socket && socket.ready), displayOf(game.kind));
  status.dataset.state = state;
  status.dataset.value = value;
  status.dataset.round = String(game.openRound);
  if (status.textContent !== text) status.textContent = text;
  $("decision-submit").textContent = state === "submitted" ? "Change" : "Submit";
}

/** Redraw; `full` also redraws figures and charts (a new view). */
function render(full) {
  const view = game.view;
  if (!view) return;
  if (game.kind && !kindOf(game.kind)) {
    // drawn from the kind's declarations: ask for them first (a model added since the page opened)
    ensureKind(game.kind).then(() => render(true)).catch(() => null);
    return;
  }
  const display = displayOf(game.kind);
  const title = kindTitle(game.kind);
  $("game-title").textContent = title;
  const team = seat && seat.team ? ` · team ${seat.team}` : "";
  const rejoin = seat && seat.rejoin ? ` · rejoin code ${seat.rejoin}` : "";
  $("seat-line").textContent = `${roleName(game.role || "", game.kind)}${seat && seat.name ? ` · ${seat.name}` : ""}${team} · game ${game.gameId}${rejoin}`;
  $("round-line").textContent = roundLine(game, display);
  $("round-line").dataset.round = String(game.round);
  $("briefing").textContent = briefing(display, game.role, game.kind);
  $("game-note").textContent = gameNote(game, view, display);
  document.title = `${roleName(game.role || "", game.kind)}: ${roundLine(game, display)} · ${title}`;
  if (full) {
    buildDecisionFields(game, display, view);
    $("figures").replaceChildren(...figureItems(display, view));
    const key2 = JSON.stringify([game.round, game.status]);
    if (key2 !== lastRendered) {
      lastRendered = key2;
      $("charts").replaceChildren(...historyCharts(display, view));
      const debrief = $("debrief");
      if (view.debrief) {
        debrief.replaceChildren(renderDebrief(game.kind, view.debrief, {
          own: game.role, heading: "Debrief: the whole team",
        }));
      } else {
        debrief.replaceChildren();
      }
    }
  }
  renderDefaulted();
  renderDecision();
  tick();
}

function tick() {
  const box = $("deadline");
  let text = "";
  let urgent = false;
  if (game.status === STATUS.RUNNING && typeof game.deadline === "number") {
    const left = clock.secondsUntil(game.deadline);
    text = left > 0 ? `Closes in ${fmtDuration(left)}` : "Closing…";
    urgent = left < 15;
  } else if (game.status === STATUS.PAUSED) {
    text = typeof game.pausedRemaining === "number"
      ? `Paused (${fmtDuration(game.pausedRemaining)} left when it resumes)`
      : "Paused";
  } else if (game.status === STATUS.CREATED) {
    text = "Not started yet";
  }
  if (box.textContent !== text) box.textContent = text;
  box.classList.toggle("urgent", urgent);
  // the countdown is left out of the live region: a screen reader hears "Offline" once
  const seconds = Math.ceil((connection.retryAt - Date.now()) / 1000);
  const retry = connection.state === "offline" && seconds > 0 ? ` in ${seconds} s` : "";
  if ($("connection-retry").textContent !== retry) $("connection-retry").textContent = retry;
}

// -- start --------------------------------------------------------------------------------

/** The facilitator's message to the class, shown once (by its number) above the game. */
function showAnnouncement(message) {
  if (!message || message.number <= announced) return;
  announced = message.number;
  $("announcement-text").textContent = message.text;
  $("announcement").hidden = false;
  announce(`From your facilitator: ${message.text}`);
}

/** Opened from a class link: the lobby seats the student, then the game goes as usual. */
function startClass(classId) {
  lobby = new Lobby(classId, {
    onSeat: (place, student) => connect({
      gameId: place.game_id, code: null, token: place.token, role: place.role, name: student.name,
      classId, team: place.team, rejoin: student.rejoin_code,
    }),
    onMessage: showAnnouncement,
  });
  lobby.start();
}

function init() {
  setUpJoin(connect);
  $("decide-form").addEventListener("submit", onDecide);
  $("retry-now").addEventListener("click", () => socket && socket.retryNow());
  $("take-back").addEventListener("click", () => {
    $("superseded").hidden = true;
    socket.start();
  });
  $("decision-input").addEventListener("input", () => showDecisionError(""));
  setInterval(tick, 250);
  fetchKinds().catch(() => null); // drawn from once a game is joined; asked again if it failed
  const params = new URLSearchParams(location.search);
  const classId = (params.get("class") || "").trim().toUpperCase();
  if (classId) {
    startClass(classId);
    return;
  }
  const code = (params.get("code") || "").trim().toUpperCase();
  const saved = code ? savedSeat(gameIdOf(code)) : null;
  if (saved && saved.token) resumeSeat(saved);
  else showJoin(code);
}

init();
