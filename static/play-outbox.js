// The player page's outbox: the decision made here that the server has not acknowledged yet.
// It is kept in localStorage (play-seats.js), sent again with the same message id every few
// seconds and after a reconnection until the server acknowledges it (the protocol makes such
// resends harmless), held while the game is paused or not started, and dropped, with a word to
// the player, when its round closed without it.

import { humanize } from "./format.js";
import { roundWord } from "./kinds.js";
import { showDecisionError } from "./play-decision.js";
import { keepOutbox } from "./play-seats.js";
import { ERROR, STATUS } from "/protocol.js";

const RESEND_AFTER_MS = 5000;
const OVER = new Set([STATUS.FINISHED, STATUS.ENDED]);

/** The outbox of the page's `game` (its `outbox` field), sent on `socketNow()`, the page's socket. */
export class Outbox {
  constructor(game, socketNow) {
    this.game = game;
    this.socketNow = socketNow;
    this.resendTimer = null;
  }

  /** Stop sending again (the seat is gone). */
  stopResending() {
    clearTimeout(this.resendTimer);
  }

  /** Keep `value` ({round, id, decision}, or null) as the decision not acknowledged yet. */
  set(value) {
    this.game.outbox = value;
    keepOutbox(this.game.gameId, value);
    clearTimeout(this.resendTimer);
  }

  /** After a (re)connection: was the decision made here received? If not, send it again. */
  reconcile() {
    const out = this.game.outbox;
    if (!out) return;
    if (this.game.confirmed && this.game.confirmed.id === out.id) {
      this.set(null);
    } else if (OVER.has(this.game.status)) {
      this.set(null);
    } else if (out.round >= this.game.round) {
      // the open round, or the one just closed: the server acks a duplicate if it used it
      this.send();
    } else {
      this.game.notice = `Your ${roundWord(this.game.kind)} ${out.round} decision did not reach the server in time.`;
      this.set(null);
    }
  }

  /** Send the decision, and again every few seconds until the server acknowledges it. */
  send() {
    const out = this.game.outbox;
    const socket = this.socketNow();
    if (!out || !socket || !socket.ready) return;
    if (this.game.status !== STATUS.RUNNING && out.round === this.game.openRound) return; // wait for start/resume
    socket.send({ type: "submit", round: out.round, id: out.id, decision: out.decision });
    clearTimeout(this.resendTimer);
    this.resendTimer = setTimeout(() => {
      if (this.game.outbox && this.game.outbox.id === out.id) this.send();
    }, RESEND_AFTER_MS);
  }

  /** The server's ack: true when it was for the decision kept here (the page redraws). */
  ack(ack) {
    const out = this.game.outbox;
    if (!out || ack.id !== out.id) return false;
    // The ack names what the round keeps: no decision for a resend the closed round used (it is
    // the one sent), or the decision of a newer id of this seat that replaced this one.
    const decision = ack.decision || out.decision;
    if (ack.round === this.game.openRound) {
      this.game.confirmed = { round: ack.round, decision, id: ack.superseded_by || ack.id };
    } else {
      this.game.notice = `Your ${roundWord(this.game.kind)} ${ack.round} decision was counted.`;
    }
    this.set(null);
    return true;
  }

  /** An error after the join: the decision's own (kept, sent later, or dropped) or another. */
  error(error) {
    const out = this.game.outbox;
    if (!out || error.id !== out.id) {
      this.game.notice = error.message || error.code;
      return;
    }
    switch (error.code) {
      case ERROR.PAUSED:
      case ERROR.NOT_STARTED:
        break; // stays queued; sent when the game runs
      case ERROR.STORAGE_FAILURE:
        clearTimeout(this.resendTimer);
        this.resendTimer = setTimeout(() => this.send(), 2000);
        break;
      case ERROR.INVALID_DECISION:
        this.set(null);
        showDecisionError(error.message);
        break;
      case ERROR.ROUND_CLOSED:
        this.set(null);
        this.game.notice = `${humanize(roundWord(this.game.kind))} ${out.round} closed before your decision arrived; the default was used.`;
        break;
      case ERROR.WRONG_ROUND:
        this.set(null);
        this.socketNow().send({ type: "sync" });
        break;
      default:
        this.set(null);
        this.game.notice = error.message || error.code;
    }
  }
}
