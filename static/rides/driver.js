// The driver page: go online with a vehicle type at a position, stream it, take or refuse
// offers against their countdown, move the ride along and see the day's earnings.
import { STATUS_TEXT, api, config, coordinate, countdown, distance, duration, errorText, h, money, poll, setStatus } from "./common.js";
import { carIcon, createMap, dotIcon, fitPoints, placer } from "./map.js";
import { socketUrl } from "./tracking.js";

const root = document.querySelector("[data-testid=driver-app]");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const form = $("online-form");
const offerCard = $("offer-card");
const tripCard = $("trip-card");

const map = createMap(document.getElementById("rd-map"), config);
const placeMe = placer(map, carIcon(), "You");
const placePickup = placer(map, dotIcon("#1f9d55"), "Pickup");
const placeDropoff = placer(map, dotIcon("#d64545"), "Dropoff");

const NEXT_STEP = {
  accepted: { action: "arrive", label: "I have arrived", stop: "pickup" },
  arrived: { action: "start", label: "Start the trip", stop: "pickup" },
  in_progress: { action: "complete", label: "Complete the trip", stop: "dropoff" },
};

const state = { online: false, ride: null, offerTimer: null, sender: null, poller: null, socket: null, retry: null, refreshedAt: 0 };

// The driver's socket: offers, revocations and the assigned ride's status arrive at once (each
// frame triggers a refresh of the page's state); positions go out on it while it is open.
function connectSocket() {
  if (state.socket || !state.online) return;
  const socket = new WebSocket(socketUrl("/ws/rides/driver/"));
  state.socket = socket;
  socket.addEventListener("open", () => { root.dataset.live = "socket"; });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "error") $("driver-error").textContent = frame.error;
    else refresh();
  });
  socket.addEventListener("close", () => {
    state.socket = null;
    root.dataset.live = "poll";
    clearTimeout(state.retry);
    if (state.online) state.retry = setTimeout(connectSocket, 3000);
  });
}

for (const type of config.vehicle_types) form.vehicle_type.append(h("option", { value: type }, type));

function position() {
  const lat = coordinate(form.lat.value, "lat");
  const lng = coordinate(form.lng.value, "lng");
  return lat === null || lng === null ? null : { lat, lng };
}

function setPosition({ lat, lng }) {
  form.lat.value = Number(lat).toFixed(6);
  form.lng.value = Number(lng).toFixed(6);
  placeMe(position());
}

// Demo driving: each update moves this far toward the ride's next stop (≈ 54 km/h at one update per 4 s).
const AUTO_DRIVE_M = 60;

function driveTowardNextStop() {
  const step = state.ride && NEXT_STEP[state.ride.status];
  const here = position();
  if (!step || !here || !$("auto-drive").checked || state.ride.status === "arrived") return;
  const stop = state.ride[step.stop];
  const gap = metresBetween(here, stop);
  const share = gap <= AUTO_DRIVE_M ? 1 : AUTO_DRIVE_M / gap;
  setPosition({ lat: here.lat + (stop.lat - here.lat) * share, lng: here.lng + (stop.lng - here.lng) * share });
}

async function sendLocation() {
  driveTowardNextStop();
  const here = position();
  if (!state.online || !here) return;
  if (socketOpen()) {
    state.socket.send(JSON.stringify({ type: "location", ...here }));
    return;
  }
  try {
    await api("/api/v1/rides/driver/location", { method: "POST", body: { ...here, ts: Date.now() / 1000 } });
  } catch (err) {
    $("driver-error").textContent = errorText(err);
    if (err.code === "driver_offline") setOnline(false);
  }
}

map.on("click", (event) => {
  setPosition(event.latlng);
  sendLocation();
});
form.addEventListener("input", () => placeMe(position()));

$("geolocate").addEventListener("click", () => {
  if (!navigator.geolocation) {
    $("driver-error").textContent = "This browser cannot tell your location: click the map instead.";
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (found) => { setPosition({ lat: found.coords.latitude, lng: found.coords.longitude }); sendLocation(); },
    () => { $("driver-error").textContent = "Location unavailable: click the map or type coordinates."; },
    { enableHighAccuracy: true, timeout: 8000 },
  );
});

function setOnline(online) {
  state.online = online;
  setStatus($("driver-status"), online ? "online" : "offline");
  $("go-online").hidden = online;
  $("go-offline").hidden = !online;
  form.vehicle_type.disabled = online;
  if (state.sender) clearInterval(state.sender);
  state.sender = online ? setInterval(sendLocation, config.location_interval_s * 1000) : null;
  if (online) connectSocket();
  else if (state.socket) state.socket.close(1000);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  $("driver-error").textContent = "";
  const here = position();
  if (!here) {
    $("driver-error").textContent = "lat, lng: click the map or type a latitude and a longitude first.";
    return;
  }
  try {
    await api("/api/v1/rides/driver/online", { method: "POST", body: { vehicle_type: form.vehicle_type.value, ...here } });
    setOnline(true);
    refresh();
  } catch (err) {
    $("driver-error").textContent = errorText(err);
  }
});

$("go-offline").addEventListener("click", async () => {
  try {
    await api("/api/v1/rides/driver/offline", { method: "POST" });
    setOnline(false);
  } catch (err) {
    $("driver-error").textContent = errorText(err);
  }
});

function showOffer(ride) {
  offerCard.hidden = false;
  $("offer-fare").textContent = money(ride.fare);
  $("offer-trip").textContent = `${distance(ride.distance_m)} · ${duration(ride.duration_s)}`;
  const here = position();
  $("offer-pickup").textContent = here ? distance(metresBetween(here, ride.pickup)) : "–";
  if (state.offerTimer) state.offerTimer.stop();
  state.offerTimer = countdown($("offer-countdown"), new Date(ride.offer_expires_at), () => { offerCard.hidden = true; });
}

// Great-circle metres between two {lat, lng} points (for display only).
function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(x));
}

function showTrip(ride) {
  const step = NEXT_STEP[ride.status];
  tripCard.hidden = !step;
  if (!step) return;
  setStatus($("trip-status"), ride.status, STATUS_TEXT[ride.status]);
  $("trip-rider").textContent = ride.rider.username;
  $("trip-fare").textContent = money(ride.fare);
  const stop = ride[step.stop];
  $("trip-next").textContent = `${step.stop} ${stop.lat.toFixed(4)}, ${stop.lng.toFixed(4)}`;
  const advance = $("advance");
  advance.dataset.action = step.action;
  advance.textContent = step.label;
  $("driver-cancel").hidden = ride.status === "in_progress";
}

function renderRide(ride) {
  const changed = !state.ride || !ride || state.ride.id !== ride.id;
  state.ride = ride;
  const offered = ride && ride.status === "offered";
  if (!offered) {
    offerCard.hidden = true;
    if (state.offerTimer) state.offerTimer.stop();
  } else if (changed || offerCard.hidden) {
    showOffer(ride);
  }
  if (ride) showTrip(ride);
  else tripCard.hidden = true;
  placePickup(ride ? ride.pickup : null);
  placeDropoff(ride ? ride.dropoff : null);
  if (ride && changed) fitPoints(map, [position(), ride.pickup, ride.dropoff]);
}

const socketOpen = () => Boolean(state.socket && state.socket.readyState === WebSocket.OPEN);

async function refresh() {
  state.refreshedAt = Date.now();
  const day = await api("/rides/drive/state");
  if (day.online !== state.online) setOnline(day.online);
  $("earnings").textContent = money(day.earnings);
  $("earnings-rides").textContent = `${day.earnings.rides} ride${day.earnings.rides === 1 ? "" : "s"} completed today`;
  if (!day.ride) {
    if (state.ride) renderRide(null);
  } else {
    const ride = await api(`/api/v1/rides/${day.ride}`);
    if (!state.ride || state.ride.id !== ride.id || state.ride.status !== ride.status) renderRide(ride);
  }
  return day;
}

async function act(path, errorSlot) {
  $(errorSlot).textContent = "";
  try {
    const ride = await api(`/api/v1/rides/${state.ride.id}/${path}`, { method: "POST", body: path === "cancel" ? { reason: "cancelled by the driver" } : undefined });
    renderRide(["completed", "cancelled", "requested", "no_drivers"].includes(ride.status) ? null : ride);
    refresh();
  } catch (err) {
    $(errorSlot).textContent = errorText(err);
    refresh();
  }
}

$("accept").addEventListener("click", () => act("accept", "driver-error"));
$("decline").addEventListener("click", () => act("decline", "driver-error"));
$("advance").addEventListener("click", (event) => act(event.currentTarget.dataset.action, "trip-error"));
$("driver-cancel").addEventListener("click", () => act("cancel", "trip-error"));

async function start() {
  try {
    const day = await refresh();
    setPosition(day.position || { lat: config.center[0], lng: config.center[1] });
  } finally {
    root.dataset.ready = "true";
    // With the socket open, its frames drive refreshes; the poll only keeps earnings fresh.
    state.poller = poll(() => (socketOpen() && Date.now() - state.refreshedAt < 15000 ? null : refresh()), 2000);
  }
}
start();
