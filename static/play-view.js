// What the player page shows, as pure functions of the game state the page keeps and of what the
// game declares (GET /api/kinds, `display`): the figures, the history charts, the round line,
// the notes, a round closed without the seat's decision and the state of the decision box. Nothing
// here knows any game.

import { lineChart } from "./charts.js";
import { el } from "./dom.js";
import { at, decisionWords, fill, fmt, fmtAs, humanize, listWords } from "./format.js";
import { roleName, roundWord } from "./kinds.js";
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

/** A declared label with its unit, when the label does not say it already. */
export function labelWithUnit(item, view) {
  const label = fill(item.label, view);
  return item.unit && !label.toLowerCase().includes(item.unit.toLowerCase())
    ? `${label} (${item.unit})` : label;
}

/** The seat's current figures, as term and value pairs of a <dl>. */
export function figureItems(display, view) {
  return (display.figures || []).map((figure) => {
    const id = figure.key.replace(/\./g, "-");
    return el("div", { class: `figure fig-${id}` },
      el("dt", {}, labelWithUnit(figure, view)),
      el("dd", { "data-testid": `fig-${id}` }, fmtAs(figure.format, at(view, figure.key))));
  });
}

/** Charts of the seat's own past rounds, as the game declares them. */
export function historyCharts(display, view) {
  const word = humanize(display.round_word || "round");
  return (display.charts || []).map((chart) => lineChart({
    title: labelWithUnit({ label: chart.title, unit: chart.unit }, view),
    xLabel: word,
    start: chart.start ?? 1,
    series: (chart.series || []).map((s) => ({ name: s.label, values: at(view, s.key) || [] })),
  }));
}

/** The round line: the open round, or for a game that is over how many rounds it played. */
export function roundLine(game, display) {
  const word = display.round_word || "round";
  const played = `${game.round} ${word}${game.round === 1 ? "" : "s"} played`;
  if (game.status === STATUS.FINISHED) return `Game over: ${played}`;
  // Ended by the facilitator: the open round never closes, so it is not named.
  if (game.status === STATUS.ENDED) return `Game ended: ${played}`;
  const of = game.announced ? ` of ${game.announced}` : "";
  return `${humanize(word)} ${game.openRound}${of}`;
}

/** The role's briefing: what every role is told, then its own part. */
export function briefing(display, role, kind) {
  const own = (display.role_briefings || {})[role] ?? (display.role_briefings || {})["*"] ?? "";
  const name = roleName(role, kind);
  return [display.briefing, own].filter(Boolean).join(" ").replace(/\{role\}/g, name);
}

/** The declared notes whose condition holds in this view. */
export function notesFor(display, view) {
  return (display.notes || []).filter((note) => !note.when || Boolean(at(view, note.when)))
    .map((note) => fill(note.text, view));
}

export function gameNote(game, view, display) {
  const parts = [statusWords(game.status)];
  if (view && !view.over) parts.push(...notesFor(display, view));
  if (game.notice) parts.push(game.notice);
  return parts.filter(Boolean).join(" ");
}

/**
 * What the last closed round used for this seat because it had no decision, in words ("Week 4
 * closed without your order; 8 was used."), or "" when the seat decided. Any game: the words
 * come from the decision's own keys.
 */
export function defaultedWords(game) {
  const used = game.defaulted;
  if (!used || typeof used !== "object" || !game.round) return "";
  const entries = Object.entries(used);
  const what = entries.length === 1 ? humanize(entries[0][0]).toLowerCase() : "decision";
  const value = entries.length === 1
    ? fmt(entries[0][1])
    : entries.map(([key, v]) => `${humanize(key).toLowerCase()} ${fmt(v)}`).join(", ");
  return `${humanize(roundWord(game.kind))} ${game.round} closed without your ${what}; ${value} was used.`;
}

/** What the decision box says: {state: none|queued|sending|submitted|bot, value, text}. */
export function decisionState(game, connected, display) {
  const word = display.round_word || "round";
  const out = game.outbox;
  const bots = game.bots || [];
  const words = (decision) => decisionWords(decision);
  const shown = (decision) => Object.values(decision || {}).map(String).join(" ");
  if (bots.includes(game.role)) {
    const mine = game.confirmed && game.confirmed.round === game.openRound;
    return {
      state: "bot",
      value: mine ? shown(game.confirmed.decision) : "",
      text: mine
        ? `The bot decided for you: ${words(game.confirmed.decision)} for ${word} ${game.openRound}.`
        : `The bot will decide for you in ${word} ${game.openRound}.`,
    };
  }
  if (out && out.round === game.openRound) {
    const value = shown(out.decision);
    const what = words(out.decision);
    if (!connected) {
      return { state: "queued", value, text: `${humanize(what)} is saved on this device and will be sent when the connection is back.` };
    }
    if (game.status !== STATUS.RUNNING) {
      const when = game.status === STATUS.CREATED ? "starts" : "resumes";
      return { state: "queued", value, text: `${humanize(what)} will be sent when the game ${when}.` };
    }
    return { state: "sending", value, text: `Sending ${what}…` };
  }
  if (game.confirmed && game.confirmed.round === game.openRound) {
    const waitingFor = game.roles.filter((r) => r !== game.role && !game.submitted.includes(r))
      .map((r) => (bots.includes(r) ? `${roleName(r, game.kind)} (a bot)` : roleName(r, game.kind)));
    const rest = waitingFor.length
      ? `Waiting for ${listWords(waitingFor)}.`
      : `Everyone has decided; the ${word} is closing.`;
    return {
      state: "submitted",
      value: shown(game.confirmed.decision),
      text: `Submitted: ${words(game.confirmed.decision)} for ${word} ${game.openRound}. ${rest} You can change it until the ${word} closes.`,
    };
  }
  const done = game.submitted.length;
  return { state: "none", value: "", text: `Not submitted yet for ${word} ${game.openRound}. ${done} of ${game.roles.length} have decided.` };
}
