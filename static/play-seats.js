// What the player page keeps in this browser (localStorage, per game): the seat's token, so a
// reload or a laptop that slept resumes the seat, and the outbox, the decision made here that the
// server has not acknowledged yet, sent again (with the same message id) once the connection is
// back.

import { loadLocal, saveLocal } from "./client.js";

const SEAT_PREFIX = "gameserver.seat.";
const OUTBOX_PREFIX = "gameserver.outbox.";

/** The game a join code belongs to: the part before the dash. */
export const gameIdOf = (code) => code.split("-")[0];

/** Every seat this browser holds a token for. */
export function savedSeats() {
  const out = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (key && key.startsWith(SEAT_PREFIX)) {
      const value = loadLocal(key);
      if (value && value.token) out.push(value);
    }
  }
  return out;
}

/** The seat kept for a game: {gameId, code, token, role, name, ...}, or null. */
export function savedSeat(gameId) {
  return loadLocal(SEAT_PREFIX + gameId);
}

export function keepSeat(seat) {
  saveLocal(SEAT_PREFIX + seat.gameId, seat);
}

/** Forget a game's seat and its outbox: its token no longer opens it, or the game is gone. */
export function forgetSeat(gameId) {
  saveLocal(SEAT_PREFIX + gameId, null);
  saveLocal(OUTBOX_PREFIX + gameId, null);
}

/** The decision not acknowledged yet: {round, id, decision}, or null. */
export function savedOutbox(gameId) {
  return loadLocal(OUTBOX_PREFIX + gameId);
}

export function keepOutbox(gameId, value) {
  saveLocal(OUTBOX_PREFIX + gameId, value);
}
