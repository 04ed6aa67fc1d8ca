// The player page's decision form: one input per decision the game declares (the first keeps
// the ids `decision-input` and `decision-label`), each with its range in words, and checked in the
// page as the server will check it.

import { el } from "./dom.js";
import { fmt } from "./format.js";
import { checkDecision, decisionRange } from "./kinds.js";
import { labelWithUnit } from "./play-view.js";

const $ = (id) => document.getElementById(id);

export function showDecisionError(message, field = $("decision-input")) {
  $("decision-error").textContent = message;
  for (const input of document.querySelectorAll("#decide-form input")) {
    input.setAttribute("aria-invalid", message && input === field ? "true" : "false");
  }
}

/**
 * The decision in the form, each input checked as the server will: {key: value}, or null when one
 * is wrong (then the form says why and that input has the focus).
 */
export function readDecision(display, view) {
  const decision = {};
  for (const [index, input] of (display.decisions || []).entries()) {
    const field = decisionField(index);
    const check = checkDecision(field.value, input, view);
    if (check.error) {
      showDecisionError(check.error, field);
      field.focus();
      return null;
    }
    decision[input.key] = check.value;
  }
  showDecisionError("");
  return decision;
}

/** The input of the game's decision number `index`: the first keeps the page's own ids. */
function decisionField(index) {
  return $(index === 0 ? "decision-input" : `decision-input-${index}`);
}

/** The decision box's inputs, one per declared decision (built once per kind). */
export function buildDecisionFields(game, display, view) {
  const inputs = display.decisions || [];
  const box = $("decision-fields");
  if (box.dataset.kind !== game.kind) {
    box.dataset.kind = game.kind || "";
    box.replaceChildren(...inputs.slice(1).map((input, n) => {
      const index = n + 1;
      return el("div", { class: "decision-extra" },
        el("label", { for: `decision-input-${index}`, id: `decision-label-${index}` }, input.label),
        el("input", {
          id: `decision-input-${index}`, "data-decision": input.key, autocomplete: "off",
          inputmode: input.whole ? "numeric" : "decimal", "aria-describedby": "decision-error",
          oninput: () => showDecisionError(""),
        }),
        el("p", { class: "help", id: `decision-help-${index}` }));
    }));
  }
  inputs.forEach((input, index) => {
    const { min, max } = decisionRange(input, view);
    const kind = input.whole ? "A whole number" : "A number";
    const help = `${kind} from ${fmt(min)} to ${fmt(max)}.${input.help ? ` ${input.help}` : ""}`;
    $(index === 0 ? "decision-label" : `decision-label-${index}`).textContent = labelWithUnit(input, view);
    $(index === 0 ? "decision-help" : `decision-help-${index}`).textContent = help;
    const field = decisionField(index);
    field.dataset.decision = input.key;
    field.inputMode = input.whole ? "numeric" : "decimal";
    if (game.confirmed && game.confirmed.round === game.openRound && !field.value) {
      field.value = String(game.confirmed.decision[input.key] ?? "");
    }
  });
}
