// Values as the pages write them: names, numbers, money, durations, lists, and the texts a game
// declares with `{path}` filled in from its view.

export function humanize(key) {
  const text = String(key).replace(/[_-]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function fmt(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

export function fmtMoney(value) {
  if (typeof value !== "number") return "–";
  const sign = value < 0 ? "−" : "";
  const text = Math.abs(value).toLocaleString("en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return `${sign}$${text}`;
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function listWords(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** The value at a dotted path of an object (`history.order`), or undefined. */
export function at(object, path) {
  let value = object;
  for (const part of String(path).split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = value[part];
  }
  return value;
}

const PICKS = {
  min: (list) => Math.min(...list),
  max: (list) => Math.max(...list),
  first: (list) => list[0],
  last: (list) => list[list.length - 1],
};

/** A declared text with `{path}` (or `{path|min}`, max, first, last of a list) filled in. */
export function fill(text, view) {
  return String(text || "").replace(/\{([\w.-]+)(?:\|(\w+))?\}/g, (whole, path, pick) => {
    let value = at(view, path);
    if (pick) {
      const list = Array.isArray(value) ? value.filter((v) => typeof v === "number") : [];
      value = list.length && PICKS[pick] ? PICKS[pick](list) : undefined;
    }
    return value === undefined ? "–" : fmt(value);
  });
}

/** A number as a figure's format says: "money", "percent" or plain. */
export function fmtAs(format, value) {
  if (format === "money") return fmtMoney(value);
  if (format === "percent") return typeof value === "number" ? `${fmt(value * 100)}%` : "–";
  return fmt(value);
}

/** A decision as words: "order 8", or "price 12, advertising 3". */
export function decisionWords(decision) {
  return Object.entries(decision || {}).map(([key, value]) => `${key} ${fmt(value)}`).join(", ");
}
