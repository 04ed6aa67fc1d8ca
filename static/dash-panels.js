// Pieces of the dashboard that only draw or fetch: join links with QR and copy buttons, the results
// table, the cross-team comparison, the settings form built from /api/kinds, and CSV/JSON export.

import { barChart } from "./charts.js";
import { copyText, el } from "./dom.js";
import { fmt, fmtAs, humanize } from "./format.js";
import { kindTitle, roleName, roundWord } from "./kinds.js";
import { joinLinks, qrButton } from "./dash-qr.js";
import { roleSummary } from "./debrief.js";

/** A "Copy" button for `text`; `say` reports the outcome to the page's status line. */
export function copyButton(text, label, say) {
  const node = el("button", { type: "button", class: "small", "aria-label": label }, "Copy");
  node.addEventListener("click", async () => {
    const ok = await copyText(text);
    node.textContent = ok ? "Copied" : "Select and copy";
    say(ok ? `Copied ${label.replace(/^Copy /, "")}.` : "Copying is not allowed here; select the text.");
    setTimeout(() => { node.textContent = "Copy"; }, 1500);
  });
  return node;
}

/** A game's join links: one row per seat (and the open code), each with a QR and a copy button. */
export function linksTable(info, say) {
  const name = info.title || info.game_id;
  const rows = joinLinks(info).map((link, index) => el("tr", {},
    el("th", { scope: "row" }, link.label),
    el("td", {}, el("span", { class: "code" }, link.code)),
    el("td", {}, el("a", { href: link.url, target: "_blank", rel: "noopener" }, link.url)),
    el("td", { class: "link-buttons" }, qrButton(info, index),
      copyButton(link.url, `Copy the ${link.open ? "open join" : link.key} link of ${name}`, say))));
  return el("div", { class: "table-wrap" }, el("table", { class: "data links-table" },
    el("thead", {}, el("tr", {}, ["Role", "Code", "Link", ""].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows)));
}

/** Every link of these games as plain text, to paste into a chat or an e-mail. */
export function linksText(infos) {
  return infos.map((info) => {
    const lines = info.join.map((l) => `  ${roleName(l.role)}: ${l.url}`);
    if (info.open_join) lines.push(`  Any free role: ${info.open_join.url}`);
    return `${info.title || `Game ${info.game_id}`} (${info.game_id})\n${lines.join("\n")}`;
  }).join("\n\n");
}

/** Download a game's export; the API wants the Authorization header, so fetch it as a blob. */
export async function downloadExport(gameId, token, format) {
  const response = await fetch(`/api/games/${gameId}/export.${format}`, {
    headers: { Authorization: `Bearer ${token}` },
    cache: "no-store",
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: `${gameId}.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return `${gameId}.${format}`;
}

/** The game's `results`: one row per role, the team's figures underneath. */
export function resultsTable(info) {
  const results = info.results || {};
  const roles = results.roles || {};
  const figures = [...new Set(Object.values(roles).flatMap((r) => Object.keys(r)))];
  if (!figures.length) return el("p", { class: "muted" }, "No results yet.");
  const team = Object.entries(results.team || {}).map(([k, v]) => `${humanize(k)} ${fmt(v)}`).join(" · ");
  return el("div", { class: "table-wrap" }, el("table", { class: "data" },
    el("caption", {}, "Results"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Role"),
      figures.map((f) => el("th", { scope: "col" }, humanize(f))))),
    el("tbody", {}, Object.entries(roles).map(([role, row]) => el("tr", {},
      el("th", { scope: "row" }, roleName(role)), figures.map((f) => el("td", {}, fmt(row[f])))))),
    el("tfoot", {}, el("tr", { class: "total" }, el("th", { scope: "row" }, "Team"),
      el("td", { colspan: String(figures.length) }, team)))));
}

/**
 * Teams side by side, one block per game kind: the team score as bars, and per role its score
 * and how far its decisions swung (highest - lowest, standard deviation). `infos` are API game
 * objects with `view` (from `?view=1`).
 */
export function compareView(infos) {
  const byKind = new Map();
  for (const info of infos) {
    if (!byKind.has(info.kind)) byKind.set(info.kind, []);
    byKind.get(info.kind).push(info);
  }
  const parts = [];
  for (const [kind, group] of byKind) {
    const summaries = group.map((info) => ({ info, ...roleSummary(kind, info.view) }));
    const { display } = summaries[0];
    const scoreLabel = display.score ? display.score.label : "Score";
    const format = (v) => fmtAs(display.score ? display.score.format : "number", v);
    const teamScore = (s) => Object.values(s.roles)
      .reduce((total, r) => total + (typeof r.score === "number" ? r.score : 0), 0);
    const roles = [...new Set(summaries.flatMap((s) => Object.keys(s.roles)))];
    const decision = ((display.decisions || [])[0] || { key: "decision" }).key.replace(/_/g, " ");
    parts.push(el("h3", {}, kindTitle(kind)));
    parts.push(barChart({
      title: `Team ${scoreLabel.toLowerCase()}`,
      bars: summaries.map((s) => ({ label: s.info.title || s.info.game_id, value: teamScore(s) })),
      format,
    }));
    const word = roundWord(kind);
    const head = ["Team", `${humanize(word)}s`, `Team ${scoreLabel.toLowerCase()}`, `Per ${word}`, ...roles.map((r) => roleName(r, kind))];
    parts.push(el("div", { class: "table-wrap" }, el("table", { class: "data", "data-testid": `compare-${kind}` },
      el("caption", {}, `${scoreLabel} and ${decision} swings per role (highest − lowest, standard deviation)`),
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, summaries.map((s) => el("tr", { "data-game": s.info.game_id },
        el("th", { scope: "row" }, s.info.title || s.info.game_id),
        el("td", {}, String(s.info.round)),
        el("td", {}, format(teamScore(s))),
        // normalised for length: teams that played different numbers of rounds compare
        el("td", {}, s.info.round > 0 ? format(teamScore(s) / s.info.round) : "–"),
        roles.map((r) => {
          const x = s.roles[r];
          return el("td", {}, x ? `${format(x.score)} · swing ${fmt(x.swing)} · sd ${fmt(x.std)}` : "–");
        })))))));
  }
  return parts;
}

/** The settings form of one game kind, from the description /api/kinds gives. */
export function settingsFields(kind) {
  return kind.settings.map((s) => {
    const id = `set-${s.name}`;
    const range = s.minimum !== undefined && s.minimum !== null && s.maximum !== undefined && s.maximum !== null
      ? `${s.minimum} to ${s.maximum}` : "";
    const help = [s.help, range].filter(Boolean).join(" · ");
    const common = { id, "data-setting": s.name, "data-kind": s.kind, "aria-describedby": help ? `${id}-help` : null };
    if (s.kind === "bool") {
      return el("div", { class: "check field" },
        el("input", { ...common, type: "checkbox", checked: Boolean(s.default) }), el("label", { for: id }, s.label));
    }
    let input;
    if (s.choices) {
      input = el("select", common, s.choices.map((c) => el("option", { value: c, selected: c === s.default }, c)));
    } else if (s.kind === "int" || s.kind === "float") {
      input = el("input", {
        ...common, type: "number", value: s.default === null || s.default === undefined ? "" : String(s.default),
        min: s.minimum ?? null, max: s.maximum ?? null, step: s.kind === "int" ? "1" : "any",
        inputmode: s.kind === "int" ? "numeric" : "decimal",
      });
    } else {
      const value = Array.isArray(s.default) ? s.default.join(", ") : s.default ?? "";
      input = el("input", { ...common, value: String(value), placeholder: s.kind === "int_list" ? "e.g. 4, 4, 8, 8" : null });
    }
    return el("div", { class: "field" }, el("label", { for: id }, s.label), input,
      help ? el("p", { class: "help", id: `${id}-help` }, help) : null);
  });
}

/** The settings the form holds; empty fields are left out, so the game's default applies. */
export function readSettings(box) {
  const out = {};
  for (const input of box.querySelectorAll("[data-setting]")) {
    const { setting, kind } = input.dataset;
    if (kind === "bool") {
      out[setting] = input.checked;
      continue;
    }
    const raw = input.value.trim();
    if (raw === "") continue;
    if (kind === "int" || kind === "float") out[setting] = Number(raw);
    else if (kind === "int_list") out[setting] = raw.split(/[\s,;]+/).filter(Boolean).map(Number);
    else out[setting] = raw;
  }
  return out;
}
