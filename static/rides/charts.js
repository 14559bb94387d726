// SVG charts of the operations dashboard, drawn the way the link dashboard draws its own
// (static/shortener/charts.js): plain SVG sized to its container, role="img" with a <title>
// and a <desc> that spells the numbers out, redrawn when the container's width changes.
import { niceTicks } from "../shortener/charts.js";

const SVG_NS = "http://www.w3.org/2000/svg";
let uid = 0;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(key, value);
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
}

function accessible(root, title, description) {
  const id = `rd-chart-${++uid}`;
  root.setAttribute("role", "img");
  root.setAttribute("aria-labelledby", `${id}-t`);
  root.setAttribute("aria-describedby", `${id}-d`);
  root.prepend(svg("title", { id: `${id}-t` }, title), svg("desc", { id: `${id}-d` }, description));
}

function sized(container, draw) {
  container.classList.add("rd-chart");
  const run = () => {
    const width = Math.round(container.clientWidth);
    if (width && width !== container._rdWidth) {
      container._rdWidth = width;
      container.replaceChildren(draw(width));
    }
  };
  container._rdWidth = 0;
  if (container._rdObserver) container._rdObserver.disconnect();
  container._rdObserver = new ResizeObserver(run);
  container._rdObserver.observe(container);
  run();
}

/** Horizontal bars, each split into coloured parts: rows [{label, parts: [{name, value, color}]}]. */
export function stackedBars(container, { rows, title, unit }) {
  const total = (row) => row.parts.reduce((sum, part) => sum + part.value, 0);
  const description = rows.map((row) => `${row.label}: ${total(row)} ${unit} (${row.parts.map((p) => `${p.value} ${p.name}`).join(", ")})`).join("; ");
  const max = Math.max(1, ...rows.map(total));
  sized(container, (width) => {
    const labelW = 84;
    const valueW = 40;
    const rowH = 34;
    const barH = 22;
    const track = Math.max(40, width - labelW - valueW);
    const root = svg("svg", { width, height: rows.length * rowH, viewBox: `0 0 ${width} ${rows.length * rowH}`, "data-chart": "stacked" });
    rows.forEach((row, i) => {
      const y = i * rowH + (rowH - barH) / 2;
      const group = svg("g", { "data-row": row.label });
      group.append(svg("rect", { x: labelW, y, width: track, height: barH, rx: 5, fill: "#f3f5fa" }));
      let x = labelW;
      for (const part of row.parts) {
        if (!part.value) continue;
        const w = (part.value / max) * track;
        group.append(svg("rect", { x, y, width: w, height: barH, fill: part.color, "data-part": part.name }, svg("title", {}, `${row.label}, ${part.name}: ${part.value}`)));
        x += w;
      }
      group.append(svg("text", { x: 0, y: y + barH / 2 + 4 }, row.label));
      group.append(svg("text", { x: width, y: y + barH / 2 + 4, "text-anchor": "end", class: "rd-chart-value" }, String(total(row))));
      root.append(group);
    });
    accessible(root, title, description);
    return root;
  });
}

/** Horizontal bars: items [{label, value, color}]. */
export function bars(container, { items, title, unit }) {
  stackedBars(container, { rows: items.map((item) => ({ label: item.label, parts: [{ name: unit, value: item.value, color: item.color }] })), title, unit });
}

/** Vertical columns with a dashed median line: values [{label, value}] in `unit`. */
export function columns(container, { values, title, unit, color = "#3b5bfd" }) {
  if (!values.length) {
    container.classList.add("rd-chart");
    if (container._rdObserver) container._rdObserver.disconnect();
    container.replaceChildren(Object.assign(document.createElement("div"), { className: "rd-chart-empty", textContent: "No dispatches yet." }));
    return;
  }
  const sorted = values.map((v) => v.value).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const description = `${values.length} rides; median ${median} ${unit}, slowest ${sorted.at(-1)} ${unit}, fastest ${sorted[0]} ${unit}.`;
  sized(container, (width) => {
    const height = 180;
    const margin = { top: 10, right: 8, bottom: 18, left: 58 };
    const innerW = width - margin.left - margin.right;
    const innerH = height - margin.top - margin.bottom;
    const ticks = niceTicks(sorted.at(-1));
    const top = ticks.at(-1);
    const y = (v) => margin.top + innerH - (v / top) * innerH;
    const step = innerW / values.length;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, "data-chart": "columns" });
    for (const tick of ticks) {
      root.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick), stroke: "#e3e6ef" }));
      root.append(svg("text", { x: margin.left - 6, y: y(tick) + 4, "text-anchor": "end" }, `${tick} ${unit}`));
    }
    values.forEach((value, i) => {
      const w = Math.min(28, Math.max(1, step * 0.72));
      root.append(svg("rect", { x: margin.left + i * step + (step - w) / 2, y: y(value.value), width: w, height: Math.max(1, innerH + margin.top - y(value.value)), rx: 2, fill: color, "data-bar": "" },
        svg("title", {}, `${value.label}: ${value.value} ${unit}`)));
    });
    root.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y(median), y2: y(median), stroke: "#f59e0b", "stroke-width": 2, "stroke-dasharray": "5 4" }));
    const labelY = y(median) < margin.top + 14 ? y(median) + 14 : y(median) - 5;
    root.append(svg("text", { x: width - margin.right, y: labelY, "text-anchor": "end", class: "rd-chart-value" }, `median ${median} ${unit}`));
    accessible(root, title, description);
    return root;
  });
}
