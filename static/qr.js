// QR codes as crisp SVG: a small ES-module wrapper around the vendored qrcode-generator
// (static/vendor/qrcode-generator-2.0.4/qrcode.js, loaded as a plain script before the modules;
// it defines the global `qrcode`). Only the library's data model is used; the SVG is drawn here.

const SVG = "http://www.w3.org/2000/svg";
export const QR_LEVEL = "M"; // about 15% of the code can be damaged or covered and it still scans
export const QR_MARGIN = 4; // the quiet zone the standard asks for, in modules

/** The modules of `text`'s QR code: rows of booleans, true for dark. */
export function qrMatrix(text) {
  const make = globalThis.qrcode;
  if (typeof make !== "function") throw new Error("the QR code library did not load");
  const qr = make(0, QR_LEVEL); // 0: the smallest version the text fits in
  qr.addData(text); // byte mode, UTF-8
  qr.make();
  const size = qr.getModuleCount();
  return Array.from({ length: size }, (_, row) => Array.from({ length: size }, (__, col) => qr.isDark(row, col)));
}

/**
 * An <svg> of `text`'s QR code, labelled `label` for screen readers. One path of unit squares
 * in a viewBox of whole modules: it scales to any size without blur (and prints sharp).
 */
export function qrSvg(text, label) {
  const matrix = qrMatrix(text);
  const size = matrix.length + 2 * QR_MARGIN;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("class", "qr-svg");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.dataset.text = text;
  const back = document.createElementNS(SVG, "rect");
  back.setAttribute("width", String(size));
  back.setAttribute("height", String(size));
  back.setAttribute("fill", "#fff");
  const parts = [];
  matrix.forEach((cells, row) => cells.forEach((dark, col) => {
    if (dark) parts.push(`M${col + QR_MARGIN},${row + QR_MARGIN}h1v1h-1z`);
  }));
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", parts.join(""));
  path.setAttribute("fill", "#000");
  svg.append(back, path);
  return svg;
}
