// A class's teams over time, side by side: for each role, the decisions of every team per round
// on one chart; the team's score per round; and the team's score per round on average, so that
// teams that played different numbers of rounds compare. Drawn from the kind's declarations
// (`display.debrief`: `roles_at`, `decisions`, `per_round`, `team_score`, the charts' titles)
// and the games' facilitator views (GET /api/games/{id}?view=1), like the debrief.

import { barChart, lineChart } from "./charts.js";
import { el } from "./dom.js";
import { at, fmtAs, humanize } from "./format.js";
import { displayOf, roleName } from "./kinds.js";

function sum(values) {
  return values.filter((value) => typeof value === "number").reduce((a, b) => a + b, 0);
}

/** The team's score in each round: the roles' per-round scores added up. */
export function teamPerRound(spec, view) {
  const rows = Object.values(at(view, spec.roles_at) || {});
  const lists = rows.map((row) => at(row, spec.per_round)).filter(Array.isArray);
  const length = Math.max(0, ...lists.map((l) => l.length));
  return Array.from({ length }, (_, i) => sum(lists.map((l) => l[i])));
}

/** The team's score divided by the rounds it played (null before its first round). */
export function perRound(spec, info) {
  const total = at(info.view, spec.team_score);
  return typeof total === "number" && info.round > 0 ? total / info.round : null;
}

/**
 * The charts of one class. `teams`: [{label, info}] with `info` a game object with `view`, all
 * of one kind. Returns the elements to show (a note when no team has played a round yet).
 */
export function classTrends(kind, teams) {
  const display = displayOf(kind);
  const spec = display.debrief;
  const played = teams.filter((t) => t.info && t.info.view && t.info.round > 0);
  if (!spec || !played.length) return [el("p", { class: "muted" }, "The charts appear once a team has played a round.")];
  const word = display.round_word || "round";
  const score = display.score || { label: "Score", format: "number" };
  const format = (v) => fmtAs(score.format, v);
  const parts = [];
  const charts = el("div", { class: "charts", "data-testid": "class-trends-charts" });
  if (spec.decisions) {
    // the debrief's chart of the decisions names them; else the decision's key
    const own = (spec.charts || []).find((c) => c.per_role === spec.decisions);
    const what = own ? own.title : humanize(spec.decisions.split(".").pop());
    const roles = [...new Set(played.flatMap((t) => Object.keys(at(t.info.view, spec.roles_at) || {})))];
    for (const role of roles) {
      charts.append(lineChart({
        title: `${what}: ${roleName(role, kind)}, every team`,
        xLabel: humanize(word),
        series: played.map((t) => ({
          name: t.label,
          values: at((at(t.info.view, spec.roles_at) || {})[role], spec.decisions) || [],
        })),
      }));
    }
  }
  if (spec.per_round) {
    charts.append(lineChart({
      title: `Team ${score.label.toLowerCase()} per ${word}`,
      xLabel: humanize(word),
      series: played.map((t) => ({ name: t.label, values: teamPerRound(spec, t.info.view) })),
    }));
  }
  parts.push(charts);
  parts.push(barChart({
    title: `Team ${score.label.toLowerCase()} per ${word}, on average`,
    bars: played.map((t) => ({ label: t.label, value: perRound(spec, t.info) })),
    format,
  }));
  parts.push(el("div", { class: "table-wrap" }, el("table", { class: "data", "data-testid": "class-trends-table" },
    el("caption", {}, `Teams compared per ${word}`),
    el("thead", {}, el("tr", {}, ["Team", `${humanize(word)}s played`, `Team ${score.label.toLowerCase()}`, `Per ${word}`]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, played.map((t) => el("tr", { "data-game": t.info.game_id },
      el("th", { scope: "row" }, t.label),
      el("td", {}, String(t.info.round)),
      el("td", {}, format(at(t.info.view, spec.team_score))),
      el("td", {}, format(perRound(spec, t.info)))))))));
  return parts;
}
