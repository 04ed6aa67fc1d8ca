// The dashboard's class panel: the class link and its QR code (for the projector), who has
// joined and who waits, the roster to pick names from, forming the teams, moving students
// between seats and teams (before and during play), a message to the whole class, bots for
// every empty seat, the export of the whole class, and the teams' charts over time
// (static/dash-trends.js). It reads GET /api/sessions/{id} every few
// seconds; every change is one request of the class's API (docs/api.md, "A class's lobby").

import { api } from "./client.js";
import { copyText, el } from "./dom.js";
import { roleName } from "./kinds.js";
import { classTrends } from "./dash-trends.js";
import { qrSvg } from "./qr.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2500;

/** Download what `path` answers (the API wants the Authorization header, so as a blob). */
export async function downloadFile(path, token, filename) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return filename;
}

export class ClassPanel {
  /** `tokenFor(sessionId)` gives the credential for the class; `say(text, problem)` reports. */
  constructor({ tokenFor, say, onChange }) {
    this.tokenFor = tokenFor;
    this.say = say;
    this.onChange = onChange || (() => {});
    this.sessionId = null;
    this.detail = null;
    this.version = -1;
    this.timer = null;
    this.built = null; // the class the panel's controls were built for
    this.trendsSignature = ""; // the rounds the charts were drawn for
  }

  get path() {
    return `/api/sessions/${this.sessionId}`;
  }

  async call(method, suffix, body) {
    return api(method, this.path + suffix, { token: this.tokenFor(this.sessionId), body });
  }

  /** Show the class `sessionId` (null hides the panel). */
  async show(sessionId) {
    if (sessionId === this.sessionId) return;
    this.sessionId = sessionId;
    this.version = -1;
    this.detail = null;
    clearInterval(this.timer);
    $("class-section").hidden = true;
    if (!sessionId) return;
    await this.refresh();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  async refresh() {
    const sessionId = this.sessionId;
    let detail;
    try {
      detail = await this.call("GET", "");
    } catch (err) {
      if (sessionId === this.sessionId) $("class-status").textContent = `The class cannot be read: ${err.message}`;
      return;
    }
    if (sessionId !== this.sessionId) return;
    if (!detail.lobby) {
      $("class-section").hidden = true; // a class made before lobbies
      return;
    }
    this.render(detail);
  }

  render(detail) {
    this.detail = detail;
    const lobby = detail.lobby;
    $("class-section").hidden = false;
    if (this.built !== this.sessionId) this.build(lobby);
    const games = detail.games;
    const waiting = lobby.students.filter((s) => !s.game_id);
    $("class-counts").textContent = `${lobby.students.length} students · ${waiting.length} waiting · ${lobby.teams.length} teams`;
    $("class-counts").dataset.students = String(lobby.students.length);
    $("class-counts").dataset.waiting = String(waiting.length);
    $("class-counts").dataset.teams = String(lobby.teams.length);
    const roles = games.length ? games[0].seats.map((s) => s.role) : [];
    $("form-teams-rule").textContent = formRule(waiting.length, roles.length || 4);
    $("form-teams").disabled = waiting.length === 0;
    const rosterBox = $("class-roster");
    if (document.activeElement !== rosterBox && rosterBox.dataset.version !== String(lobby.version)) {
      rosterBox.value = (lobby.roster || []).join("\n");
      rosterBox.dataset.version = String(lobby.version);
    }
    if (lobby.message) $("class-last-message").textContent = `Last message: “${lobby.message.text}”`;
    if (lobby.version !== this.version || this.gamesSignature !== signature(games)) {
      this.version = lobby.version;
      this.gamesSignature = signature(games);
      this.renderStudents(lobby, games);
    }
    const rounds = games.map((g) => `${g.game_id}:${g.round}:${g.status}`).join(",");
    if (rounds !== this.trendsSignature) {
      this.trendsSignature = rounds;
      this.renderTrends(lobby, games);
    }
  }

  /** The teams over time: their views are read only when a round has closed somewhere. */
  async renderTrends(lobby, games) {
    const sessionId = this.sessionId;
    // the class's games come in team order; a clone is named by its title
    const teams = games.map((game) => {
      const n = lobby.teams.indexOf(game.game_id);
      return { label: n >= 0 ? `Team ${n + 1}` : game.title || game.game_id, game };
    });
    const kind = teams.length ? teams[0].game.kind : null;
    const box = $("class-trends");
    if (!kind || !teams.some((t) => t.game.round > 0)) {
      box.replaceChildren(el("p", { class: "muted" }, "The charts appear once a team has played a round."));
      return;
    }
    const token = this.tokenFor(sessionId);
    const loaded = await Promise.all(teams.map((t) => (t.game.round > 0
      ? api("GET", `/api/games/${t.game.game_id}?view=1`, { token }).catch(() => null)
      : null)));
    if (sessionId !== this.sessionId) return;
    box.replaceChildren(...classTrends(kind, teams.map((t, i) => ({ label: t.label, info: loaded[i] }))));
  }

  /** The panel's controls, built once per class (so a poll never takes the focus away). */
  build(lobby) {
    this.built = this.sessionId;
    const link = lobby.link;
    $("class-heading").textContent = `Class ${this.sessionId}`;
    const large = el("button", { type: "button", "data-testid": "class-qr-large", onclick: () => this.showLarge(link) }, "Show large for the projector");
    const copy = el("button", {
      type: "button",
      onclick: async () => this.say(await copyText(link) ? "Copied the class link." : "Copying is not allowed here; select the link."),
    }, "Copy link");
    const forming = (value, text, checked) => el("div", { class: "check" },
      el("input", { type: "radio", name: "team-forming", id: `forming-${value}`, value, checked }),
      el("label", { for: `forming-${value}` }, text));
    const message = el("input", { id: "class-message", maxlength: "500", placeholder: "e.g. Two minutes left: please decide now", "aria-label": "Message to the whole class" });
    $("class-body").replaceChildren(
      el("div", { class: "class-link" },
        el("div", { class: "qr-box", "data-testid": "class-qr" }, qrSvg(link, `QR code of the class link: ${link}`)),
        el("div", {},
          el("p", { class: "help" }, "One link for the whole class: students open it (or scan the code), enter their name and wait here until you form the teams."),
          el("p", {}, el("a", { href: link, target: "_blank", rel: "noopener", class: "link-url", "data-testid": "class-link" }, link)),
          el("div", { class: "toolbar" }, copy, large),
          el("p", { id: "class-counts", class: "you", "data-testid": "class-counts", role: "status" }),
          el("p", { id: "class-status", class: "notice-area", role: "status", "aria-live": "polite" }))),
      el("h3", {}, "Teams"),
      el("div", { class: "toolbar", role: "group", "aria-label": "How the teams are formed" },
        forming("arrival", "As the students arrived", true), forming("random", "At random", false),
        el("button", { type: "button", class: "primary", id: "form-teams", "data-testid": "form-teams", onclick: () => this.formTeams() }, "Form teams")),
      el("p", { id: "form-teams-rule", class: "help" }),
      el("div", { class: "table-wrap" }, el("table", { class: "data", "data-testid": "class-students" },
        el("caption", {}, "Students: move one with the seat list (a student on that seat swaps; a seat left empty gets a bot)"),
        el("thead", {}, el("tr", {}, ["#", "Name", "Rejoin code", "Seat", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", { id: "class-students-body" }))),
      el("h3", {}, "Teams over time"),
      el("div", { id: "class-trends", "data-testid": "class-trends" }),
      el("h3", {}, "Message to the class"),
      el("form", { class: "toolbar", onsubmit: (event) => { event.preventDefault(); this.sendMessage(); } },
        message, el("button", { type: "submit", "data-testid": "class-send" }, "Send to everyone")),
      el("p", { id: "class-last-message", class: "muted" }),
      el("h3", {}, "Tools"),
      el("div", { class: "toolbar" },
        el("button", { type: "button", "data-testid": "class-bots", onclick: () => this.bots() }, "Bots for every empty seat"),
        el("button", { type: "button", "data-testid": "class-export-csv", onclick: () => this.download("csv") }, "Export class CSV"),
        el("button", { type: "button", "data-testid": "class-export-json", onclick: () => this.download("json") }, "Export class JSON")),
      el("details", {},
        el("summary", {}, "Names to pick from (a roster)"),
        el("p", { class: "help" }, "Paste the class list, one name per line: students then pick their name instead of typing it. Empty: students type any name."),
        el("textarea", { id: "class-roster", rows: "6", "aria-label": "The class's names, one per line" }),
        el("div", { class: "toolbar" },
          el("button", { type: "button", "data-testid": "class-roster-save", onclick: () => this.saveRoster() }, "Save the list"))));
  }

  renderStudents(lobby, games) {
    const options = [{ value: "", text: "Waiting" }];
    for (const [n, gameId] of lobby.teams.entries()) {
      const game = games.find((g) => g.game_id === gameId);
      if (!game) continue;
      for (const seat of game.seats) {
        const holder = seat.name ? seat.name : seat.bot ? "bot" : "free";
        options.push({ value: `${gameId}/${seat.role}`, text: `Team ${n + 1} · ${roleName(seat.role, game.kind)} (${holder})` });
      }
    }
    const rows = lobby.students.map((s) => {
      const current = s.game_id ? `${s.game_id}/${s.role}` : "";
      const select = el("select", {
        class: "small seat-move", "data-testid": `move-${s.id}`, "aria-label": `Seat of ${s.name}`,
        onchange: (event) => this.move(s, event.target.value),
      }, options.map((o) => el("option", { value: o.value, selected: o.value === current }, o.text)));
      return el("tr", { "data-student": s.id, "data-testid": `student-${s.id}`, "data-team": s.team ?? "", "data-role": s.role ?? "" },
        el("td", {}, String(s.arrived)),
        el("th", { scope: "row" }, s.name),
        el("td", {}, el("span", { class: "code" }, s.rejoin_code)),
        el("td", {}, select),
        el("td", {}, el("button", {
          type: "button", class: "small danger", "aria-label": `Take ${s.name} out of the class`,
          onclick: () => this.remove(s),
        }, "Remove")));
    });
    $("class-students-body").replaceChildren(...rows);
  }

  showLarge(link) {
    const dialog = $("class-qr-dialog");
    dialog.replaceChildren(el("div", { class: "qr-view" },
      qrSvg(link, `QR code of the class link: ${link}`),
      el("p", { class: "link-url" }, link),
      el("div", { class: "toolbar" }, el("button", { type: "button", class: "primary", onclick: () => dialog.close() }, "Close"))));
    dialog.showModal();
  }

  async act(doing, done) {
    try {
      const out = await doing();
      if (out && out.link) this.render({ ...this.detail, lobby: out });
      this.say(typeof done === "function" ? done(out) : done);
      await this.refresh();
      this.onChange();
    } catch (err) {
      this.say(err.message, true);
    }
  }

  formTeams() {
    const how = document.querySelector('input[name="team-forming"]:checked').value;
    return this.act(() => this.call("POST", "/teams", { order: how }),
      (out) => `Teams formed: ${out.teams.length} teams. The students are on their way to their seats.`);
  }

  move(student, value) {
    if (!value) {
      return this.act(() => this.call("DELETE", `/students/${student.id}/seat`), `${student.name} waits again; a bot plays their seat.`);
    }
    const [gameId, role] = value.split("/");
    const game = ((this.detail && this.detail.games) || []).find((g) => g.game_id === gameId);
    return this.act(() => this.call("PUT", `/students/${student.id}/seat`, { game_id: gameId, role }),
      `${student.name} moved to ${roleName(role, game && game.kind)}.`);
  }

  remove(student) {
    if (!confirm(`Take ${student.name} out of the class? A bot plays their seat.`)) return null;
    return this.act(() => this.call("DELETE", `/students/${student.id}`), `${student.name} is no longer in the class.`);
  }

  sendMessage() {
    const text = $("class-message").value.trim();
    if (!text) {
      this.say("Write a message first.", true);
      return null;
    }
    return this.act(async () => {
      const out = await this.call("POST", "/message", { text });
      $("class-message").value = "";
      return out;
    }, (out) => `Message sent (${out.sent} connected pages got it at once; the others see it when they open).`);
  }

  bots() {
    return this.act(() => this.call("POST", "/bots"), (out) => {
      const seats = out.games.reduce((n, g) => n + g.roles.length, 0);
      return `Bots play ${seats} empty seat${seats === 1 ? "" : "s"}.`;
    });
  }

  saveRoster() {
    const names = $("class-roster").value.split("\n").map((n) => n.trim()).filter(Boolean);
    return this.act(() => this.call("PUT", "/roster", { names: names.length ? names : null }),
      names.length ? `Students now pick from ${names.length} names.` : "Students type any name.");
  }

  async download(format) {
    try {
      const name = await downloadFile(`${this.path}/export.${format}`, this.tokenFor(this.sessionId), `${this.sessionId}.${format}`);
      this.say(`Downloaded ${name}.`);
    } catch (err) {
      this.say(`Export failed: ${err.message}`, true);
    }
  }
}

/** The stated rule for a class that does not divide evenly, with this class's numbers. */
export function formRule(waiting, roles) {
  if (!waiting) return "Nobody is waiting. Students who join later wait here: form teams again for them, or move them onto seats.";
  const teams = Math.ceil(waiting / roles);
  const bots = teams * roles - waiting;
  const even = bots === 0 ? "every seat gets a student" : `${bots} seat${bots === 1 ? "" : "s"} go${bots === 1 ? "es" : ""} to bots, always a short team's last roles`;
  return `${waiting} waiting, ${roles} roles per team: ${teams} team${teams === 1 ? "" : "s"}, sizes within one of each other; ${even}. No two students share a role.`;
}

function signature(games) {
  return games.map((g) => `${g.game_id}:${g.seats.map((s) => `${s.name}|${s.bot ? 1 : 0}`).join(",")}`).join(";");
}
