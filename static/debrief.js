// The end-of-game debrief, drawn from a facilitator view (a player's `view.debrief`, or the API's
// `?view=1`): every role's figures over time on one page, and the team's score.
// The Beer Game and the fishery get their own layout; any other game gets every per-role list.

import { barChart, lineChart } from "./charts.js";
import { el, fmt, fmtMoney, humanize, roleName } from "./client.js";

const LAYOUTS = {
  beer: {
    group: "roles",
    history: (row) => row.history || {},
    decision: "order",
    charts: [
      { figure: "order", title: "Orders placed", extra: (v) => ({ name: "Customer demand", values: v.demand }) },
      { figure: "inventory", title: "Inventory (cases in stock)" },
      { figure: "backlog", title: "Backlog (cases owed)" },
    ],
    score: { key: "total_cost", label: "Cost", money: true },
  },
  fishery: {
    group: "fleets",
    history: (row) => row,
    decision: "boats",
    charts: [
      { figure: "boats", title: "Boats sent" },
      { figure: "catch", title: "Catch" },
      { figure: "income", title: "Income per round" },
    ],
    score: { key: "total_income", label: "Income", money: false },
  },
};

/** The layout for a kind, or one guessed from the view's shape. */
export function layoutFor(kind, view) {
  if (LAYOUTS[kind]) return LAYOUTS[kind];
  const group = Object.keys(view || {}).find((key) => {
    const value = view[key];
    return value && typeof value === "object" && !Array.isArray(value) && key !== "settings"
      && Object.values(value).every((row) => row && typeof row === "object" && !Array.isArray(row));
  });
  const rows = group ? Object.values(view[group]) : [];
  const history = (row) => (row.history && typeof row.history === "object" ? row.history : row);
  const figures = rows.length
    ? Object.keys(history(rows[0])).filter((key) => Array.isArray(history(rows[0])[key]))
    : [];
  const score = rows.length
    ? Object.keys(rows[0]).find((key) => key.startsWith("total_") && typeof rows[0][key] === "number")
    : null;
  return {
    group,
    history,
    decision: figures[0],
    charts: figures.map((figure) => ({ figure, title: humanize(figure) })),
    score: score ? { key: score, label: humanize(score), money: false } : null,
  };
}

function stats(values) {
  const nums = (values || []).filter((v) => typeof v === "number");
  if (!nums.length) return { swing: null, std: null, min: null, max: null };
  const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
  const std = Math.sqrt(nums.reduce((a, b) => a + (b - mean) ** 2, 0) / nums.length);
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  return { swing: max - min, std, min, max };
}

/** Per role: the swing of its decisions (max - min), their standard deviation, and its score. */
export function roleSummary(kind, view) {
  const layout = layoutFor(kind, view);
  const rows = (layout.group && view[layout.group]) || {};
  const out = {};
  for (const [role, row] of Object.entries(rows)) {
    const decisions = layout.history(row)[layout.decision];
    out[role] = { ...stats(decisions), score: layout.score ? row[layout.score.key] : null };
  }
  return { layout, roles: out };
}

function sum(values) {
  return (values || []).reduce((a, b) => a + (typeof b === "number" ? b : 0), 0);
}

function scoreText(layout, value) {
  if (!layout.score) return fmt(value);
  return layout.score.money ? fmtMoney(value) : fmt(value);
}

function beerTable(view, own) {
  const settings = view.settings || {};
  const head = ["Role", "Holding cost", "Backlog cost", "Total cost", "Orders: lowest–highest", "Order std"];
  const body = Object.entries(view.roles).map(([role, row]) => {
    const h = row.history || {};
    const s = stats(h.order);
    return el("tr", { class: role === own ? "own" : null },
      el("th", { scope: "row" }, roleName(role), role === own ? " (you)" : ""),
      el("td", {}, fmtMoney(sum(h.inventory) * (settings.holding_cost ?? 0.5))),
      el("td", {}, fmtMoney(sum(h.backlog) * (settings.backlog_cost ?? 1))),
      el("td", {}, fmtMoney(row.total_cost)),
      el("td", {}, s.swing === null ? "–" : `${fmt(s.min)}–${fmt(s.max)}`),
      el("td", {}, fmt(s.std)));
  });
  const d = stats(view.demand);
  body.push(el("tr", { class: "muted" },
    el("th", { scope: "row" }, "Customer demand"), el("td", {}), el("td", {}), el("td", {}),
    el("td", {}, d.swing === null ? "–" : `${fmt(d.min)}–${fmt(d.max)}`), el("td", {}, fmt(d.std))));
  const foot = el("tr", { class: "total" },
    el("th", { scope: "row" }, "Team"), el("td", {}), el("td", {}),
    el("td", { "data-testid": "team-cost" }, fmtMoney(view.team_cost)), el("td", {}), el("td", {}));
  return table("Costs and order swings", head, body, foot);
}

function genericTable(layout, view, own) {
  const rows = view[layout.group] || {};
  const head = ["Role", layout.score ? layout.score.label : "Score", `${humanize(layout.decision || "decision")}: lowest–highest`, "Std"];
  let total = 0;
  const body = Object.entries(rows).map(([role, row]) => {
    const s = stats(layout.history(row)[layout.decision]);
    const score = layout.score ? row[layout.score.key] : null;
    if (typeof score === "number") total += score;
    return el("tr", { class: role === own ? "own" : null },
      el("th", { scope: "row" }, roleName(role), role === own ? " (you)" : ""),
      el("td", {}, scoreText(layout, score)),
      el("td", {}, s.swing === null ? "–" : `${fmt(s.min)}–${fmt(s.max)}`),
      el("td", {}, fmt(s.std)));
  });
  const foot = el("tr", { class: "total" },
    el("th", { scope: "row" }, "Team"),
    el("td", { "data-testid": "team-cost" }, scoreText(layout, total)), el("td", {}), el("td", {}));
  return table(layout.score ? `${layout.score.label} and decisions` : "Decisions", head, body, foot);
}

function table(caption, head, body, foot) {
  return el("div", { class: "table-wrap" },
    el("table", { class: "data" },
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, body),
      el("tfoot", {}, foot)));
}

function summaryText(kind, view) {
  if (kind === "beer" && view.roles) {
    const d = stats(view.demand);
    const parts = Object.entries(view.roles).map(([role, row]) => {
      const s = stats((row.history || {}).order);
      return `${roleName(role).toLowerCase()} ${fmt(s.min)}–${fmt(s.max)}`;
    });
    return `Customers ordered between ${fmt(d.min)} and ${fmt(d.max)} cases a week. Orders swung `
      + `further up the chain: ${parts.join(", ")}. That growing swing is the bullwhip effect.`;
  }
  if (kind === "fishery" && view.stocks) {
    const s = stats(view.stocks);
    return `The fish stock went from ${fmt(view.stocks[0])} to ${fmt(view.stock)} `
      + `(lowest ${fmt(s.min)})${view.collapsed ? ": it collapsed" : ""}.`;
  }
  return "";
}

/** The whole debrief as one element. `own` marks the player's role in tables. */
export function renderDebrief(kind, view, { own = null, heading = "Debrief", level = "h2" } = {}) {
  const layout = layoutFor(kind, view);
  const section = el("section", { class: "debrief", "data-testid": "debrief" });
  section.append(el(level, {}, heading));
  const rows = (layout.group && view[layout.group]) || {};
  const roles = Object.keys(rows);
  const text = summaryText(kind, view);
  if (text) section.append(el("p", { class: "lead" }, text));
  const charts = el("div", { class: "charts" });
  for (const spec of layout.charts) {
    const series = roles.map((role) => ({
      name: roleName(role) + (role === own ? " (you)" : ""),
      values: layout.history(rows[role])[spec.figure] || [],
      width: role === own ? 3.4 : 2.2,
    }));
    const extra = spec.extra && spec.extra(view);
    if (extra && extra.values) series.push({ ...extra, color: "#111111", dash: "3 3", width: 1.6 });
    charts.append(lineChart({ title: spec.title, series, xLabel: humanize(kind === "beer" ? "week" : "round") }));
  }
  if (kind === "fishery" && view.stocks) {
    charts.append(lineChart({
      title: "Fish in the sea",
      start: 0,
      series: [
        { name: "True stock", values: view.stocks },
        { name: "Published estimate", values: view.stock_estimates || [] },
      ],
      xLabel: "Round",
    }));
  }
  section.append(charts);
  section.append(kind === "beer" && view.roles ? beerTable(view, own) : genericTable(layout, view, own));
  if (layout.score && roles.length) {
    const format = (v) => scoreText(layout, v);
    section.append(barChart({
      title: `${layout.score.label} per role`,
      bars: roles.map((role) => ({ label: roleName(role), value: rows[role][layout.score.key] })),
      format,
    }));
  }
  return section;
}
