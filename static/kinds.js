// Game kinds: every page draws a game from what GET /api/kinds declares of it (docs/pages.md,
// "Declarations"), and checks a decision against its declared input as the server will.

import { api } from "./client.js";
import { at, humanize } from "./format.js";

const kinds = new Map();
let kindsLoading = null;

/** Ask the server for every game kind (again, when `fresh`); resolves to the list. */
export function fetchKinds(fresh = false) {
  if (!kindsLoading || fresh) {
    kindsLoading = api("GET", "/api/kinds").then((answer) => {
      kinds.clear();
      for (const kind of answer.kinds) kinds.set(kind.kind, kind);
      return answer.kinds;
    }).catch((err) => {
      kindsLoading = null; // ask again next time
      throw err;
    });
  }
  return kindsLoading;
}

/** A kind as /api/kinds described it, once loaded; asks again for a kind added since. */
export async function ensureKind(kind) {
  if (!kinds.has(kind)) await fetchKinds(kinds.size > 0);
  return kinds.get(kind) || null;
}

export function kindOf(kind) {
  return kinds.get(kind) || null;
}

export function displayOf(kind) {
  const known = kinds.get(kind);
  return (known && known.display) || { round_word: "round", figures: [], decisions: [], notes: [], charts: [] };
}

export function kindTitle(kind) {
  const known = kinds.get(kind);
  return known ? known.title : humanize(kind || "game");
}

export function roundWord(kind) {
  return displayOf(kind).round_word || "round";
}

/** A role's name as its game declares it, or its id capitalised. */
export function roleName(role, kind = null) {
  const labels = kind ? displayOf(kind).role_labels || {} : {};
  return labels[role] || humanize(role);
}

/** The range a decision input allows in this view: its declared bounds, or the view's. */
export function decisionRange(input, view) {
  const fromView = (path, fallback) => {
    const value = path ? at(view, path) : undefined;
    return typeof value === "number" ? value : fallback;
  };
  return {
    min: fromView(input.minimum_from, input.minimum ?? 0),
    max: fromView(input.maximum_from, input.maximum ?? Number.MAX_SAFE_INTEGER),
  };
}

/**
 * The same check as the server's: a number within the input's range, whole when it says so.
 * Returns {value} or {error} worded like the server's message.
 */
export function checkDecision(text, input, view) {
  const { min, max } = decisionRange(input, view);
  const raw = String(text).trim();
  const kind = input.whole ? "a whole number" : "a number";
  const allowed = `${input.key} must be ${kind} between ${min} and ${max}`;
  if (raw === "") return { error: `${allowed}; enter one` };
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(raw)) return { error: `${allowed}, got '${raw}'` };
  const value = Number(raw);
  if ((input.whole && !Number.isInteger(value)) || value < min || value > max) {
    return { error: `${allowed}, got ${raw}` };
  }
  return { value };
}
