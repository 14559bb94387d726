// Following one ride live: the ride's socket (/ws/rides/{id}/) sends `ride.status` on each
// transition and `driver.location` while a driver is assigned, the current state first. While
// the socket is down, a logged-in page polls the same frames from /rides/{id}/track every 2 s
// and reconnects; a share viewer (no account) only reconnects.
import { api, poll } from "./common.js";

const POLL_MS = 2000;
const RECONNECT_MS = 3000;
// The server closed for good: not allowed (4403/4404) or, for a share link, the ride ended (1000).
const FINAL_CLOSE_CODES = [1000, 4403, 4404];

export function socketUrl(path) {
  return `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}${path}`;
}

/**
 * onFrame(frame) gets every frame; onMode("socket"|"poll"|"closed") says how frames arrive.
 * options.share: a share link's token (read-only viewer, no polling).
 */
export function trackRide(rideId, onFrame, { share = null, onMode = () => {} } = {}) {
  const id = encodeURIComponent(rideId);
  const path = `/ws/rides/${id}/${share ? `?share=${encodeURIComponent(share)}` : ""}`;
  let socket = null;
  let poller = null;
  let retry = null;
  let stopped = false;

  const startPolling = () => {
    if (share || poller) return;
    onMode("poll");
    poller = poll(async () => {
      const { frames } = await api(`/rides/${id}/track`);
      frames.forEach(onFrame);
    }, POLL_MS);
  };
  const stopPolling = () => {
    if (poller) poller.stop();
    poller = null;
  };

  const connect = () => {
    if (stopped) return;
    socket = new WebSocket(socketUrl(path));
    socket.addEventListener("open", () => {
      stopPolling();
      onMode("socket");
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (frame && frame.type) onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      if (stopped) return;
      if (FINAL_CLOSE_CODES.includes(event.code)) {
        onMode("closed");
        return;
      }
      startPolling();
      retry = setTimeout(connect, RECONNECT_MS);
    });
  };
  connect();

  return {
    stop() {
      stopped = true;
      clearTimeout(retry);
      stopPolling();
      if (socket) socket.close(1000);
    },
  };
}
