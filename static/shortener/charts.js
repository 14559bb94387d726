// Hand-written SVG charts for the link dashboard: a time-series area chart with
// hover/keyboard tooltips, horizontal bar lists and donuts. Each chart is an
// accessible image (role="img" + <title>/<desc> that spell the numbers out) and
// re-renders when its container changes width.

const SVG_NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#3b5bfd", "#14b8a6", "#f59e0b", "#e2557b", "#8b5cf6", "#22a05a", "#0ea5e9", "#f97316", "#64748b", "#a3a948"];
let uid = 0;

function svgEl(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function htmlEl(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const numberFormat = new Intl.NumberFormat();
const fmt = (value) => numberFormat.format(value || 0);
const plural = (value, word) => `${fmt(value)} ${word}${value === 1 ? "" : "s"}`;

// Integer tick values from 0 to a "nice" top that covers max.
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = Math.max(1, (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude);
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let value = 0; value <= top + step / 2; value += step) ticks.push(value);
  return ticks;
}

function observeWidth(container, draw) {
  let lastWidth = 0;
  const run = () => {
    const width = Math.round(container.clientWidth);
    if (width && width !== lastWidth) {
      lastWidth = width;
      draw(width);
    }
  };
  run();
  if (container._chartObserver) container._chartObserver.disconnect();
  const observer = new ResizeObserver(run);
  observer.observe(container);
  container._chartObserver = observer;
}

function emptyChart(container, text) {
  if (container._chartObserver) container._chartObserver.disconnect();
  container.replaceChildren(htmlEl("div", { class: "sh-chart-empty" }, text));
}

function formatBucket(iso, granularity, { long = false } = {}) {
  const date = new Date(iso);
  if (granularity === "hour") {
    const options = long
      ? { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" };
    return new Intl.DateTimeFormat(undefined, options).format(date);
  }
  // Day buckets are UTC days: label them as such, or viewers west of UTC would see the day before.
  const options = long ? { weekday: "short", year: "numeric", month: "short", day: "numeric" } : { month: "short", day: "numeric" };
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" }).format(date);
}

/**
 * Clicks over time.
 * options: { series: [{bucket, ...}], granularity: "hour"|"day", title,
 *            lines: [{key, label, color}] }  (the first line gets the filled area)
 */
export function timeSeriesChart(container, { series, granularity, title, lines }) {
  container.classList.add("sh-chart");
  if (!series || !series.length) {
    emptyChart(container, "No data for this range.");
    return;
  }
  const id = `sh-ts-${++uid}`;
  const total = (key) => series.reduce((sum, point) => sum + (point[key] || 0), 0);
  const peak = series.reduce((best, point) => ((point[lines[0].key] || 0) > (best[lines[0].key] || 0) ? point : best), series[0]);
  const description = `${lines.map((line) => `${line.label}: ${fmt(total(line.key))} in total`).join("; ")}. `
    + `From ${formatBucket(series[0].bucket, granularity, { long: true })} to ${formatBucket(series.at(-1).bucket, granularity, { long: true })}, `
    + `${series.length} ${granularity === "hour" ? "hours" : "days"}. `
    + (peak[lines[0].key] ? `Peak: ${plural(peak[lines[0].key], "click")} at ${formatBucket(peak.bucket, granularity, { long: true })}.` : "No clicks yet.");

  const tooltip = htmlEl("div", { class: "sh-tooltip", hidden: true, role: "status" });

  function draw(width) {
    const height = Math.round(Math.min(300, Math.max(190, width * 0.34)));
    const margin = { top: 14, right: 14, bottom: 30, left: 44 };
    const innerW = Math.max(10, width - margin.left - margin.right);
    const innerH = height - margin.top - margin.bottom;
    const n = series.length;
    const maxValue = Math.max(...lines.flatMap((line) => series.map((point) => point[line.key] || 0)));
    const ticks = niceTicks(maxValue);
    const top = ticks.at(-1);
    const x = (i) => margin.left + (n === 1 ? innerW / 2 : (i * innerW) / (n - 1));
    const y = (value) => margin.top + innerH - ((value || 0) / top) * innerH;

    const svg = svgEl("svg", {
      viewBox: `0 0 ${width} ${height}`, width, height, role: "img", tabindex: "0",
      "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-desc`, "data-chart": "timeseries",
    });
    svg.append(svgEl("title", { id: `${id}-title` }, title), svgEl("desc", { id: `${id}-desc` }, description));

    const defs = svgEl("defs");
    lines.forEach((line, index) => {
      defs.append(svgEl("linearGradient", { id: `${id}-grad-${index}`, x1: 0, x2: 0, y1: 0, y2: 1 },
        svgEl("stop", { offset: "0%", "stop-color": line.color, "stop-opacity": index === 0 ? 0.28 : 0.12 }),
        svgEl("stop", { offset: "100%", "stop-color": line.color, "stop-opacity": 0 })));
    });
    svg.append(defs);

    const axis = svgEl("g", { class: "sh-axis", "aria-hidden": "true" });
    for (const tick of ticks) {
      axis.append(svgEl("line", { class: "sh-grid-line", x1: margin.left, x2: margin.left + innerW, y1: y(tick), y2: y(tick), "stroke-dasharray": tick ? "3 4" : null }));
      axis.append(svgEl("text", { x: margin.left - 8, y: y(tick) + 4, "text-anchor": "end" }, fmt(tick)));
    }
    const labelEvery = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(innerW / 78))));
    for (let i = 0; i < n; i += labelEvery) {
      const anchor = n === 1 ? "middle" : i === 0 ? "start" : i === n - 1 ? "end" : "middle";
      axis.append(svgEl("text", { x: x(i), y: height - 8, "text-anchor": anchor }, formatBucket(series[i].bucket, granularity)));
    }
    svg.append(axis);

    const plot = svgEl("g", { "aria-hidden": "true" });
    lines.forEach((line, index) => {
      const points = series.map((point, i) => [x(i), y(point[line.key])]);
      const path = points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
      const baseline = y(0).toFixed(1);
      const area = n === 1
        ? `M${x(0) - 6},${baseline}L${x(0) - 6},${points[0][1]}L${x(0) + 6},${points[0][1]}L${x(0) + 6},${baseline}Z`
        : `${path}L${points.at(-1)[0].toFixed(1)},${baseline}L${points[0][0].toFixed(1)},${baseline}Z`;
      plot.append(svgEl("path", { d: area, fill: `url(#${id}-grad-${index})` }));
      plot.append(svgEl("path", {
        d: path, fill: "none", stroke: line.color, "stroke-width": index === 0 ? 2.5 : 1.75,
        "stroke-linejoin": "round", "stroke-linecap": "round", "stroke-dasharray": index === 0 ? null : "5 4",
        "data-series": line.key,
      }));
      if (n <= 40) {
        for (const [px, py] of points) plot.append(svgEl("circle", { cx: px, cy: py, r: index === 0 ? 2.5 : 2, fill: line.color }));
      }
    });
    svg.append(plot);

    const guide = svgEl("line", { x1: 0, x2: 0, y1: margin.top, y2: margin.top + innerH, stroke: "#9aa3b8", "stroke-width": 1, visibility: "hidden", "aria-hidden": "true" });
    const dots = lines.map((line) => svgEl("circle", { r: 5, fill: "#fff", stroke: line.color, "stroke-width": 2.5, visibility: "hidden", "aria-hidden": "true" }));
    svg.append(guide, ...dots);
    const overlay = svgEl("rect", { x: margin.left, y: margin.top, width: innerW, height: innerH, fill: "transparent", "data-hover": "" });
    svg.append(overlay);

    let active = -1;
    const show = (index) => {
      active = Math.max(0, Math.min(n - 1, index));
      const point = series[active];
      guide.setAttribute("x1", x(active));
      guide.setAttribute("x2", x(active));
      guide.setAttribute("visibility", "visible");
      lines.forEach((line, i) => {
        dots[i].setAttribute("cx", x(active));
        dots[i].setAttribute("cy", y(point[line.key]));
        dots[i].setAttribute("visibility", "visible");
      });
      tooltip.replaceChildren(
        htmlEl("strong", {}, formatBucket(point.bucket, granularity, { long: true })),
        ...lines.map((line) => htmlEl("div", {}, htmlEl("span", { class: "sh-dot", style: `background:${line.color}` }), ` ${line.label}: ${fmt(point[line.key])}`)),
      );
      const scale = svg.getBoundingClientRect().width / width || 1;
      const minY = Math.min(...lines.map((line) => y(point[line.key])));
      tooltip.style.left = `${Math.min(Math.max(x(active) * scale, 70), width * scale - 70)}px`;
      // Near the top edge the tooltip would cover the heading: put it below the point instead.
      tooltip.classList.toggle("below", minY * scale < 90);
      tooltip.style.top = `${minY * scale}px`;
      tooltip.hidden = false;
    };
    const hide = () => {
      guide.setAttribute("visibility", "hidden");
      dots.forEach((dot) => dot.setAttribute("visibility", "hidden"));
      tooltip.hidden = true;
    };
    const indexAt = (event) => {
      const rect = svg.getBoundingClientRect();
      const px = ((event.clientX - rect.left) / rect.width) * width;
      return n === 1 ? 0 : Math.round(((px - margin.left) / innerW) * (n - 1));
    };
    overlay.addEventListener("pointermove", (event) => show(indexAt(event)));
    overlay.addEventListener("pointerdown", (event) => show(indexAt(event)));
    overlay.addEventListener("pointerleave", hide);
    svg.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        show(active < 0 ? n - 1 : active + (event.key === "ArrowRight" ? 1 : -1));
      } else if (event.key === "Home") { event.preventDefault(); show(0); }
      else if (event.key === "End") { event.preventDefault(); show(n - 1); }
      else if (event.key === "Escape") hide();
    });
    svg.addEventListener("blur", hide);

    container.replaceChildren(svg, tooltip);
  }

  observeWidth(container, draw);
}

/**
 * Horizontal bars behind their labels (top items of a breakdown).
 * options: { items: [{name, clicks}], title, color, label: (name) => string }
 */
export function barChart(container, { items, title, color = PALETTE[0], label = (name) => name }) {
  container.classList.add("sh-chart");
  if (!items || !items.length) {
    emptyChart(container, "No clicks in this range.");
    return;
  }
  const id = `sh-bar-${++uid}`;
  const total = items.reduce((sum, item) => sum + item.clicks, 0);
  const max = Math.max(...items.map((item) => item.clicks), 1);
  const pct = (value) => (total ? Math.round((value / total) * 100) : 0);
  const description = items.map((item) => `${label(item.name)}: ${plural(item.clicks, "click")} (${pct(item.clicks)}%)`).join("; ");

  function draw(width) {
    const rowH = 34;
    const barH = 28;
    const valueW = 78;
    const height = items.length * rowH;
    const trackW = Math.max(40, width - valueW);
    const svg = svgEl("svg", {
      viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-desc`, "data-chart": "bar",
    });
    svg.append(svgEl("title", { id: `${id}-title` }, title), svgEl("desc", { id: `${id}-desc` }, description));
    const maxChars = Math.max(6, Math.floor((trackW - 20) / 7.2));
    items.forEach((item, index) => {
      const top = index * rowH + (rowH - barH) / 2;
      const name = label(item.name);
      const shown = name.length > maxChars ? `${name.slice(0, maxChars - 1)}…` : name;
      const barW = Math.max(4, (item.clicks / max) * trackW);
      svg.append(svgEl("g", { class: "sh-bar" },
        svgEl("title", {}, `${name}: ${plural(item.clicks, "click")} (${pct(item.clicks)}%)`),
        svgEl("rect", { x: 0, y: top, width: trackW, height: barH, rx: 6, fill: "#f3f5fa" }),
        svgEl("rect", { class: "sh-bar-fill", x: 0, y: top, width: barW, height: barH, rx: 6, fill: color, "fill-opacity": 0.22 }),
        svgEl("rect", { x: 0, y: top, width: 3, height: barH, rx: 1.5, fill: color }),
        svgEl("text", { class: "sh-bar-label", x: 12, y: top + barH / 2 + 4.5 }, shown),
        svgEl("text", { class: "sh-bar-value", x: width, y: top + barH / 2 + 4.5, "text-anchor": "end" },
          svgEl("tspan", { "font-weight": 600, fill: "#1d2230" }, fmt(item.clicks)), `  ${pct(item.clicks)}%`),
      ));
    });
    container.replaceChildren(svg);
  }

  observeWidth(container, draw);
}

/**
 * Share of a whole as a donut with a legend; beyond `limit` slices the rest is "Other".
 * options: { items: [{name, clicks}], title, label: (name) => string, limit }
 */
export function donutChart(container, { items, title, label = (name) => name, limit = 5 }) {
  container.classList.add("sh-chart");
  if (!items || !items.length) {
    emptyChart(container, "No clicks in this range.");
    return;
  }
  const id = `sh-donut-${++uid}`;
  let slices = items.map((item) => ({ name: label(item.name), clicks: item.clicks }));
  if (slices.length > limit) {
    const rest = slices.slice(limit - 1).reduce((sum, item) => sum + item.clicks, 0);
    slices = [...slices.slice(0, limit - 1), { name: "Other", clicks: rest }];
  }
  const total = slices.reduce((sum, item) => sum + item.clicks, 0);
  const pct = (value) => (total ? Math.round((value / total) * 100) : 0);
  const description = slices.map((slice) => `${slice.name}: ${plural(slice.clicks, "click")} (${pct(slice.clicks)}%)`).join("; ");

  const size = 150;
  const radius = 56;
  const stroke = 22;
  const circumference = 2 * Math.PI * radius;
  const svg = svgEl("svg", {
    viewBox: `0 0 ${size} ${size}`, role: "img", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-desc`, "data-chart": "donut",
  });
  svg.append(svgEl("title", { id: `${id}-title` }, title), svgEl("desc", { id: `${id}-desc` }, description));
  svg.append(svgEl("circle", { cx: size / 2, cy: size / 2, r: radius, fill: "none", stroke: "#f0f2f7", "stroke-width": stroke }));
  const wrap = htmlEl("div", { class: "sh-donut-wrap" });
  const legend = htmlEl("ul", { class: "sh-donut-legend", "aria-hidden": "true" });
  const arcs = [];
  const legendItems = [];
  const highlight = (index) => {
    wrap.classList.toggle("has-active", index >= 0);
    arcs.forEach((arc, i) => arc.classList.toggle("is-active", i === index));
    legendItems.forEach((item, i) => item.classList.toggle("is-active", i === index));
    centerValue.textContent = index >= 0 ? `${pct(slices[index].clicks)}%` : fmt(total);
    centerLabel.textContent = index >= 0 ? slices[index].name.slice(0, 14) : total === 1 ? "click" : "clicks";
  };
  let offset = 0;
  const gap = slices.length > 1 ? 1.5 : 0;
  slices.forEach((slice, index) => {
    const color = slice.name === "Other" ? "#b8bfcf" : PALETTE[index % PALETTE.length];
    const length = total ? (slice.clicks / total) * circumference : 0;
    const arc = svgEl("circle", {
      class: "sh-arc", cx: size / 2, cy: size / 2, r: radius, fill: "none", stroke: color, "stroke-width": stroke,
      "stroke-dasharray": `${Math.max(0, length - gap)} ${circumference}`, "stroke-dashoffset": -offset,
      transform: `rotate(-90 ${size / 2} ${size / 2})`,
    }, svgEl("title", {}, `${slice.name}: ${plural(slice.clicks, "click")} (${pct(slice.clicks)}%)`));
    arc.addEventListener("pointerenter", () => highlight(index));
    arc.addEventListener("pointerleave", () => highlight(-1));
    offset += length;
    arcs.push(arc);
    svg.append(arc);
    const item = htmlEl("li", {},
      htmlEl("span", { class: "sh-dot", style: `background:${color}` }),
      htmlEl("span", { class: "name" }, slice.name),
      htmlEl("span", { class: "val" }, `${fmt(slice.clicks)} · ${pct(slice.clicks)}%`));
    item.addEventListener("pointerenter", () => highlight(index));
    item.addEventListener("pointerleave", () => highlight(-1));
    legendItems.push(item);
    legend.append(item);
  });
  const centerValue = svgEl("text", { x: size / 2, y: size / 2 + 2, "text-anchor": "middle", "font-size": 22, "font-weight": 700, fill: "#1d2230", "aria-hidden": "true" });
  const centerLabel = svgEl("text", { x: size / 2, y: size / 2 + 20, "text-anchor": "middle", "font-size": 11, fill: "#6b7285", "aria-hidden": "true" });
  svg.append(centerValue, centerLabel);
  highlight(-1);
  wrap.append(svg, legend);
  if (container._chartObserver) container._chartObserver.disconnect();
  container.replaceChildren(wrap);
}
