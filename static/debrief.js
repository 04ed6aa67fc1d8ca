// The end-of-game debrief, drawn from a facilitator view (a player's `view.debrief`, or the API's
// `?view=1`) and from what the game declares of its debrief (GET /api/kinds, `display.debrief`):
// the lead sentences, every role's figures over time on one page, a table, the team's score.

import { barChart, lineChart } from "./charts.js";
import { el } from "./dom.js";
import { at, fill, fmt, fmtAs, humanize } from "./format.js";
import { displayOf, roleName } from "./kinds.js";

function stats(values) {
  const nums = (values || []).filter((v) => typeof v === "number");
  if (!nums.length) return { swing: null, std: null, min: null, max: null };
  const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
  const std = Math.sqrt(nums.reduce((a, b) => a + (b - mean) ** 2, 0) / nums.length);
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  return { swing: max - min, std, min, max };
}

/** The score's format (declared by the game), or plain numbers. */
function scoreFormat(display) {
  return (display.score && display.score.format) || "number";
}

function rowsOf(spec, view) {
  const rows = spec ? at(view, spec.roles_at) : null;
  return rows && typeof rows === "object" ? rows : {};
}

/** Per role: the swing of its decisions (max - min), their standard deviation, and its score. */
export function roleSummary(kind, view) {
  const display = displayOf(kind);
  const spec = display.debrief || null;
  const out = {};
  for (const [role, row] of Object.entries(rowsOf(spec, view))) {
    out[role] = { ...stats(spec.decisions ? at(row, spec.decisions) : []), score: at(row, spec.score) };
  }
  return { display, roles: out };
}

function cell(column, row) {
  const value = at(row, column.key);
  if (column.stat === "range") {
    const s = stats(value);
    return s.swing === null ? "–" : `${fmt(s.min)}–${fmt(s.max)}`;
  }
  if (column.stat === "std") return fmt(stats(value).std);
  return fmtAs(column.format, value);
}

function table(display, spec, view, own, kind) {
  const rows = rowsOf(spec, view);
  const columns = spec.columns || [];
  const scoreLabel = display.score ? display.score.label : "Score";
  const head = ["Role", ...columns.map((c) => c.label)];
  const body = Object.entries(rows).map(([role, row]) => el("tr", { class: role === own ? "own" : null },
    el("th", { scope: "row" }, roleName(role, kind), role === own ? " (you)" : ""),
    columns.map((column) => el("td", {}, cell(column, row)))));
  const team = at(view, spec.team_score);
  const scoreAt = Math.max(0, columns.findIndex((c) => c.key === spec.score && !c.stat));
  const foot = el("tr", { class: "total" },
    el("th", { scope: "row" }, "Team"),
    columns.map((_, index) => (index === scoreAt
      ? el("td", { "data-testid": "team-cost" }, fmtAs(scoreFormat(display), team))
      : el("td", {}))));
  return el("div", { class: "table-wrap" },
    el("table", { class: "data" },
      el("caption", {}, `${scoreLabel} per role`),
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, body),
      el("tfoot", {}, foot)));
}

function chartOf(chart, rows, view, own, word, kind) {
  const series = chart.per_role
    ? Object.entries(rows).map(([role, row]) => ({
      name: roleName(role, kind) + (role === own ? " (you)" : ""),
      values: at(row, chart.per_role) || [],
      width: role === own ? 3.4 : 2.2,
    }))
    : [];
  for (const line of chart.series || []) {
    const values = at(view, line.key);
    if (!Array.isArray(values)) continue;
    // beside one line per role, a fixed line (the customer demand) is the reference: dashed black
    series.push(chart.per_role
      ? { name: line.label, values, color: "#111111", dash: "3 3", width: 1.6 }
      : { name: line.label, values });
  }
  return lineChart({
    title: chart.title,
    series,
    start: chart.start ?? 1,
    xLabel: humanize(word),
  });
}

/** The whole debrief as one element. `own` marks the player's role in tables. */
export function renderDebrief(kind, view, { own = null, heading = "Debrief", level = "h2" } = {}) {
  const display = displayOf(kind);
  const spec = display.debrief;
  const section = el("section", { class: "debrief", "data-testid": "debrief" });
  section.append(el(level, {}, heading));
  if (!spec) {
    section.append(el("p", { class: "muted" }, "This game declares no debrief."));
    return section;
  }
  const rows = rowsOf(spec, view);
  const lead = (spec.lead || []).filter((note) => !note.when || Boolean(at(view, note.when)))
    .map((note) => fill(note.text, view));
  if (lead.length) section.append(el("p", { class: "lead" }, lead.join(" ")));
  const word = display.round_word || "round";
  const charts = el("div", { class: "charts" });
  for (const chart of spec.charts || []) charts.append(chartOf(chart, rows, view, own, word, kind));
  section.append(charts);
  section.append(table(display, spec, view, own, kind));
  const roles = Object.keys(rows);
  if (roles.length) {
    const label = display.score ? display.score.label : "Score";
    section.append(barChart({
      title: `${label} per role`,
      bars: roles.map((role) => ({ label: roleName(role, kind), value: at(rows[role], spec.score) })),
      format: (v) => fmtAs(scoreFormat(display), v),
    }));
  }
  return section;
}
