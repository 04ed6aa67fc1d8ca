// Who the dashboard is signed in as, and the credentials it holds: the admin key, a class's
// (session's) token or a game's token, and the facilitator tokens this browser was given when it
// created games. Kept for the tab (sessionStorage), or on the device when "Remember" was ticked.

import { ApiError, api } from "./client.js";
import { ERROR } from "/protocol.js";

const CREDENTIAL = "gameserver.dash.credential";
const TOKENS = "gameserver.dash.tokens";

export const auth = { credential: null, mode: null, scope: null, remember: false };
export let tokens = { games: {}, sessions: {} }; // facilitator tokens this browser was given

function area() {
  return auth.remember ? localStorage : sessionStorage;
}

/** The credential kept from an earlier visit (and its tokens), or null. */
export function loadSaved() {
  for (const storage of [sessionStorage, localStorage]) {
    const credential = storage.getItem(CREDENTIAL);
    if (credential) {
      auth.remember = storage === localStorage;
      try {
        tokens = { games: {}, sessions: {}, ...JSON.parse(storage.getItem(TOKENS) || "{}") };
      } catch {
        tokens = { games: {}, sessions: {} };
      }
      return credential;
    }
  }
  return null;
}

export function saveTokens() {
  area().setItem(TOKENS, JSON.stringify(tokens));
}

export function tokenFor(gameId) {
  if (auth.mode === "admin") return auth.credential;
  return tokens.games[gameId] || auth.credential;
}

export function sessionToken(sessionId) {
  if (auth.mode === "admin") return auth.credential;
  return tokens.sessions[sessionId] || auth.credential;
}

/** What a credential opens: the admin key, a session's token or a game's token. */
async function identify(credential) {
  try {
    await api("GET", "/api/games?limit=1", { token: credential });
    return { mode: "admin", scope: null };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  const owner = credential.split(".")[0];
  if (!credential.includes(".") || !owner) throw new ApiError("this key or token is not accepted", ERROR.BAD_TOKEN, 401);
  if (owner.startsWith("S") && owner.length === 9) {
    await api("GET", `/api/sessions/${owner}`, { token: credential });
    return { mode: "session", scope: owner };
  }
  await api("GET", `/api/games/${owner}`, { token: credential });
  return { mode: "game", scope: owner };
}

/** Sign in with a credential the server accepts, and keep it; resolves to {mode, scope}. */
export async function authenticate(credential, remember) {
  const who = await identify(credential);
  Object.assign(auth, who, { credential, remember });
  (remember ? sessionStorage : localStorage).removeItem(CREDENTIAL);
  area().setItem(CREDENTIAL, credential);
  saveTokens();
  return who;
}

/** Sign out: forget the credential and the tokens, here and on the device. */
export function forgetCredentials() {
  sessionStorage.removeItem(CREDENTIAL);
  localStorage.removeItem(CREDENTIAL);
  sessionStorage.removeItem(TOKENS);
  localStorage.removeItem(TOKENS);
  Object.assign(auth, { credential: null, mode: null, scope: null });
}
