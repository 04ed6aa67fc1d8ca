// Join links as QR codes on the dashboard: a "QR" button per link opens a large code with the
// short code and the URL beside it (a modal <dialog>: Escape or Close shuts it), and "Print
// handouts" shows one card per seat, laid out for A4 or Letter paper (style.css, @media print).

import { el } from "./dom.js";
import { kindTitle, roleName } from "./kinds.js";
import { qrSvg } from "./qr.js";

const $ = (id) => document.getElementById(id);

function gameTitle(info) {
  return info.title || `Game ${info.game_id}`;
}

/** Every join link of a game: one per seat, then the open-join code when the game has one. */
export function joinLinks(info) {
  const links = info.join.map((l) => ({ key: l.role, label: roleName(l.role), code: l.code, url: l.url }));
  if (info.open_join) {
    links.push({ key: "open", label: "Any free role", code: info.open_join.code, url: info.open_join.url, open: true });
  }
  return links;
}

export function qrLabel(info, link) {
  return `QR code for ${link.label} of ${gameTitle(info)}: ${link.url}`;
}

function startPage(url) {
  try {
    return `${new URL(url).origin}/`;
  } catch {
    return "the start page";
  }
}

// -- one code, large ------------------------------------------------------------------------

let shown = null; // {info, links, index, opener}

function dialog() {
  let node = $("qr-dialog");
  if (node.dataset.ready) return node;
  node.dataset.ready = "1";
  const previous = el("button", { type: "button", id: "qr-previous", "aria-label": "Previous link", onclick: () => step(-1) }, "‹ Previous");
  const next = el("button", { type: "button", id: "qr-next", "aria-label": "Next link", onclick: () => step(1) }, "Next ›");
  const close = el("button", { type: "button", id: "qr-close", class: "primary", onclick: () => node.close() }, "Close");
  node.replaceChildren(el("div", { class: "qr-view" },
    el("div", { class: "qr-figure", id: "qr-figure" }),
    el("div", { class: "qr-text" },
      el("h2", { id: "qr-heading" }),
      el("p", { id: "qr-game", class: "muted" }),
      el("dl", { class: "qr-facts" },
        el("dt", {}, "Code"), el("dd", { id: "qr-code", class: "code", "data-testid": "qr-code" }),
        el("dt", {}, "Link"), el("dd", { class: "qr-url" }, el("a", { id: "qr-url", target: "_blank", rel: "noopener" }))),
      el("p", { id: "qr-help", class: "help" }),
      el("div", { class: "toolbar" }, previous, next, close))));
  // a click on the backdrop (outside the box) closes too, handy on a phone
  node.addEventListener("click", (event) => {
    if (event.target === node) node.close();
  });
  node.addEventListener("close", () => {
    const opener = shown && shown.opener;
    shown = null;
    if (opener && opener.isConnected) opener.focus();
  });
  return node;
}

function step(delta) {
  if (!shown) return;
  shown.index = (shown.index + delta + shown.links.length) % shown.links.length;
  fill();
}

function fill() {
  const { info, links, index } = shown;
  const link = links[index];
  const figure = $("qr-figure");
  figure.replaceChildren(qrSvg(link.url, qrLabel(info, link)));
  figure.dataset.testid = "qr-figure";
  figure.dataset.role = link.key;
  $("qr-heading").textContent = link.label;
  $("qr-game").textContent = `${gameTitle(info)} (${info.game_id}) · link ${index + 1} of ${links.length}`;
  $("qr-code").textContent = link.code;
  $("qr-url").textContent = link.url;
  $("qr-url").href = link.url;
  $("qr-help").textContent = link.open
    ? `Scan with a phone camera, open the link, or type the code at ${startPage(link.url)}; each student picks a free role.`
    : `Scan with a phone camera, open the link, or type the code at ${startPage(link.url)}.`;
  const many = links.length > 1;
  $("qr-previous").hidden = !many;
  $("qr-next").hidden = !many;
}

/** Show the QR code of `info`'s link number `index` (in joinLinks order). */
export function showQr(info, index, opener = document.activeElement) {
  const node = dialog();
  shown = { info, links: joinLinks(info), index, opener };
  fill();
  if (!node.open) node.showModal();
  $("qr-close").focus();
}

/** The "QR" button of one link in a links table. */
export function qrButton(info, index) {
  const link = joinLinks(info)[index];
  const node = el("button", {
    type: "button", class: "small", "data-testid": `qr-${info.game_id}-${link.key}`,
    "aria-label": `Show the ${link.label} link of ${gameTitle(info)} as a QR code`,
    "aria-haspopup": "dialog",
  }, "QR");
  node.addEventListener("click", () => showQr(info, index, node));
  return node;
}

// -- handouts -------------------------------------------------------------------------------

let handoutOpener = null;

function card(info, link) {
  const kind = kindTitle(info.kind);
  return el("article", { class: "handout-card", "data-testid": "handout-card", "data-code": link.code, "aria-label": `${link.label}, ${gameTitle(info)}` },
    el("p", { class: "handout-game" }, `${gameTitle(info)} · ${kind}`),
    el("h3", { class: "handout-role" }, link.open ? "Any free role" : `You play: ${link.label}`),
    el("div", { class: "handout-qr" }, qrSvg(link.url, qrLabel(info, link))),
    el("p", { class: "handout-code" }, "Code ", el("strong", { class: "code", "data-testid": "handout-code" }, link.code)),
    el("p", { class: "handout-url" }, link.url),
    el("p", { class: "handout-help" }, `Scan with your phone's camera, or open the link, or type the code at ${startPage(link.url)}`));
}

function onKey(event) {
  if (event.key === "Escape" && !$("handouts").hidden) {
    event.preventDefault();
    closeHandouts();
  }
}

export function closeHandouts() {
  $("handouts").hidden = true;
  document.body.classList.remove("handouts-open");
  document.removeEventListener("keydown", onKey);
  const opener = handoutOpener;
  handoutOpener = null;
  if (opener && opener.isConnected) opener.focus();
}

/** The print view: one card per seat (and per open-join code) of every game in `infos`. */
export function showHandouts(infos, opener = document.activeElement) {
  const section = $("handouts");
  const cards = infos.flatMap((info) => joinLinks(info).map((link) => card(info, link)));
  const what = infos.length === 1 ? gameTitle(infos[0]) : `${infos.length} games`;
  $("handouts-heading").textContent = `Handouts: ${what}, ${cards.length} card${cards.length === 1 ? "" : "s"}`;
  $("handout-cards").replaceChildren(...cards);
  if (!section.dataset.ready) {
    section.dataset.ready = "1";
    $("handouts-print").addEventListener("click", () => window.print());
    $("handouts-close").addEventListener("click", closeHandouts);
  }
  handoutOpener = opener;
  section.hidden = false;
  document.body.classList.add("handouts-open");
  document.addEventListener("keydown", onKey);
  window.scrollTo(0, 0);
  $("handouts-heading").focus();
}
