// The dashboard's actions on games: one game's buttons (start, pause, resume, close the round,
// +1 min, end, bots, details, projector, restore), a seat's (a bot or a person, a reset with a new
// code), and the same actions on every game shown at once.

import { api } from "./client.js";
import { sessionToken, tokenFor } from "./dash-auth.js";
import { copyButton } from "./dash-panels.js";
import { showProjector } from "./dash-projector.js";
import { APPLIES, titleOf as titleOfGame } from "./dash-table.js";
import { display } from "./dash-watch.js";
import { el } from "./dom.js";
import { humanize } from "./format.js";
import { roleName } from "./kinds.js";

const $ = (id) => document.getElementById(id);
const DONE_WORDS = {
  start: "started", pause: "paused", resume: "resumed", "close-round": "round closed",
  extend: "deadline extended by a minute", end: "ended", bots: "bots on the empty seats",
};

function titleOf(entry) {
  return titleOfGame(entry.info);
}

/**
 * The actions, for the dashboard's game entries. `say(text, problem)` tells the facilitator;
 * `onChange()` redraws, `onWatch()` starts or stops the watches, `onDetails(gameId)` opens a
 * game's details, `onLinks()` marks the join links changed, `refresh()` reads the list again.
 */
export class GameActions {
  constructor({ say, onChange, onWatch, onDetails, onLinks, refresh }) {
    this.say = say;
    this.onChange = onChange;
    this.onWatch = onWatch;
    this.onDetails = onDetails;
    this.onLinks = onLinks;
    this.refresh = refresh;
  }

  /** One game's button: details, projector, restore, or an action of the API. */
  async onAction(entry, action) {
    if (action === "details") {
      this.onDetails(entry.id);
      return;
    }
    if (action === "projector") {
      showProjector(entry.id, tokenFor(entry.id));
      return;
    }
    if (action === "restore") {
      entry.forceWatch = true;
      this.onWatch();
      this.say(`${titleOf(entry)}: bringing it back into memory…`);
      return;
    }
    if (action === "end" && !confirm(`End ${titleOf(entry)} now? Players cannot decide any more.`)) return;
    let body = action === "extend" ? { extend: 60 } : undefined;
    if (action === "bots") body = { policy: $(`policy-${entry.id}`).value };
    const path = action === "extend" ? "deadline" : action;
    try {
      entry.info = await api("POST", `/api/games/${entry.id}/${path}`, { token: tokenFor(entry.id), body });
      this.say(`${titleOf(entry)}: ${DONE_WORDS[action]}.`);
    } catch (err) {
      this.say(`${titleOf(entry)}: ${err.message}`, true);
    }
    this.onWatch();
    this.onChange();
  }

  /** A seat's button: hand it to a bot of the chosen policy, or back to a person. */
  async onSeat(entry, role) {
    const seat = entry.info.seats.find((s) => s.role === role);
    const path = `/api/games/${entry.id}/seats/${encodeURIComponent(role)}/bot`;
    try {
      if (seat && seat.bot) {
        entry.info = await api("DELETE", path, { token: tokenFor(entry.id) });
        this.say(`${titleOf(entry)}: the ${role} seat is back with a person.`);
      } else {
        const policy = $(`policy-${entry.id}`).value;
        entry.info = await api("PUT", path, { token: tokenFor(entry.id), body: { policy, params: {} } });
        this.say(`${titleOf(entry)}: a ${policy} bot plays the ${role} seat.`);
      }
    } catch (err) {
      this.say(`${titleOf(entry)}: ${err.message}`, true);
    }
    this.onChange();
  }

  /** A student lost their seat (new device, cleared browser): a new code for it, after a yes. */
  async onReset(entry, role) {
    const seat = entry.info.seats.find((s) => s.role === role);
    const who = seat && seat.name ? ` (${seat.name})` : "";
    if (!confirm(`Reset the ${roleName(role)} seat${who} of ${titleOf(entry)}?\n\n`
      + "Whoever is on it now is disconnected and their link stops working. "
      + "The seat gets a new join code for the student to join again; decisions already made stay.")) return;
    try {
      entry.info = await api("POST", `/api/games/${entry.id}/seats/${encodeURIComponent(role)}/reset`, {
        token: tokenFor(entry.id),
      });
    } catch (err) {
      this.say(`${titleOf(entry)}: ${err.message}`, true);
      return;
    }
    const link = entry.info.join.find((l) => l.role === role);
    const notice = $("notice");
    notice.classList.remove("error");
    if (!link) {
      notice.textContent = `${titleOf(entry)}: the ${role} seat was reset.`;
    } else {
      notice.replaceChildren(el("span", { class: "new-link", "data-testid": "reset-link" },
        `${titleOf(entry)}: the ${role} seat was reset. New code `,
        el("span", { class: "code", "data-testid": "reset-code" }, link.code), " · ",
        el("a", { href: link.url, target: "_blank", rel: "noopener" }, link.url),
        copyButton(link.url, `Copy the new ${role} link of ${titleOf(entry)}`, () => {})));
    }
    this.onLinks(); // the join links show the new code
    this.onChange();
  }

  /** An action on every game shown (`entries`) that can take it; a class's at once. */
  async onBulk(action, entries) {
    const shown = entries.filter((e) => APPLIES[action].includes(display(e).status));
    if (!shown.length) {
      this.say(`No game shown can ${action === "extend" ? "get more time" : action.replace("-", " ")} now.`);
      return;
    }
    if (action === "end" && !confirm(`End ${shown.length} games now?`)) return;
    const body = action === "extend" ? { extend: 60 } : undefined;
    const path = action === "extend" ? "deadline" : action;
    const filter = $("filter").value;
    const failures = [];
    let done = 0;
    if (filter.startsWith("session:")) {
      const sid = filter.slice(8);
      try {
        const out = await api("POST", `/api/sessions/${sid}/${path}`, { token: sessionToken(sid), body });
        for (const r of out.results) {
          if (r.ok) done += 1;
          else if (shown.some((e) => e.id === r.game_id)) failures.push(`${r.game_id}: ${r.error}`);
        }
      } catch (err) {
        failures.push(err.message);
      }
    } else {
      await Promise.all(shown.map(async (entry) => {
        try {
          entry.info = await api("POST", `/api/games/${entry.id}/${path}`, { token: tokenFor(entry.id), body });
          done += 1;
        } catch (err) {
          failures.push(`${titleOf(entry)}: ${err.message}`);
        }
      }));
    }
    this.say(`${humanize(DONE_WORDS[action])} in ${done} game${done === 1 ? "" : "s"}.${failures.length ? ` Not done: ${failures.join("; ")}` : ""}`, failures.length > 0);
    await this.refresh();
  }
}
