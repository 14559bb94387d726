// The rider page: place pickup and dropoff, see the price with surge, request, follow the
// driver, cancel, rate and read the receipt.
import { ACTIVE, STATUS_TEXT, api, config, coordinate, countdown, distance, duration, errorText, h, money, setStatus } from "./common.js";
import { L, carIcon, createMap, dotIcon, fitPoints, placer } from "./map.js";
import { trackRide } from "./tracking.js";

const root = document.querySelector("[data-testid=rider-app]");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const form = $("trip-form");
const estimateCard = $("estimate-card");
const rideCard = $("ride-card");

const map = createMap(document.getElementById("rd-map"), config);
const placePickup = placer(map, dotIcon("#1f9d55"), "Pickup");
const placeDropoff = placer(map, dotIcon("#d64545"), "Dropoff");
const placeDriver = placer(map, carIcon(), "Your driver");

const state = { picking: "pickup", quote: null, ride: null, tracker: null, quoteTimer: null, etaTimer: null };

// Free cars near the pickup (anonymous, rounded to ~100 m by the API), while no ride is under way.
const nearbyLayer = L.layerGroup().addTo(map);
async function showNearby() {
  const pickup = point("pickup");
  if (!pickup || (state.ride && ACTIVE.includes(state.ride.status))) {
    nearbyLayer.clearLayers();
    return;
  }
  try {
    const cars = await api("/api/v1/rides/drivers/nearby", { params: {
      lat: pickup.lat, lng: pickup.lng, radius_m: 2000, limit: 10, vehicle_type: form.vehicle_type.value } });
    nearbyLayer.clearLayers();
    for (const car of cars) {
      L.circleMarker([car.lat, car.lng], { radius: 5, weight: 1, color: "#fff", fillColor: "#6b7285", fillOpacity: 0.9,
        className: "rd-nearby", interactive: false }).addTo(nearbyLayer);
    }
    root.dataset.nearby = String(cars.length);
  } catch (err) {
    nearbyLayer.clearLayers(); // outside the service area: the estimate will say so
  }
}
setInterval(showNearby, 10000);

for (const type of config.vehicle_types) form.vehicle_type.append(h("option", { value: type }, type));

function point(name) {
  const lat = coordinate(form[`${name}_lat`].value, "lat");
  const lng = coordinate(form[`${name}_lng`].value, "lng");
  return lat === null || lng === null ? null : { lat, lng };
}

function drawPoints() {
  placePickup(point("pickup"));
  placeDropoff(point("dropoff"));
}

function setPicking(name) {
  state.picking = name;
  for (const button of form.querySelectorAll("[data-pick]")) button.setAttribute("aria-pressed", String(button.dataset.pick === name));
}

function clearQuote() {
  state.quote = null;
  if (state.quoteTimer) state.quoteTimer.stop();
  estimateCard.hidden = true;
}

map.on("click", (event) => {
  if (state.ride && ACTIVE.includes(state.ride.status)) return;
  const name = state.picking;
  form[`${name}_lat`].value = event.latlng.lat.toFixed(6);
  form[`${name}_lng`].value = event.latlng.lng.toFixed(6);
  drawPoints();
  clearQuote();
  if (name === "pickup") {
    setPicking("dropoff");
    showNearby();
  }
});
for (const button of form.querySelectorAll("[data-pick]")) button.addEventListener("click", () => setPicking(button.dataset.pick));
form.addEventListener("input", () => { drawPoints(); clearQuote(); });
form.addEventListener("change", showNearby);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("trip-error");
  error.textContent = "";
  const missing = ["pickup_lat", "pickup_lng", "dropoff_lat", "dropoff_lng"].find(
    (name) => coordinate(form[name].value, name.endsWith("lat") ? "lat" : "lng") === null);
  if (missing) {
    error.textContent = `${missing}: a ${missing.endsWith("lat") ? "latitude between -90 and 90" : "longitude between -180 and 180"} is required.`;
    form[missing].focus();
    return;
  }
  const pickup = point("pickup");
  const dropoff = point("dropoff");
  try {
    const quote = await api("/api/v1/rides/estimate", { params: {
      pickup_lat: pickup.lat, pickup_lng: pickup.lng, dropoff_lat: dropoff.lat, dropoff_lng: dropoff.lng,
      vehicle_type: form.vehicle_type.value,
    } });
    showQuote(quote, { pickup, dropoff, vehicle_type: form.vehicle_type.value });
  } catch (err) {
    error.textContent = errorText(err);
  }
});

function showQuote(quote, trip) {
  state.quote = { ...quote, trip };
  $("fare").textContent = money(quote.fare);
  const surge = $("surge");
  surge.hidden = !(quote.surge_multiplier > 1);
  surge.textContent = `${quote.surge_multiplier}× surge`;
  $("distance").textContent = distance(quote.distance_m);
  $("duration").textContent = duration(quote.duration_s);
  $("pickup-eta").textContent = quote.pickup_eta_s === null ? "no driver near" : duration(quote.pickup_eta_s);
  if (state.quoteTimer) state.quoteTimer.stop();
  state.quoteTimer = countdown($("quote-countdown"), new Date(quote.quote_expires_at), () => {
    $("quote-countdown").textContent = "expired: ask for a new price";
    $("request").disabled = true;
  });
  $("request").disabled = false;
  estimateCard.hidden = false;
  fitPoints(map, [trip.pickup, trip.dropoff]);
}

$("request").addEventListener("click", async () => {
  if (!state.quote) return;
  const { trip, quote_id: quoteId } = state.quote;
  const button = $("request");
  button.disabled = true;
  try {
    const ride = await api("/api/v1/rides", { method: "POST", body: { ...trip, quote_id: quoteId } });
    clearQuote();
    follow(ride);
  } catch (err) {
    $("trip-error").textContent = errorText(err);
    button.disabled = false;
    if (err.code === "active_ride" && err.body.ride) follow(await api(`/api/v1/rides/${err.body.ride}`));
  }
});

function showEta(seconds) {
  if (state.etaTimer) state.etaTimer.stop();
  state.etaTimer = null;
  if (seconds === null || seconds === undefined) {
    $("eta").textContent = "–";
    return;
  }
  state.etaTimer = countdown($("eta"), new Date(Date.now() + seconds * 1000));
}

function renderRide(ride) {
  state.ride = ride;
  form.hidden = ACTIVE.includes(ride.status);
  rideCard.hidden = false;
  setStatus($("ride-status"), ride.status);
  $("ride-message").textContent = STATUS_TEXT[ride.status] || ride.status;
  $("ride-driver").textContent = ride.driver && ride.status !== "offered"
    ? `${ride.driver.username}${ride.driver.rating ? ` · ${ride.driver.rating.toFixed(1)}★` : ""}` : "–";
  $("ride-fare").textContent = money(ride.fare);
  $("cancel").hidden = !["requested", "offered", "accepted", "arrived"].includes(ride.status);
  $("share").hidden = !ACTIVE.includes(ride.status);
  if (!ACTIVE.includes(ride.status)) $("share-box").hidden = true;
  $("new-ride").hidden = ACTIVE.includes(ride.status);
  $("rate-form").hidden = ride.status !== "completed" || $("rated").hidden === false;
  renderReceipt(ride.receipt);
  placePickup(ride.pickup);
  placeDropoff(ride.dropoff);
  if (!ACTIVE.includes(ride.status)) {
    stopTracking();
    placeDriver(null);
    showEta(null);
  }
}

function renderReceipt(receipt) {
  const table = $("receipt");
  table.hidden = !receipt;
  if (!receipt) return;
  const fare = (amount) => money({ amount, currency: receipt.currency });
  const rows = [["Base", receipt.base], ["Distance", receipt.distance], ["Time", receipt.time],
    [`Surge (${receipt.surge_multiplier}×)`, receipt.surge], ["Cancellation fee", receipt.cancellation_fee]]
    .filter(([, amount]) => Number(amount) !== 0);
  table.tBodies[0].replaceChildren(
    ...rows.map(([label, amount]) => h("tr", {}, h("td", {}, label), h("td", {}, fare(amount)))),
    h("tr", { class: "total" }, h("td", {}, "Total"), h("td", { "data-testid": "receipt-total" }, fare(receipt.total))),
  );
}

function stopTracking() {
  if (state.tracker) state.tracker.stop();
  state.tracker = null;
}

function follow(ride) {
  $("rated").hidden = true;
  nearbyLayer.clearLayers();
  renderRide(ride);
  fitPoints(map, [ride.pickup, ride.dropoff]);
  stopTracking();
  if (!ACTIVE.includes(ride.status)) return;
  state.tracker = trackRide(ride.id, async (frame) => {
    if (frame.type === "ride.status" && frame.status !== state.ride.status) {
      renderRide(await api(`/api/v1/rides/${ride.id}`));
    } else if (frame.type === "driver.location" && ACTIVE.includes(state.ride.status)) {
      placeDriver(frame);
      showEta(frame.eta_s);
    }
  }, { onMode: (mode) => { root.dataset.live = mode; } });
}

$("cancel").addEventListener("click", async () => {
  if (!state.ride) return;
  try {
    renderRide(await api(`/api/v1/rides/${state.ride.id}/cancel`, { method: "POST", body: { reason: "cancelled by the rider" } }));
  } catch (err) {
    $("ride-error").textContent = errorText(err);
  }
});

$("share").addEventListener("click", async () => {
  try {
    const link = await api(`/api/v1/rides/${state.ride.id}/share`, { method: "POST" });
    $("share-url").value = link.url;
    $("share-box").hidden = false;
    $("share-url").select();
  } catch (err) {
    $("ride-error").textContent = errorText(err);
  }
});

$("new-ride").addEventListener("click", () => {
  state.ride = null;
  rideCard.hidden = true;
  form.hidden = false;
  $("ride-error").textContent = "";
  setPicking("pickup");
});

$("rate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const rate = event.currentTarget;
  try {
    await api(`/api/v1/rides/${state.ride.id}/rate`, { method: "POST", body: {
      stars: Number(rate.stars.value), ...(rate.comment.value.trim() ? { comment: rate.comment.value.trim() } : {}),
    } });
    rate.hidden = true;
    $("rated").hidden = false;
  } catch (err) {
    $("ride-error").textContent = errorText(err);
    if (err.code === "already_rated") rate.hidden = true;
  }
});

async function resume() {
  try {
    const history = await api("/api/v1/rides", { params: { role: "rider" } });
    const latest = (history.results || [])[0];
    if (latest && ACTIVE.includes(latest.status)) follow(latest);
  } finally {
    root.dataset.ready = "true";
  }
}
resume();
