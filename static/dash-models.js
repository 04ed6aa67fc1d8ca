// The dashboard's model games (admin only): the ones the server plays, the ones it could not
// load and why, and a form to add one: a description and its model file, read here as text and
// sent with the admin key (POST /api/models). Compiling a model runs code made from it, which is
// why only the admin key adds one.

import { api } from "./client.js";
import { el } from "./dom.js";

const $ = (id) => document.getElementById(id);

function readText(input) {
  const file = input.files && input.files[0];
  if (!file) return Promise.resolve(null);
  return file.text().then((text) => ({ name: file.name, text }));
}

/** Draw the list of model games and the errors of those that did not load. */
export async function showModels(credential) {
  const box = $("models-list");
  let answer;
  try {
    answer = await api("GET", "/api/models", { token: credential });
  } catch (err) {
    box.replaceChildren(el("p", { class: "error" }, `Could not list the model games: ${err.message}`));
    return;
  }
  const rows = answer.models.map((m) => el("li", { "data-testid": `model-${m.kind}` },
    el("strong", {}, m.title), ` (${m.kind}): ${m.model}, ${m.steps_per_round} steps of dt ${m.dt} a ${m.round_word}`));
  const errors = answer.errors.map((e) => el("li", { class: "error" }, e.error));
  box.replaceChildren(
    rows.length ? el("ul", { class: "plain" }, rows) : el("p", { class: "muted" }, "No model games yet."),
    errors.length ? el("ul", { class: "plain", "data-testid": "model-errors" }, errors) : null);
}

/** Wire the form: on success the new kind is offered at once (`onAdded` reloads the kinds). */
export function setUpModels(credential, onAdded) {
  const form = $("model-form");
  if (form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("model-status");
    status.className = "notice-area";
    const [description, model] = await Promise.all([readText($("model-description")), readText($("model-file"))]);
    if (!description || !model) {
      status.className = "error";
      status.textContent = "Choose a description (.toml or .json) and its model file.";
      return;
    }
    $("model-add").disabled = true;
    status.textContent = "Checking and compiling the model…";
    try {
      const added = await api("POST", "/api/models", { token: credential(), body: { description, model } });
      status.textContent = `Added ${added.title} (${added.kind}): it can be played now.`;
      form.reset();
      await onAdded(added.kind);
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    } finally {
      $("model-add").disabled = false;
      showModels(credential());
    }
  });
}
