// The operations dashboard: supply by vehicle type, rides by state, the surge heat-map of H3
// cells over the online drivers, recent dispatch times; refreshed every few seconds.
import { api, config, poll } from "./common.js";
import { bars, columns, stackedBars } from "./charts.js";
import { L, createMap, drawServiceAreas } from "./map.js";

const root = document.querySelector("[data-testid=ops-app]");
const slot = (name) => root.querySelector(`[data-chart-slot="${name}"]`);
const kpi = (name) => root.querySelector(`[data-kpi="${name}"]`);

const DRIVER_COLORS = { free: "#1f9d55", offered: "#3b5bfd", busy: "#6b7285" };
const STATE_COLORS = {
  requested: "#93a4ff", offered: "#3b5bfd", accepted: "#14b8a6", arrived: "#0ea5e9", in_progress: "#22a05a",
  completed: "#1d2230", cancelled: "#e2557b", no_drivers: "#f59e0b",
};
const ACTIVE = ["requested", "offered", "accepted", "arrived", "in_progress"];

const map = createMap(document.getElementById("rd-map"), config, { zoom: 12 });
const hexes = L.layerGroup().addTo(map);
const dots = L.layerGroup().addTo(map);
let areasDrawn = false;

// Leaflet renders a string tooltip as HTML: give it a text node instead.
const tip = (text) => Object.assign(document.createElement("span"), { textContent: text });

function surgeColor(multiplier) {
  if (multiplier >= 2) return "#dc2626";
  if (multiplier >= 1.5) return "#f97316";
  return "#f59e0b";
}

function drawMap(data) {
  if (!areasDrawn) {
    drawServiceAreas(map, data.service_areas, { fit: true });
    areasDrawn = true;
  }
  hexes.clearLayers();
  for (const cell of data.surge.cells) {
    L.polygon(cell.boundary, { color: surgeColor(cell.multiplier), weight: 1, fillOpacity: 0.35, className: "rd-surge-cell" })
      .bindTooltip(tip(`${cell.multiplier}× · ${cell.cell}`)).addTo(hexes);
  }
  dots.clearLayers();
  for (const driver of data.drivers) {
    L.circleMarker([driver.lat, driver.lng], { radius: 4, weight: 1, color: "#fff", fillColor: DRIVER_COLORS[driver.state] || "#6b7285", fillOpacity: 0.95 })
      .bindTooltip(tip(`${driver.vehicle_type} · ${driver.state}`)).addTo(dots);
  }
}

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function refresh() {
  let data;
  try {
    data = await api("/rides/ops/data");
    root.querySelector("[data-testid=ops-error]").textContent = "";
  } catch (err) {
    root.querySelector("[data-testid=ops-error]").textContent = err.message;
    return;
  }
  const online = data.drivers_by_type.reduce((sum, row) => sum + row.total, 0);
  kpi("drivers").textContent = online;
  kpi("active").textContent = data.rides_by_state.filter((row) => ACTIVE.includes(row.status)).reduce((sum, row) => sum + row.count, 0);
  kpi("surge").textContent = data.surge.cells.length;
  const ms = data.dispatch_times.map((row) => row.ms);
  kpi("dispatch").textContent = ms.length ? `${median(ms)} ms` : "–";
  stackedBars(slot("drivers"), {
    title: "Online drivers by vehicle type", unit: "drivers",
    rows: data.drivers_by_type.map((row) => ({ label: row.vehicle_type, parts: ["free", "offered", "busy"].map((name) => ({ name, value: row[name], color: DRIVER_COLORS[name] })) })),
  });
  bars(slot("rides"), {
    title: "Rides of the last 24 hours by state", unit: "rides",
    items: data.rides_by_state.map((row) => ({ label: row.status.replace("_", " "), value: row.count, color: STATE_COLORS[row.status] })),
  });
  columns(slot("dispatch"), {
    title: "Recent dispatch times", unit: "ms",
    values: data.dispatch_times.map((row) => ({ label: `ride ${row.ride}`, value: row.ms })),
  });
  drawMap(data);
  root.querySelector("[data-testid=ops-updated]").textContent = `Updated ${new Date(data.generated_at).toLocaleTimeString()}`;
  root.dataset.ready = "true";
}

poll(refresh, config.refresh_s * 1000);
