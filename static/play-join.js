// The player page's join form: a seat's link or a typed code, the seats this browser can
// resume, and for a game's open code the role picker (free roles to choose, taken ones shown
// disabled). Before anything is claimed the page asks what a code opens (GET /api/join/{code}).

import { ApiError, api, joinIdFor } from "./client.js";
import { el } from "./dom.js";
import { ensureKind, kindTitle, roleName } from "./kinds.js";
import { gameIdOf, savedSeat, savedSeats } from "./play-seats.js";
import { STATUS } from "/protocol.js";

const $ = (id) => document.getElementById(id);
const OVER = new Set([STATUS.FINISHED, STATUS.ENDED]);

let onSeat = () => {}; // the page's connect(seat): joins, or resumes a saved seat

/** Wire the join form; `connect(seat)` is called with the seat to join or resume. */
export function setUpJoin(connect) {
  onSeat = connect;
  $("join-form").addEventListener("submit", onJoinSubmit);
  $("join-code").addEventListener("change", () => {
    const code = $("join-code").value.trim().toUpperCase();
    if (/^[0-9A-Z]+-[0-9A-Z]+$/.test(code)) probe(code);
  });
}

export function showJoin(code, message = "") {
  $("join-section").hidden = false;
  $("game-section").hidden = true;
  $("join-code").value = code;
  $("join-error").textContent = message;
  const seats = savedSeats();
  const box = $("saved-seats");
  box.replaceChildren();
  if (seats.length) {
    box.append(el("p", {}, "Continue a game you joined on this device:"),
      el("ul", { class: "plain" }, seats.map((s) => el("li", {},
        el("button", { type: "button", onclick: () => onSeat({ ...s }) },
          `${roleName(s.role)} in game ${s.gameId}${s.name ? ` (${s.name})` : ""}`)))));
  }
  if (code) probe(code);
  else $("join-code").focus();
}

/**
 * Learn what a code opens without claiming anything (GET /api/join/{code}): a seat's code names
 * its seat, a game's open code lists the roles and which are free, an unknown code is a 404.
 * Resolves to the join info, {unknown: true}, or null when the server could not be asked.
 */
const probes = new Map(); // code -> the question in flight, so a change and a submit ask once

function probe(code) {
  const info = $("seat-info");
  info.hidden = true;
  $("role-picker").hidden = true;
  $("join-code").dataset.kind = "";
  $("join-button").disabled = false;
  if (!probes.has(code)) {
    const asking = api("GET", `/api/join/${encodeURIComponent(code)}`)
      .catch((err) => (err instanceof ApiError && err.status === 404 ? { unknown: true } : null))
      .finally(() => probes.delete(code)); // seats get taken: ask afresh next time
    probes.set(code, asking);
  }
  return probes.get(code).then(async (answer) => {
    const typed = $("join-code").value.trim().toUpperCase();
    if (typed !== code) return answer; // the player typed another code meanwhile
    $("join-code").dataset.probed = code;
    if (!answer) return null;
    if (answer.unknown) {
      $("join-error").textContent = `No game has the code ${code}. Check it and try again, or ask your facilitator for a new one.`;
      $("join-code").dataset.kind = "unknown";
      return answer;
    }
    await ensureKind(answer.kind).catch(() => null); // its title; the kind's name will do
    const game = answer.title ? `${answer.title} (${kindTitle(answer.kind)})` : kindTitle(answer.kind);
    const over = OVER.has(answer.status) ? " This game is over." : "";
    // A join started on this device (its join id is kept) gets its seat back by joining again.
    const tried = Boolean(joinIdFor(code, { create: false }));
    const back = " If you joined it from this device, Join gets it back.";
    if (answer.open) {
      const free = answer.roles.filter((r) => r.free).length;
      info.textContent = free
        ? `This code opens ${game}: choose a free role.${over}`
        : `Every seat of ${game} is taken.${over}`
          + (tried ? back : " If one is yours, continue on the device you joined with, or ask your facilitator.");
      showRolePicker(answer.roles, answer.kind, tried);
      $("join-code").dataset.kind = "open";
    } else {
      const taken = answer.roles.some((r) => r.role === answer.role && !r.free);
      info.textContent = `This code is for the ${roleName(answer.role, answer.kind)} seat of ${game}.${over}`
        + (taken ? ` That seat is already taken.${tried ? back : " If it is yours, continue on the device you joined with, or ask your facilitator for a new code."}` : "");
      $("join-code").dataset.kind = "seat";
    }
    info.hidden = false;
    return answer;
  });
}

/**
 * The open join's role picker: free roles can be chosen, taken ones are shown disabled. `tried`:
 * this device sent a join with this code before, which gets its seat back even when none is free.
 */
function showRolePicker(roles, kind, tried = false) {
  const box = $("role-options");
  box.replaceChildren();
  const option = (value, text, { checked = false, disabled = false } = {}) => {
    const id = `role-${value || "any"}`;
    return el("div", { class: `choice${disabled ? " taken" : ""}` },
      el("input", { type: "radio", name: "role", id, value, checked, disabled }),
      el("label", { for: id }, text));
  };
  const anyFree = roles.some((r) => r.free);
  box.append(
    option("", "Any free role", { checked: anyFree, disabled: !anyFree }),
    ...roles.map((r) => option(r.role, r.free ? roleName(r.role, kind) : `${roleName(r.role, kind)} (taken)`, { disabled: !r.free })),
  );
  $("role-picker").hidden = false;
  $("join-button").disabled = !anyFree && !tried;
}

async function onJoinSubmit(event) {
  event.preventDefault();
  const code = $("join-code").value.trim().toUpperCase();
  if (!/^[0-9A-Z]+-[0-9A-Z]+$/.test(code)) {
    $("join-error").textContent = "Enter a join code like K7P2QXMB-M4TA.";
    $("join-code").focus();
    return;
  }
  $("join-error").textContent = "";
  const url = new URL(location.href);
  if (url.searchParams.get("code") !== code) {
    url.searchParams.set("code", code);
    history.replaceState(null, "", url);
  }
  const saved = savedSeat(gameIdOf(code));
  if (saved && saved.token) {
    onSeat({ ...saved });
    return;
  }
  if ($("join-code").dataset.probed !== code) {
    const answer = await probe(code);
    // an open code: let the player see the roles before taking one
    if (answer && (answer.open || answer.unknown)) return;
  }
  if ($("join-code").dataset.kind === "unknown") {
    probe(code); // maybe the code is known by now (a facilitator's typo fixed): ask again
    return;
  }
  const picked = document.querySelector('input[name="role"]:checked');
  const open = $("join-code").dataset.kind === "open";
  const role = $("role-picker").hidden || !picked ? null : picked.value || null;
  const name = $("join-name").value.trim() || null;
  $("join-button").disabled = true;
  onSeat({ gameId: gameIdOf(code), code, token: null, role, name, open });
}
