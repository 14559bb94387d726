// The share page: a read-only live view of someone's ride, from the ride's socket with the
// link's token. It stops when the ride ends (the server closes the socket then).
import { STATUS_TEXT, config, countdown, setStatus } from "./common.js";
import { carIcon, createMap, dotIcon, fitPoints, placer } from "./map.js";
import { trackRide } from "./tracking.js";

const root = document.querySelector("[data-testid=share-app]");
const $ = (id) => root.querySelector(`[data-testid=${id}]`);
const map = createMap(document.getElementById("rd-map"), config);
placer(map, dotIcon("#1f9d55"), "Pickup")(config.pickup);
placer(map, dotIcon("#d64545"), "Dropoff")(config.dropoff);
const placeDriver = placer(map, carIcon(), "Driver");
fitPoints(map, [config.pickup, config.dropoff]);
$("ride-vehicle").textContent = config.vehicle_type;

let eta = null;
let status = null;
const LIVE = ["accepted", "arrived", "in_progress"];

trackRide(config.ride, (frame) => {
  if (frame.type === "ride.status") {
    status = frame.status;
    setStatus($("ride-status"), frame.status);
    $("ride-message").textContent = STATUS_TEXT[frame.status] || frame.status;
    $("ride-driver").textContent = frame.driver ? frame.driver.username : "–";
    if (!LIVE.includes(frame.status)) {
      placeDriver(null);
      if (eta) eta.stop();
      $("eta").textContent = "–";
    }
  } else if (frame.type === "driver.location" && LIVE.includes(status)) {
    placeDriver(frame);
    if (eta) eta.stop();
    eta = countdown($("eta"), new Date(Date.now() + frame.eta_s * 1000));
  }
  root.dataset.ready = "true";
}, {
  share: config.share,
  onMode: (mode) => {
    root.dataset.live = mode;
    if (mode === "closed" && !["completed", "cancelled", "no_drivers"].includes(status)) {
      $("ride-message").textContent = "This link has ended.";
    }
  },
});
