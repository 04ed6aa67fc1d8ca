// The dashboard's details of one game: where it is and how far, its facilitator token, the export
// (CSV, JSON), the projector view, a clone from any played round, its join links while it runs,
// its results table and its debrief ("So far" mid-game).

import { api } from "./client.js";
import { saveTokens, tokenFor, tokens } from "./dash-auth.js";
import { copyButton, downloadExport, linksTable, resultsTable } from "./dash-panels.js";
import { showProjector } from "./dash-projector.js";
import { renderDebrief } from "./debrief.js";
import { el } from "./dom.js";
import { kindTitle, roundWord } from "./kinds.js";
import { IN_PROGRESS } from "/protocol.js";

const $ = (id) => document.getElementById(id);

/**
 * The details section. `say(text, problem)` tells the facilitator, `refresh()` reloads the list
 * (a clone is a new game), `titleOf(gameId)` names a listed game.
 */
export class GameDetails {
  constructor({ say, refresh, titleOf }) {
    this.say = say;
    this.refresh = refresh;
    this.titleOf = titleOf;
  }

  async download(gameId, format) {
    try {
      this.say(`Downloaded ${await downloadExport(gameId, tokenFor(gameId), format)}.`);
    } catch (err) {
      this.say(`Export of ${gameId} failed: ${err.message}`, true);
    }
  }

  async show(gameId) {
    const say = this.say;
    const section = $("detail");
    const bodyNode = $("detail-body");
    section.hidden = false;
    $("detail-heading").textContent = `${this.titleOf(gameId)}: loading…`;
    let info;
    try {
      info = await api("GET", `/api/games/${gameId}?view=1`, { token: tokenFor(gameId) });
    } catch (err) {
      bodyNode.replaceChildren(el("p", { class: "error" }, err.message));
      return;
    }
    const word = roundWord(info.kind);
    $("detail-heading").textContent = `${info.title || `Game ${info.game_id}`} (${info.game_id})`;
    const cloneInput = el("input", {
      id: "clone-round", type: "number", min: "0", max: String(info.round), value: String(info.round), inputmode: "numeric",
    });
    const cloneForm = el("form", { class: "form-row", "data-testid": "clone-form" },
      el("div", { class: "field" }, el("label", { for: "clone-round" }, `Clone from the end of ${word}`), cloneInput),
      el("div", { class: "field" }, el("button", { type: "submit" }, "Clone")));
    cloneForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await api("POST", `/api/games/${gameId}/clone`, {
          token: tokenFor(gameId), body: { round: Number(cloneInput.value) },
        });
        tokens.games[made.game_id] = made.facilitator_token;
        saveTokens();
        say(`Cloned into ${made.game_id}; start it when the players have joined.`);
        await this.refresh();
        this.show(made.game_id);
      } catch (err) {
        say(`Clone failed: ${err.message}`, true);
      }
    });
    const token = tokens.games[gameId];
    const where = info.active ? (info.restored ? "in memory, restored after a restart" : "in memory") : "stored only (not in memory)";
    bodyNode.replaceChildren(el("div", {},
      el("p", {}, `${kindTitle(info.kind)} · ${info.status} · ${info.round} of ${info.total_rounds} ${word}s played · ${where}`
        + (info.cloned_from ? ` · cloned from ${info.cloned_from.game_id} at ${word} ${info.cloned_from.round}` : "")),
      token ? el("p", {}, "Facilitator token of this game: ", el("span", { class: "token" }, token), " ",
        copyButton(token, `Copy the facilitator token of ${info.game_id}`, say)) : null,
      el("div", { class: "toolbar" },
        el("button", { type: "button", onclick: () => this.download(gameId, "csv") }, "Export CSV"),
        el("button", { type: "button", onclick: () => this.download(gameId, "json") }, "Export JSON"),
        info.round > 0 ? el("button", {
          type: "button", "data-testid": "detail-projector",
          "aria-label": `The debrief of ${info.title || info.game_id} in large type, full screen, for the projector`,
          onclick: (event) => showProjector(gameId, tokenFor(gameId), event.currentTarget),
        }, "Projector view") : null,
        el("button", { type: "button", onclick: () => this.show(gameId) }, "Refresh"),
        el("button", { type: "button", onclick: () => { section.hidden = true; } }, "Close")),
      cloneForm,
      IN_PROGRESS.includes(info.status) ? el("details", {}, el("summary", {}, "Join links"), linksTable(info, say)) : null,
      resultsTable(info),
      info.round > 0 && info.view
        ? renderDebrief(info.kind, info.view, { heading: info.view.over ? "Debrief" : "So far", level: "h3" })
        : el("p", { class: "muted" }, `No ${word} played yet.`)));
    $("detail-heading").focus();
  }
}
