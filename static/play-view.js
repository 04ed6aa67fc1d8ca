// What the player page shows, as pure functions of the game state the page keeps: the figures,
// the history charts, the round line and the state of the decision box.

import { lineChart } from "./charts.js";
import { decisionKey, el, fmt, fmtMoney, humanize, listWords, roleName, roundWord } from "./client.js";
import { STATUS } from "/protocol.js";

const STATUS_WORDS = {
  [STATUS.CREATED]: "Waiting for the facilitator to start the game.",
  [STATUS.RUNNING]: "The game is running.",
  [STATUS.PAUSED]: "The facilitator paused the game.",
  [STATUS.FINISHED]: "The game is over.",
  [STATUS.ENDED]: "The facilitator ended the game.",
};

export function statusWords(status) {
  return STATUS_WORDS[status] || "";
}

const BEER_FIGURES = [
  ["incoming_order", (v) => `Incoming order (from ${v.customer === "customers" ? "customers" : `the ${v.customer}`})`],
  ["received", (v) => `Received (from the ${v.supplier})`],
  ["shipped", () => "Shipped"],
  ["inventory", () => "Inventory"],
  ["backlog", () => "Backlog"],
  ["supply_line", () => "On order, not yet received"],
  ["last_order", () => "Your last order"],
  ["cost", () => "Cost this week", fmtMoney],
  ["total_cost", () => "Total cost so far", fmtMoney],
];
const FISHERY_FIGURES = [
  ["stock_estimate", () => "Published fish stock estimate"],
  ["last_boats", () => "Boats you sent last round"],
  ["total_catch", () => "Your total catch"],
  ["total_income", () => "Your total income"],
];
const NOT_FIGURES = new Set(["week", "round", "rounds", "weeks_announced", "forced_order"]);

function figureList(kind, view) {
  if (kind === "beer") return BEER_FIGURES;
  if (kind === "fishery") return FISHERY_FIGURES;
  return Object.keys(view)
    .filter((k) => typeof view[k] === "number" && !NOT_FIGURES.has(k) && !k.startsWith("max_"))
    .map((k) => [k, () => humanize(k)]);
}

/** The seat's current figures, as term and value pairs of a <dl>. */
export function figureItems(kind, view) {
  return figureList(kind, view).map(([key, label, format = fmt]) =>
    el("div", { class: `figure fig-${key}` },
      el("dt", {}, label(view)),
      el("dd", { "data-testid": `fig-${key}` }, format(view[key]))));
}

/** Charts of the seat's own past rounds. */
export function historyCharts(kind, view) {
  const word = humanize(roundWord(kind));
  if (kind === "beer") {
    const h = view.history || {};
    return [
      lineChart({ title: "Orders", xLabel: word, series: [
        { name: "Your orders", values: h.order || [] },
        { name: "Incoming orders", values: h.incoming_order || [] },
      ] }),
      lineChart({ title: "Inventory and backlog", xLabel: word, series: [
        { name: "Inventory", values: h.inventory || [] },
        { name: "Backlog", values: h.backlog || [] },
      ] }),
      lineChart({ title: "Cost per week", xLabel: word, series: [{ name: "Cost", values: h.cost || [] }] }),
    ];
  }
  if (kind === "fishery") {
    return [
      lineChart({ title: "Your boats and catch", xLabel: word, series: [
        { name: "Boats", values: view.boats || [] },
        { name: "Catch", values: view.catch || [] },
      ] }),
      lineChart({ title: "Your income per round", xLabel: word, series: [{ name: "Income", values: view.income || [] }] }),
      lineChart({ title: "Published stock estimate", xLabel: word, start: 0,
        series: [{ name: "Estimate", values: view.stock_estimates || [] }] }),
    ];
  }
  const source = view.history && typeof view.history === "object" ? view.history : view;
  return Object.keys(source)
    .filter((k) => Array.isArray(source[k]) && source[k].every((x) => typeof x === "number"))
    .map((k) => lineChart({ title: humanize(k), xLabel: word, series: [{ name: humanize(k), values: source[k] }] }));
}

export function roundLine(game) {
  const word = humanize(roundWord(game.kind));
  if (game.status === STATUS.FINISHED) return `Game over: ${game.round} ${roundWord(game.kind)}s played`;
  const of = game.announced ? ` of ${game.announced}` : "";
  return `${word} ${game.openRound}${of}`;
}

export function gameNote(game, view) {
  const parts = [statusWords(game.status)];
  if (game.kind === "beer" && view.customer) {
    const customer = view.customer === "customers" ? "your customers" : `the ${view.customer}`;
    const supplier = view.supplier === "brewery" ? "the brewery" : `the ${view.supplier}`;
    parts.push(`You ship to ${customer} and order from ${supplier}.`);
    if (view.forced) parts.push(`This week every order is ${view.forced_order}, whatever you enter.`);
  }
  if (game.notice) parts.push(game.notice);
  return parts.filter(Boolean).join(" ");
}

/** What the decision box says: {state: none|queued|sending|submitted, value, text}. */
export function decisionState(game, connected) {
  const { key } = decisionKey(game.view);
  const word = roundWord(game.kind);
  const out = game.outbox;
  const bots = game.bots || [];
  if (bots.includes(game.role)) {
    const mine = game.confirmed && game.confirmed.round === game.openRound;
    const value = mine ? String(game.confirmed.decision[key]) : "";
    return {
      state: "bot",
      value,
      text: mine
        ? `The bot decided for you: ${key} ${value} for ${word} ${game.openRound}.`
        : `The bot will decide for you in ${word} ${game.openRound}.`,
    };
  }
  if (out && out.round === game.openRound) {
    const value = String(out.decision[key]);
    if (!connected) {
      return { state: "queued", value, text: `${humanize(key)} ${value} is saved on this device and will be sent when the connection is back.` };
    }
    if (game.status !== STATUS.RUNNING) {
      const when = game.status === STATUS.CREATED ? "starts" : "resumes";
      return { state: "queued", value, text: `${humanize(key)} ${value} will be sent when the game ${when}.` };
    }
    return { state: "sending", value, text: `Sending ${key} ${value}…` };
  }
  if (game.confirmed && game.confirmed.round === game.openRound) {
    const value = String(game.confirmed.decision[key]);
    const waitingFor = game.roles.filter((r) => r !== game.role && !game.submitted.includes(r))
      .map((r) => (bots.includes(r) ? `${roleName(r)} (a bot)` : roleName(r)));
    const rest = waitingFor.length
      ? `Waiting for ${listWords(waitingFor)}.`
      : `Everyone has decided; the ${word} is closing.`;
    return {
      state: "submitted",
      value,
      text: `Submitted: ${key} ${value} for ${word} ${game.openRound}. ${rest} You can change it until the ${word} closes.`,
    };
  }
  const done = game.submitted.length;
  return { state: "none", value: "", text: `Not submitted yet for ${word} ${game.openRound}. ${done} of ${game.roles.length} have decided.` };
}

/** The label of the decision box. */
export function decisionLabel(kind, view) {
  if (kind === "beer") return `Your order to ${view.supplier === "brewery" ? "the brewery" : `the ${view.supplier}`} (cases)`;
  if (kind === "fishery") return "Boats to send out";
  return humanize(decisionKey(view).key);
}
