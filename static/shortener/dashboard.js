// Per-link dashboard: the link header from GET /api/v1/links/{code}, then stats for
// the chosen range from GET /api/v1/links/{code}/stats drawn with charts.js.
import { api, copyButton, emptyState, formatDate, formatNumber, h, stateBadge } from "./api.js";
import { PALETTE, barChart, donutChart, timeSeriesChart } from "./charts.js";

const root = document.querySelector("[data-dashboard]");
const code = root.dataset.code;
const base = `/api/v1/links/${encodeURIComponent(code)}`;
const rangeForm = root.querySelector("[data-range-form]");
const customRange = root.querySelector("[data-custom-range]");
const granularitySelect = root.querySelector("[data-granularity]");
const rangeError = root.querySelector("[data-range-error]");
const statsState = root.querySelector("[data-stats-state]");
const charts = root.querySelector("[data-charts]");
const slot = (name) => root.querySelector(`[data-chart-slot="${name}"]`);

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const state = { range: "7d", from: null, to: null };
let linkClickCount = null;
let seq = 0;
let drawnKey = "";

const regionNames = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(undefined, { type: "region" }) : null;
function countryLabel(value) {
  if (!value || value.toLowerCase() === "unknown") return "Unknown";
  if (!/^[A-Za-z]{2}$/.test(value)) return value;
  const upper = value.toUpperCase();
  let name = upper;
  try {
    name = regionNames ? regionNames.of(upper) : upper;
  } catch (err) {
    name = upper;
  }
  return name === upper ? upper : `${name} (${upper})`;
}
const referrerLabel = (value) => (!value || value === "direct" ? "Direct / none" : value);
const plainLabel = (value) => value || "Unknown";

function localDateInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function currentRange() {
  const now = new Date();
  if (state.range === "24h") return { from: new Date(now - DAY), to: now };
  if (state.range === "30d") return { from: new Date(now - 30 * DAY), to: now };
  if (state.range === "custom" && state.from && state.to) {
    const from = new Date(`${state.from}T00:00:00`);
    const endOfDay = new Date(`${state.to}T23:59:59.999`);
    return { from, to: endOfDay > now ? now : endOfDay };
  }
  return { from: new Date(now - 7 * DAY), to: now };
}

function chooseGranularity(range) {
  const picked = granularitySelect.value;
  if (picked === "hour" || picked === "day") return picked;
  return range.to - range.from <= 2 * DAY ? "hour" : "day";
}

async function loadLink() {
  const header = root.querySelector("[data-link-header]");
  try {
    const link = await api(base);
    linkClickCount = link.click_count;
    root.querySelector("[data-kpi=all_time]").textContent = formatNumber(link.click_count);
    const short = root.querySelector("[data-link-short]");
    short.replaceChildren(h("a", { href: link.short_url, target: "_blank", rel: "noopener" }, link.short_url.replace(/^https?:\/\//, "")));
    const long = root.querySelector("[data-link-long]");
    long.replaceChildren(h("a", { href: link.long_url, target: "_blank", rel: "noopener noreferrer", class: "sh-muted" }, `→ ${link.long_url}`));
    long.title = link.long_url;
    root.querySelector("[data-link-meta]").replaceChildren(...[
      stateBadge(link.state),
      link.has_password ? h("span", { class: "sh-badge lock" }, "Password") : null,
      h("span", {}, `Created ${formatDate(link.created_at)}`),
      h("span", { "aria-hidden": "true" }, "·"),
      h("span", {}, link.expires_at ? `Expires ${formatDate(link.expires_at)}` : "Never expires"),
      h("span", { "aria-hidden": "true" }, "·"),
      h("span", {}, `${link.redirect_type} redirect`),
      link.max_clicks ? h("span", {}, `· ${formatNumber(link.click_count)} of ${formatNumber(link.max_clicks)} clicks used`) : null,
      ...(link.tags || []).map((tag) => h("a", { class: "sh-tag", href: `/links/?tag=${encodeURIComponent(tag)}` }, `#${tag}`)),
    ].filter(Boolean));
    root.querySelector("[data-link-actions]").replaceChildren(...[
      copyButton(link.short_url, "button primary sh-btn-sm"),
      link.state === "deleted"
        ? null
        : h("a", { class: "button sh-btn-sm", href: `/links/?search=${encodeURIComponent(link.short_code)}` }, "Edit or delete"),
    ].filter(Boolean));
  } catch (err) {
    header.replaceChildren(h("div", { class: "sh-error-state", role: "alert" }, `Could not load this link: ${err.message}`));
  }
}

function setKpis(stats) {
  for (const key of ["clicks", "unique_visitors", "bots"]) {
    root.querySelector(`[data-kpi=${key}]`).textContent = stats ? formatNumber(stats[key]) : "–";
  }
}

function drawCharts(stats, granularity) {
  timeSeriesChart(slot("series"), {
    series: stats.series,
    granularity,
    title: "Clicks over time",
    lines: [
      { key: "clicks", label: "Clicks", color: PALETTE[0] },
      { key: "unique_visitors", label: "Unique visitors", color: PALETTE[1] },
    ],
  });
  barChart(slot("referrers"), { items: stats.referrers, title: "Top referrers", color: PALETTE[0], label: referrerLabel });
  barChart(slot("countries"), { items: stats.countries, title: "Top countries", color: PALETTE[1], label: countryLabel });
  donutChart(slot("devices"), { items: stats.devices, title: "Clicks by device type", label: plainLabel });
  donutChart(slot("browsers"), { items: stats.browsers, title: "Clicks by browser", label: plainLabel });
  donutChart(slot("os"), { items: stats.os, title: "Clicks by operating system", label: plainLabel });
}

async function loadStats() {
  const mine = ++seq;
  rangeError.textContent = "";
  const range = currentRange();
  if (range.from >= range.to) {
    rangeError.textContent = "The start of the range must be before its end.";
    return;
  }
  const granularity = chooseGranularity(range);
  root.setAttribute("aria-busy", "true");
  try {
    const stats = await api(`${base}/stats`, {
      params: { from: range.from.toISOString(), to: range.to.toISOString(), granularity },
    });
    if (mine !== seq) return;
    // An unchanged refresh must not redraw: that would drop the reader's hover or focus.
    const key = `${granularity}|${JSON.stringify(stats)}`;
    if (key === drawnKey && !charts.hidden) return;
    drawnKey = key;
    setKpis(stats);
    statsState.replaceChildren();
    const nothingYet = !stats.clicks && !stats.bots && linkClickCount === 0;
    if (nothingYet) {
      const copy = root.querySelector("[data-link-actions] .sh-copy");
      statsState.append(h("div", { class: "sh-card", style: "margin-top:1rem" }, emptyState({
        title: "No clicks yet",
        text: "Share your short link; clicks show up here within seconds, with where they came from.",
        action: copy ? h("button", { type: "button", class: "button primary", onclick: () => copy.click() }, "Copy the short link") : null,
      })));
    }
    // Before the first click, empty breakdowns would only repeat the empty state.
    charts.classList.toggle("is-empty", nothingYet);
    charts.hidden = false;
    drawCharts(stats, granularity);
  } catch (err) {
    if (mine !== seq) return;
    drawnKey = "";
    setKpis(null);
    if (err.fields && Object.keys(err.fields).length) {
      rangeError.textContent = Object.entries(err.fields).map(([name, msgs]) => `${name}: ${[].concat(msgs).join(" ")}`).join(" ");
    }
    charts.hidden = true;
    statsState.replaceChildren(h("div", { class: "sh-card sh-error-state", role: "alert", style: "margin-top:1rem" },
      h("p", {}, `Could not load statistics: ${err.message}`),
      h("button", { type: "button", class: "button", onclick: loadStats }, "Try again")));
  } finally {
    if (mine === seq) root.setAttribute("aria-busy", "false");
  }
}

rangeForm.querySelectorAll("[data-range]").forEach((button) => {
  button.addEventListener("click", () => {
    rangeForm.querySelectorAll("[data-range]").forEach((other) => other.setAttribute("aria-pressed", String(other === button)));
    state.range = button.dataset.range;
    customRange.hidden = state.range !== "custom";
    if (state.range === "custom") {
      const { from, to } = currentRange();
      if (!rangeForm.elements.from.value) rangeForm.elements.from.value = localDateInput(from);
      if (!rangeForm.elements.to.value) rangeForm.elements.to.value = localDateInput(to);
      state.from = rangeForm.elements.from.value;
      state.to = rangeForm.elements.to.value;
      rangeForm.elements.from.focus();
    }
    loadStats();
  });
});
rangeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  state.from = rangeForm.elements.from.value;
  state.to = rangeForm.elements.to.value;
  if (!state.from || !state.to) {
    rangeError.textContent = "Pick both a start and an end date.";
    return;
  }
  loadStats();
});
granularitySelect.addEventListener("change", loadStats);
root.querySelector("[data-refresh]").addEventListener("click", async () => {
  await loadLink();
  loadStats();
});

// Rolling ranges end "now": refresh them while the tab is visible so new clicks show up.
const REFRESH_MS = 30_000;
setInterval(() => {
  if (document.visibilityState === "visible" && state.range !== "custom") loadStats();
}, REFRESH_MS);

loadLink().then(loadStats);
