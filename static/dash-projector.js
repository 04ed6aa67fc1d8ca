// The projector view of a debrief: one game's debrief over the whole screen in large type, for
// the back of a classroom. It opens from the dashboard with one click (a game's "Projector"
// button, in its row and in its details) and reads the game with the dashboard's credential,
// which stays in the dashboard's memory and storage: nothing of it goes into a URL.

import { api } from "./client.js";
import { el } from "./dom.js";
import { kindTitle, roundWord } from "./kinds.js";
import { renderDebrief } from "./debrief.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000; // a game in progress: the debrief follows its rounds

let opener = null;
let timer = null;
let shown = null; // { gameId, token, signature }

function onKey(event) {
  if (event.key === "Escape") closeProjector();
}

function signatureOf(info) {
  return `${info.status}:${info.round}`;
}

async function draw() {
  if (!shown) return;
  const { gameId, token } = shown;
  let info;
  try {
    info = await api("GET", `/api/games/${gameId}?view=1`, { token });
  } catch (err) {
    $("projector-status").textContent = `The game cannot be read: ${err.message}`;
    return;
  }
  if (!shown || shown.gameId !== gameId) return;
  $("projector-status").textContent = "";
  const signature = signatureOf(info);
  if (signature === shown.signature) return;
  shown.signature = signature;
  const word = roundWord(info.kind);
  const title = info.title || `Game ${info.game_id}`;
  $("projector-heading").textContent = title;
  $("projector-line").textContent = info.view && info.view.over
    ? `${kindTitle(info.kind)} · ${info.round} ${word}s played · over`
    : `${kindTitle(info.kind)} · ${info.round} of ${info.total_rounds} ${word}s played so far`;
  $("projector-body").replaceChildren(info.round > 0 && info.view
    ? renderDebrief(info.kind, info.view, { heading: info.view.over ? "Debrief" : "So far", level: "h2" })
    : el("p", { class: "lead" }, `No ${word} played yet.`));
}

/** Show the debrief of `gameId` full-screen, read with `token`; Escape or Close returns. */
export async function showProjector(gameId, token, from = document.activeElement) {
  const section = $("projector");
  if (!section.dataset.ready) {
    section.dataset.ready = "1";
    $("projector-close").addEventListener("click", closeProjector);
    $("projector-full").addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else section.requestFullscreen().catch(() => {});
    });
  }
  opener = from;
  shown = { gameId, token, signature: "" };
  $("projector-heading").textContent = "Loading…";
  $("projector-body").replaceChildren();
  section.hidden = false;
  document.documentElement.classList.add("projector-open");
  document.addEventListener("keydown", onKey);
  window.scrollTo(0, 0);
  $("projector-heading").focus();
  clearInterval(timer);
  timer = setInterval(draw, REFRESH_MS);
  await draw();
}

export function closeProjector() {
  clearInterval(timer);
  timer = null;
  shown = null;
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  $("projector").hidden = true;
  document.documentElement.classList.remove("projector-open");
  document.removeEventListener("keydown", onKey);
  if (opener && opener.isConnected) opener.focus();
  opener = null;
}
