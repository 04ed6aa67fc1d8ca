// Plain inline SVG charts: a line chart for figures over rounds and a bar chart for comparisons.
// Each returns a <figure> with a caption, an SVG that scales to its box, and a legend that does not
// rely on colour alone (every line also has its own dash pattern).

const NS = "http://www.w3.org/2000/svg";

// Okabe-Ito: told apart by people with the common colour-vision deficiencies.
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8c6d1f", "#555555"];
const DASHES = ["", "7 3", "2 3", "9 3 2 3", "4 4", "1 2", "12 4", "6 2 2 2"];

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function text(x, y, content, attrs = {}) {
  const node = svg("text", { x, y, ...attrs });
  node.textContent = content;
  return node;
}

/** Round numbers for an axis from lo to hi, about `count` of them. */
export function ticks(lo, hi, count = 4) {
  if (hi === lo) hi = lo + 1;
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const first = Math.floor(lo / step) * step;
  const out = [];
  for (let v = first; v < hi + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(value) {
  const abs = Math.abs(value);
  if (abs >= 10000) return `${Number((value / 1000).toPrecision(3))}k`;
  return String(Number(value.toPrecision(6)));
}

function figure(title, chart, legendItems, summary) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  chart.setAttribute("role", "img");
  chart.setAttribute("aria-label", `${title}. ${summary}`);
  fig.append(caption, chart);
  if (legendItems.length > 1) {
    const legend = document.createElement("ul");
    legend.className = "legend";
    legend.setAttribute("aria-hidden", "true"); // the chart's label already names every line
    for (const item of legendItems) {
      const li = document.createElement("li");
      const key = svg("svg", { width: 26, height: 10, viewBox: "0 0 26 10" });
      key.append(item.swatch);
      li.append(key, document.createTextNode(item.name));
      legend.append(li);
    }
    fig.append(legend);
  }
  return fig;
}

/**
 * A line chart. series: [{name, values: [numbers], color?, dash?, width?}].
 * `start` is the x of values[0] (1 for week 1; 0 when the first value is the starting level).
 */
export function lineChart({ title, series, start = 1, xLabel = "", width = 440, height = 210 }) {
  const shown = series.filter((s) => Array.isArray(s.values) && s.values.length);
  const margin = { left: 42, right: 12, top: 10, bottom: xLabel ? 36 : 24 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart-svg",
    preserveAspectRatio: "xMidYMid meet",
  });
  const all = shown.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const n = Math.max(0, ...shown.map((s) => s.values.length));
  if (!all.length) {
    chart.append(text(width / 2, height / 2, "no data yet", { "text-anchor": "middle", class: "axis" }));
    return figure(title, chart, [], "No data yet.");
  }
  const yTicks = ticks(Math.min(0, ...all), Math.max(...all));
  const yLo = yTicks[0];
  const yHi = yTicks[yTicks.length - 1];
  const xLo = start;
  const xHi = Math.max(start + 1, start + n - 1);
  const x = (i) => margin.left + ((i - xLo) / (xHi - xLo)) * plotW;
  const y = (v) => margin.top + plotH - ((v - yLo) / (yHi - yLo)) * plotH;

  const grid = svg("g", { class: "grid" });
  for (const t of yTicks) {
    grid.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y(t), y2: y(t) }));
    grid.append(text(margin.left - 6, y(t) + 4, label(t), { "text-anchor": "end", class: "axis" }));
  }
  for (const t of ticks(xLo, xHi, Math.min(8, Math.max(1, xHi - xLo)))) {
    if (t < xLo || t > xHi || !Number.isInteger(t)) continue;
    grid.append(text(x(t), height - margin.bottom + 16, String(t), { "text-anchor": "middle", class: "axis" }));
  }
  if (xLabel) {
    grid.append(text(margin.left + plotW / 2, height - 4, xLabel, { "text-anchor": "middle", class: "axis" }));
  }
  chart.append(grid);

  const legendItems = [];
  const summary = [];
  shown.forEach((s, index) => {
    const color = s.color || PALETTE[index % PALETTE.length];
    const dash = s.dash ?? DASHES[index % DASHES.length];
    const strokeWidth = s.width || 2.2;
    const points = s.values
      .map((v, i) => (typeof v === "number" ? `${x(start + i).toFixed(1)},${y(v).toFixed(1)}` : null))
      .filter(Boolean);
    chart.append(svg("polyline", {
      points: points.join(" "),
      fill: "none",
      stroke: color,
      "stroke-width": strokeWidth,
      "stroke-dasharray": dash || null,
      "stroke-linejoin": "round",
      "stroke-linecap": "round",
    }));
    if (s.values.length <= 24) {
      s.values.forEach((v, i) => {
        if (typeof v === "number") {
          chart.append(svg("circle", { cx: x(start + i), cy: y(v), r: 2.6, fill: color }));
        }
      });
    }
    legendItems.push({
      name: s.name,
      swatch: svg("line", {
        x1: 1, x2: 25, y1: 5, y2: 5, stroke: color, "stroke-width": 2.5, "stroke-dasharray": dash || null,
      }),
    });
    const nums = s.values.filter((v) => typeof v === "number");
    summary.push(`${s.name}: last ${label(nums[nums.length - 1])}, lowest ${label(Math.min(...nums))}, highest ${label(Math.max(...nums))}`);
  });
  return figure(title, chart, legendItems, `${summary.join("; ")}.`);
}

/** Horizontal bars: bars [{label, value, color?}]; `format` turns a value into its label. */
export function barChart({ title, bars, format = label, width = 520 }) {
  const row = 26;
  const margin = { left: 150, right: 80, top: 6, bottom: 6 };
  const height = margin.top + margin.bottom + row * Math.max(1, bars.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg" });
  const values = bars.map((b) => b.value).filter((v) => typeof v === "number");
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values, lo + 1);
  const plotW = width - margin.left - margin.right;
  const x = (v) => margin.left + ((v - lo) / (hi - lo)) * plotW;
  bars.forEach((b, i) => {
    const top = margin.top + i * row;
    chart.append(text(margin.left - 8, top + row / 2 + 4, b.label, { "text-anchor": "end", class: "axis" }));
    if (typeof b.value !== "number") return;
    const x0 = x(Math.min(0, b.value));
    const w = Math.max(1, Math.abs(x(b.value) - x(0)));
    chart.append(svg("rect", {
      x: x0, y: top + 4, width: w, height: row - 8, rx: 3, fill: b.color || PALETTE[i % PALETTE.length],
    }));
    chart.append(text(x0 + w + 6, top + row / 2 + 4, format(b.value), { class: "axis" }));
  });
  const summary = bars.map((b) => `${b.label}: ${format(b.value)}`).join("; ");
  const out = figure(title, chart, [], `${summary}.`);
  out.classList.add("bars");
  return out;
}
