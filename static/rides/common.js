// Shared by the rides pages: the page's config, JSON API calls (the shortener's helper:
// session cookie + CSRF header, errors as ApiError), formatting and a repeating poll.
export { ApiError, api, h } from "../shortener/api.js";

export const config = JSON.parse(document.getElementById("rides-config").textContent);

export const ACTIVE = ["requested", "offered", "accepted", "arrived", "in_progress"];
export const STATUS_TEXT = {
  requested: "Finding a driver…",
  offered: "Finding a driver…",
  accepted: "Driver on the way",
  arrived: "Driver has arrived",
  in_progress: "On the trip",
  completed: "Completed",
  cancelled: "Cancelled",
  no_drivers: "No drivers available",
};

export function money(fare) {
  if (!fare) return "–";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: fare.currency }).format(Number(fare.amount));
  } catch (err) {
    return `${fare.amount} ${fare.currency}`;
  }
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${String(s % 60).padStart(2, "0")} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function distance(metres) {
  if (metres === null || metres === undefined) return "–";
  return metres < 1000 ? `${Math.round(metres)} m` : `${(metres / 1000).toFixed(1)} km`;
}

// A coordinate typed by the user: a finite number in range, or null.
export function coordinate(text, kind) {
  const value = Number(String(text).trim());
  if (String(text).trim() === "" || !Number.isFinite(value)) return null;
  const limit = kind === "lat" ? 90 : 180;
  return Math.abs(value) <= limit ? value : null;
}

export function errorText(err) {
  const fields = err.fields || {};
  const named = Object.entries(fields).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`);
  return named.length ? named.join("; ") : err.message;
}

export function setStatus(badge, status, text) {
  badge.dataset.status = status;
  badge.textContent = text || status.replace("_", " ");
}

// Calls fn now and then every `ms` until stop(); a slow call is never overlapped by the next.
export function poll(fn, ms) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    try {
      await fn();
    } catch (err) {
      console.warn(err);
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return { stop() { stopped = true; clearTimeout(timer); } };
}

// Rewrites `el` every second with the time left until `deadline` (a Date); calls onEnd at zero.
export function countdown(el, deadline, onEnd) {
  let timer = null;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    el.textContent = duration(left);
    el.dataset.seconds = String(left);
    if (left <= 0) {
      clearInterval(timer);
      if (onEnd) onEnd();
    }
  };
  tick();
  timer = setInterval(tick, 1000);
  return { stop() { clearInterval(timer); } };
}
