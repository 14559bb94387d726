// Following one ride: its status and its driver's position with an ETA to the next stop.
// Polls the page's tracking read (every 2 s) and calls onUpdate({status, driver, eta_s}).
import { api, poll } from "./common.js";

const POLL_MS = 2000;

export function trackRide(rideId, onUpdate) {
  return poll(async () => {
    onUpdate(await api(`/rides/${encodeURIComponent(rideId)}/track`));
  }, POLL_MS);
}
