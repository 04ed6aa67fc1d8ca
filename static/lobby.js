// The class link's lobby, on the player page (/play?class=<class id>): a student enters a name
// (or picks it from the class's roster), waits with the others, and is taken to their seat when
// the teams form. The device keeps its own id (sent with the join, so a retried join is the same
// student) and the lobby token the join gives (a reload goes on where it was). Waiting is a
// long-poll: /lobby/me?since=<version> answers when the lobby changes. Everything the lobby
// says it has saved first (docs/api.md, "A class's lobby").

import { ApiError, api, loadLocal, newId, saveLocal } from "./client.js";
import { el } from "./dom.js";
import { roleName } from "./kinds.js";
import { ERROR } from "/protocol.js";

const $ = (id) => document.getElementById(id);
const CLASS_PREFIX = "gameserver.class.";
const RETRY_MS = 2000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export class Lobby {
  /**
   * `onSeat(seat, student)` is called with the student's seat (game_id, role, team, token) once
   * they have one; `onMessage(message)` with the facilitator's last message to the class.
   */
  constructor(classId, { onSeat, onMessage }) {
    this.classId = classId;
    this.onSeat = onSeat;
    this.onMessage = onMessage;
    this.key = CLASS_PREFIX + classId;
    this.saved = loadLocal(this.key) || {};
    if (!this.saved.clientId) {
      this.saved.clientId = newId("device");
      saveLocal(this.key, this.saved); // kept before the first join, so a retry sends the same id
    }
    this.version = -1;
    this.polling = false;
    this.seated = false;
    this.path = `/api/sessions/${encodeURIComponent(classId)}/lobby`;
    $("lobby-form").addEventListener("submit", (event) => this.onSubmit(event));
  }

  /** Show the lobby: the join form, or (for a student of the class) where they stand. */
  start() {
    $("lobby-section").hidden = false;
    if (this.saved.token) this.watch();
    else this.showForm();
  }

  /** The seat was lost (a move, a reset): ask the lobby where to go now. */
  resume(delay = 0) {
    this.seated = false;
    $("lobby-section").hidden = false;
    this.showWaiting("Your seat changed: finding your new one…");
    this.watch(delay);
  }

  async showForm(problem = "") {
    $("lobby-form").hidden = false;
    $("lobby-class").hidden = false;
    $("lobby-wait").hidden = true;
    $("lobby-error").textContent = problem;
    let info;
    try {
      info = await api("GET", this.path);
    } catch (err) {
      $("lobby-class").textContent = err instanceof ApiError && err.status === 404
        ? "This class link does not open a class. Check the link, or ask your facilitator."
        : `The class cannot be reached (${err.message}); try again in a moment.`;
      $("lobby-join").disabled = err instanceof ApiError && err.status === 404;
      return;
    }
    $("lobby-heading").textContent = `Join ${info.title || "the class"}`;
    $("lobby-class").textContent = info.teams
      ? `${info.students} students are in; ${info.teams} teams play. Join, and your facilitator gives you a seat.`
      : `${info.students} ${info.students === 1 ? "student is" : "students are"} in. Join, then wait here: the teams form together.`;
    const roster = info.roster;
    $("lobby-roster-field").hidden = !roster;
    $("lobby-name-field").hidden = Boolean(roster);
    if (roster) {
      const select = $("lobby-roster");
      const kept = select.value;
      select.replaceChildren(el("option", { value: "" }, "Choose your name…"),
        ...roster.map((r) => el("option", { value: r.name }, r.taken ? `${r.name} (joined)` : r.name)));
      select.value = kept;
    }
    (roster ? $("lobby-roster") : $("lobby-name")).focus();
  }

  async onSubmit(event) {
    event.preventDefault();
    const name = ($("lobby-roster-field").hidden ? $("lobby-name").value : $("lobby-roster").value).trim();
    if (!name) {
      $("lobby-error").textContent = "Enter your name first.";
      return;
    }
    const rejoin = $("lobby-rejoin").value.trim().toUpperCase() || null;
    $("lobby-join").disabled = true;
    $("lobby-error").textContent = "";
    try {
      const out = await api("POST", this.path, { body: { name, client_id: this.saved.clientId, rejoin } });
      this.saved = { ...this.saved, token: out.token, name: out.student.name };
      saveLocal(this.key, this.saved);
      this.apply(out);
      if (!this.seated) this.watch();
    } catch (err) {
      if (err.code === ERROR.NAME_TAKEN) {
        $("lobby-rejoin-field").hidden = false;
        $("lobby-rejoin").focus();
      }
      $("lobby-error").textContent = err.message;
    } finally {
      $("lobby-join").disabled = false;
    }
  }

  showWaiting(status) {
    $("lobby-form").hidden = true;
    $("lobby-class").hidden = true;
    $("lobby-wait").hidden = false;
    $("connection-text").textContent = "In the class's lobby";
    if (status) $("lobby-status").textContent = status;
  }

  /** What the lobby says: who waits; the student's seat, and then off to it. */
  apply(view) {
    this.version = view.version;
    const me = view.student;
    $("lobby-heading").textContent = view.title || "Your class";
    $("game-title").textContent = view.title || "Class";
    document.title = `${view.title || "Class"}: lobby`;
    $("lobby-you").textContent = `You are in, ${me.name}.`;
    $("lobby-code").textContent = me.rejoin_code;
    if (view.message) this.onMessage(view.message);
    const list = $("lobby-waiting");
    const waiting = view.waiting_count ?? view.waiting.length;
    const more = waiting - view.waiting.length; // a big class: its first names, and a count
    list.replaceChildren(
      ...view.waiting.map((name) => el("li", { class: name === me.name ? "own" : null }, name)),
      ...(more > 0 ? [el("li", { class: "more" }, `and ${more} more`)] : []),
    );
    $("lobby-waiting-heading").textContent = `Waiting (${waiting})`;
    if (view.seat) {
      this.seated = true;
      this.showWaiting(`Your seat: ${roleName(view.seat.role, view.seat.kind)}, team ${view.seat.team ?? "–"}. Taking you there…`);
      $("lobby-section").hidden = true;
      this.onSeat(view.seat, me);
    } else {
      this.showWaiting(view.seated
        ? `${view.seated} students are playing; your facilitator will give you a seat.`
        : "Waiting for your facilitator to form the teams. This page moves on by itself.");
    }
  }

  /** Ask the lobby (at once, then each time it changes) until the student has a seat. */
  async watch(delay = 0) {
    if (this.polling) return;
    this.polling = true;
    if (delay) await sleep(delay);
    let since = null; // the first answer at once: where the student stands now
    try {
      while (!this.seated) {
        const query = since === null ? "" : `?since=${since}`;
        let view;
        try {
          view = await api("GET", `${this.path}/me${query}`, { token: this.saved.token });
        } catch (err) {
          if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
            this.saved = { clientId: this.saved.clientId };
            saveLocal(this.key, this.saved);
            this.showForm("You are no longer in this class (your facilitator took you out, or the class link changed). Join again.");
            return;
          }
          $("lobby-status").textContent = `Reconnecting to the class… (${err.message})`;
          await sleep(RETRY_MS);
          continue;
        }
        this.apply(view);
        since = view.version;
      }
    } finally {
      this.polling = false;
    }
  }
}
