// The dashboard's "New games" form: the game kinds and each one's settings (from /api/kinds),
// creating one game or a class of teams, and the presets that fill the form again.

import { api } from "./client.js";
import { auth, saveTokens, tokens } from "./dash-auth.js";
import { copyButton, readSettings, settingsFields } from "./dash-panels.js";
import { el } from "./dom.js";
import { fetchKinds, kindTitle } from "./kinds.js";

const $ = (id) => document.getElementById(id);

/**
 * The form, for an admin. `say(text, problem)` tells the facilitator; `onKinds()` follows a new
 * list of kinds; `onClass(sessionId)` a class just made; `onCreated()` (awaited) anything made.
 */
export class CreateForm {
  constructor({ say, onKinds, onClass, onCreated }) {
    this.say = say;
    this.onKinds = onKinds;
    this.onClass = onClass;
    this.onCreated = onCreated;
    this.kinds = [];
    this.presets = [];
  }

  setUp() {
    $("kind").addEventListener("change", () => this.buildSettings());
    $("preset").addEventListener("change", () => this.applyPreset($("preset").value));
    $("save-preset").addEventListener("click", () => this.savePreset());
    $("lobby-class").addEventListener("change", () => { $("teams").disabled = $("lobby-class").checked; });
    $("create-form").addEventListener("submit", (event) => this.onCreate(event));
  }

  async loadKinds() {
    try {
      this.kinds = await fetchKinds(true);
    } catch (err) {
      $("create-error").textContent = `Could not load the game kinds: ${err.message}`;
      return;
    }
    $("kind").replaceChildren(...this.kinds.map((k) => el("option", { value: k.kind }, k.title)));
    this.buildSettings();
    this.onKinds();
  }

  buildSettings() {
    const kind = this.kinds.find((k) => k.kind === $("kind").value);
    $("settings").replaceChildren(...(kind ? settingsFields(kind) : []));
  }

  async onCreate(event) {
    event.preventDefault();
    const error = $("create-error");
    error.textContent = "";
    const lobbyClass = $("lobby-class").checked;
    const teams = lobbyClass ? 0 : Number($("teams").value || "1");
    const most = Number($("teams").max); // the API's limit, kept in the page (test_pages.py)
    if (!lobbyClass && (!Number.isInteger(teams) || teams < 1 || teams > most)) {
      error.textContent = `Teams must be a whole number from 1 to ${most.toLocaleString("en")}.`;
      $("teams").focus();
      return;
    }
    const body = { ...this.fields(), autostart: $("autostart").checked };
    $("create-button").disabled = true;
    try {
      let created;
      if (teams > 1 || lobbyClass) {
        const out = await api("POST", "/api/sessions", { token: auth.credential, body: { ...body, teams } });
        tokens.sessions[out.session_id] = out.facilitator_token;
        const what = lobbyClass
          ? `Created the class ${out.session_id}: share its link below; the teams form in its lobby.`
          : `Created a class of ${out.games.length} games (${out.session_id}).`;
        created = el("div", { class: "banner", "data-testid": "created" },
          el("p", {}, `${what} Its facilitator token controls all of it and is shown only now: `,
            el("span", { class: "token" }, out.facilitator_token), " "),
          copyButton(out.facilitator_token, "Copy the class facilitator token", this.say));
        this.onClass(out.session_id);
      } else {
        const out = await api("POST", "/api/games", { token: auth.credential, body });
        tokens.games[out.game_id] = out.facilitator_token;
        created = el("div", { class: "banner", "data-testid": "created" },
          el("p", {}, `Created game ${out.game_id}. Its facilitator token is shown only now: `,
            el("span", { class: "token" }, out.facilitator_token), " "),
          copyButton(out.facilitator_token, "Copy the game's facilitator token", this.say));
      }
      saveTokens();
      $("created").replaceChildren(created);
      await this.onCreated();
    } catch (err) {
      error.textContent = err.message;
    } finally {
      $("create-button").disabled = false;
    }
  }

  // -- presets ------------------------------------------------------------------------------

  async loadPresets() {
    try {
      this.presets = (await api("GET", "/api/presets", { token: auth.credential })).presets;
    } catch {
      this.presets = [];
    }
    const select = $("preset");
    const kept = select.value;
    select.replaceChildren(el("option", { value: "" }, "None: fill in below"),
      ...this.presets.map((p) => el("option", { value: p.name }, `${p.name} (${kindTitle(p.kind)})`)));
    select.value = this.presets.some((p) => p.name === kept) ? kept : "";
  }

  /** Fill the form from a preset: kind, title, time limit, seed, open join and every setting. */
  applyPreset(name) {
    const preset = this.presets.find((p) => p.name === name);
    if (!preset) return;
    $("kind").value = preset.kind;
    this.buildSettings();
    $("title").value = preset.title || "";
    $("round-seconds").value = preset.round_seconds ?? "";
    $("seed").value = preset.seed ?? "";
    $("open-join").checked = Boolean(preset.open_join);
    for (const input of $("settings").querySelectorAll("[data-setting]")) {
      const value = (preset.settings || {})[input.dataset.setting];
      if (value === undefined) continue;
      if (input.type === "checkbox") input.checked = Boolean(value);
      else input.value = Array.isArray(value) ? value.join(", ") : String(value ?? "");
    }
    this.say(`The form holds the preset ${name}.`);
  }

  /** What the form says a game is made of: its kind, title, settings, joining, deadline and seed. */
  fields() {
    const body = {
      kind: $("kind").value,
      title: $("title").value.trim(),
      settings: readSettings($("settings")),
      open_join: $("open-join").checked,
    };
    if ($("round-seconds").value.trim()) body.round_seconds = Number($("round-seconds").value);
    if ($("seed").value.trim()) body.seed = Number($("seed").value);
    return body;
  }

  async savePreset() {
    const name = $("preset-name").value.trim() || $("preset").value;
    if (!name) {
      $("create-error").textContent = "Give the preset a name first.";
      $("preset-name").focus();
      return;
    }
    const body = this.fields();
    try {
      this.presets = (await api("PUT", `/api/presets/${encodeURIComponent(name)}`, { token: auth.credential, body })).presets;
      $("create-error").textContent = "";
      $("preset-name").value = "";
      await this.loadPresets();
      $("preset").value = name;
      this.say(`Saved the preset ${name}.`);
    } catch (err) {
      $("create-error").textContent = err.message;
    }
  }
}
