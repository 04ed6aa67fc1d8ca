// The dashboard's table of games: one row per game, built once and then updated in place, so a
// live update never takes the keyboard focus away from a button.

import { el } from "./dom.js";
import { fmtDuration, humanize } from "./format.js";
import { kindTitle, roleName, roundWord } from "./kinds.js";
import { IN_PROGRESS, STATUS } from "/protocol.js";

/** The statuses in which each action of a row applies (the server refuses it in any other). */
export const APPLIES = {
  start: [STATUS.CREATED],
  pause: [STATUS.RUNNING],
  resume: [STATUS.PAUSED],
  "close-round": [STATUS.RUNNING, STATUS.PAUSED],
  extend: [STATUS.RUNNING, STATUS.PAUSED],
  end: IN_PROGRESS,
  bots: IN_PROGRESS,
};

export function titleOf(info) {
  return info.title || `Game ${info.game_id}`;
}

const seatHandlers = new WeakMap(); // row -> {onSeat(role), onReset(role)}

function button(text, attrs) {
  return el("button", { type: "button", class: "small", ...attrs }, text);
}

/** A game's row, built once; `onAction(action)`, `onSeat(role)` and `onReset(role)` get the clicks. */
export function buildRow(info, { policies, onAction, onSeat, onReset }) {
  const id = info.game_id;
  const title = titleOf(info);
  const policySelect = el("select", { "data-testid": `policy-${id}`, id: `policy-${id}`, class: "small" },
    policies.map((p) => el("option", { value: p.name, title: p.help }, p.name)));
  const actions = el("div", { class: "actions" },
    button("Start", { "data-action": "start", "data-testid": `act-start-${id}`, "aria-label": `Start ${title}` }),
    button("Pause", { "data-action": "pause", "data-testid": `act-pause-${id}`, "aria-label": `Pause ${title}` }),
    button("Resume", { "data-action": "resume", "data-testid": `act-resume-${id}`, "aria-label": `Resume ${title}` }),
    button("Close round", { "data-action": "close-round", "data-testid": `act-close-round-${id}`, "aria-label": `Close the round of ${title}` }),
    button("+1 min", { "data-action": "extend", "data-testid": `act-extend-${id}`, "aria-label": `Give ${title} one more minute` }),
    button("End", { "data-action": "end", class: "small danger", "data-testid": `act-end-${id}`, "aria-label": `End ${title}` }),
    button("Bots for empty seats", { "data-action": "bots", "data-testid": `act-bots-${id}`, "aria-label": `A bot on every empty seat of ${title}` }),
    button("Restore", { "data-action": "restore", "data-testid": `act-restore-${id}`, "aria-label": `Bring ${title} back into memory` }),
    button("Details", { "data-action": "details", "data-testid": `act-details-${id}`, "aria-label": `Details, links and debrief of ${title}` }),
    button("Projector", { "data-action": "projector", "data-testid": `act-projector-${id}`, "aria-label": `The debrief of ${title} in large type, full screen, for the projector` }));
  actions.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    if (target) onAction(target.dataset.action);
  });
  const row = el("tr", { "data-testid": `game-row-${id}` },
    el("td", { "data-label": "Game" },
      el("strong", { class: "title" }, title),
      el("span", { class: "badges" }),
      el("div", { class: "muted" }, el("span", { class: "code" }, id), ` · ${kindTitle(info.kind)}`),
      info.session_id ? el("div", { class: "muted" }, `class ${info.session_id}`) : null),
    el("td", { "data-label": "Status" }, el("span", { class: "status", "data-testid": `status-${id}` })),
    el("td", { "data-label": "Round" }, el("span", { "data-testid": `round-${id}` })),
    el("td", { "data-label": "Seats" },
      el("div", { class: "bot-policy" },
        el("label", { for: `policy-${id}` }, "Bots play"), policySelect),
      el("ul", { class: "seats" })),
    el("td", { "data-label": "Deadline" }, el("span", { "data-testid": `deadline-${id}`, class: "deadline-cell" })),
    el("td", { "data-label": "Actions" }, actions));
  seatHandlers.set(row, { onSeat, onReset });
  return row;
}

function mark(node, on, onSymbol, offSymbol, onWords, offWords, onClass, offClass) {
  node.className = `mark ${on ? onClass : offClass}`;
  node.replaceChildren(on ? onSymbol : offSymbol, el("span", { class: "offscreen" }, ` ${on ? onWords : offWords}`));
}

/** Bring a row up to date without rebuilding it (keyboard focus stays where it is). */
export function updateRow(row, info, d, { watched, clock }) {
  const id = info.game_id;
  const word = roundWord(info.kind);
  const badges = row.querySelector(".badges");
  const badgeList = [];
  if (info.restored) badgeList.push(el("span", { class: "badge restored", title: "brought back after a server restart" }, "restored"));
  if (!info.active) badgeList.push(el("span", { class: "badge stored", title: "not in memory; read from the database" }, "stored"));
  if (info.cloned_from) badgeList.push(el("span", { class: "badge" }, `clone of ${info.cloned_from.game_id} @${info.cloned_from.round}`));
  const badgeText = badgeList.map((b) => b.textContent).join("|");
  if (badges.dataset.text !== badgeText) {
    badges.dataset.text = badgeText;
    badges.replaceChildren(...badgeList);
  }
  const status = row.querySelector(`[data-testid="status-${id}"]`);
  status.textContent = d.status;
  status.className = `status status-${d.status}`;
  const round = row.querySelector(`[data-testid="round-${id}"]`);
  round.dataset.round = String(d.round);
  let roundText;
  if (d.status === STATUS.CREATED) roundText = `Not started (${d.total ?? "?"} ${word}s)`;
  else if (IN_PROGRESS.includes(d.status)) roundText = `${humanize(word)} ${d.round + 1} of ${d.total ?? "?"}`;
  else roundText = `${d.round} of ${d.total ?? "?"} played`;
  if (round.textContent !== roundText) round.textContent = roundText;

  const list = row.querySelector(".seats");
  for (const seat of d.seats) {
    let item = list.querySelector(`[data-role="${CSS.escape(seat.role)}"]`);
    if (!item) {
      const seatButton = button("Bot", { "data-part": "bot", "data-testid": `bot-${id}-${seat.role}` });
      seatButton.addEventListener("click", () => seatHandlers.get(row).onSeat(seat.role));
      const resetButton = button("Reset", { "data-part": "reset", "data-testid": `reset-${id}-${seat.role}` });
      resetButton.addEventListener("click", () => seatHandlers.get(row).onReset(seat.role));
      item = el("li", { class: "seat", "data-role": seat.role, "data-testid": `seat-${id}-${seat.role}` },
        el("span", { class: "who" }), el("span", { "data-part": "online" }), el("span", { "data-part": "submitted" }),
        el("span", { class: "seat-buttons" }, seatButton, resetButton));
      list.append(item);
    }
    const holder = seat.bot ? ` (bot: ${seat.bot.policy})` : seat.name ? ` · ${seat.name}` : seat.claimed ? "" : " (free)";
    const who = `${roleName(seat.role)}${holder}`;
    if (item.querySelector(".who").textContent !== who) item.querySelector(".who").textContent = who;
    mark(item.querySelector('[data-part="online"]'), seat.online, "●", "○", "online", "offline", "on", "off");
    mark(item.querySelector('[data-part="submitted"]'), seat.submitted, "✓", "–", "submitted", "not submitted", "done", "todo");
    item.dataset.online = String(Boolean(seat.online));
    item.dataset.submitted = String(Boolean(seat.submitted));
    item.dataset.bot = seat.bot ? seat.bot.policy : "";
    const seatButton = item.querySelector('[data-part="bot"]');
    const label = seat.bot ? "To person" : "Bot";
    if (seatButton.textContent !== label) seatButton.textContent = label;
    seatButton.setAttribute("aria-label", seat.bot
      ? `Give the ${seat.role} seat of ${titleOf(info)} back to a person`
      : `Hand the ${seat.role} seat of ${titleOf(info)} to a bot`);
    seatButton.hidden = !IN_PROGRESS.includes(d.status);
    const resetButton = item.querySelector('[data-part="reset"]');
    resetButton.setAttribute("aria-label", `Reset the ${seat.role} seat of ${titleOf(info)}: a new join code, whoever is on it is disconnected`);
    resetButton.hidden = !seat.claimed || !IN_PROGRESS.includes(d.status);
    item.dataset.claimed = String(Boolean(seat.claimed));
  }

  for (const node of row.querySelectorAll("button[data-action]")) {
    const action = node.dataset.action;
    if (action === "details") continue;
    if (action === "projector") {
      node.hidden = !(d.round > 0);
      continue;
    }
    if (action === "restore") node.hidden = info.active || watched;
    else node.hidden = !APPLIES[action].includes(d.status);
  }
  row.querySelector(".bot-policy").hidden = !IN_PROGRESS.includes(d.status);
  updateDeadline(row, d, clock);
}

/** The deadline cell only: redrawn twice a second. */
export function updateDeadline(row, d, clock) {
  const cell = row.querySelector(".deadline-cell");
  let text = "–";
  if (d.status === STATUS.RUNNING && typeof d.deadline === "number") {
    const left = clock.secondsUntil(d.deadline);
    text = left > 0 ? fmtDuration(left) : "closing…";
  } else if (d.status === STATUS.PAUSED) {
    text = typeof d.pausedRemaining === "number" ? `paused, ${fmtDuration(d.pausedRemaining)} left` : STATUS.PAUSED;
  }
  if (cell.textContent !== text) cell.textContent = text;
}

