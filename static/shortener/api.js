// Small helpers shared by the shortener pages: JSON API calls with the session
// cookie and CSRF header, DOM building, copy-to-clipboard and formatting.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `Request failed (${status})`);
    this.status = status;
    this.body = body || {};
  }

  get fields() {
    return this.body.fields || {};
  }

  get code() {
    return this.body.code || "";
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export async function api(path, { method = "GET", body, params } = {}) {
  const url = new URL(path, window.location.origin);
  if (params) {
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
  }
  const headers = { Accept: "application/json" };
  const options = { method, headers, credentials: "same-origin" };
  if (body instanceof FormData) {
    options.body = body; // the browser sets the multipart boundary itself
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw new ApiError(0, { error: "Network error: check your connection and try again.", code: "network" });
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 429 && data && !data.error) data.error = "Too many requests. Please wait a moment.";
    throw new ApiError(response.status, data);
  }
  return data;
}

// h("a", {href: "/", class: "x", onclick: fn}, "text", childNode)
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let toastTimer;
export function toast(message) {
  let node = document.getElementById("sh-toast");
  if (!node) {
    node = h("div", { id: "sh-toast", class: "sh-toast", role: "status", "aria-live": "polite" });
    document.body.append(node);
  }
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 2200);
}

export async function copyText(text, button) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {
      // Plain-http hosts have no async clipboard API; fall back to a selection copy.
      const area = h("textarea", { style: "position:fixed;opacity:0", readonly: true });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    if (button) {
      const label = button.textContent;
      button.dataset.copied = "";
      button.textContent = "Copied!";
      setTimeout(() => { button.textContent = label; delete button.dataset.copied; }, 1500);
    }
    toast("Copied to clipboard");
  } catch (err) {
    toast("Could not copy. Select the link and copy it by hand.");
  }
}

export function copyButton(text, extraClass = "") {
  const button = h("button", { type: "button", class: `sh-copy ${extraClass}`.trim(), "aria-label": `Copy ${text}` }, "Copy");
  button.addEventListener("click", () => copyText(text, button));
  return button;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDate(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "—";
}

export function formatDateTime(iso) {
  return iso ? dateTimeFormat.format(new Date(iso)) : "—";
}

export function formatNumber(value) {
  return new Intl.NumberFormat().format(value || 0);
}

export function stateBadge(state) {
  const labels = { active: "Active", expired: "Expired", deleted: "Deleted", exhausted: "Click limit reached" };
  return h("span", { class: `sh-badge ${state}`, "data-state": state }, labels[state] || state);
}

export function parseTags(text) {
  const seen = new Set();
  return (text || "")
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag && !seen.has(tag) && seen.add(tag));
}

// Show `fields` from an API error next to the inputs; returns the names it could not place.
export function showFieldErrors(form, fields) {
  const unplaced = [];
  for (const [name, messages] of Object.entries(fields || {})) {
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    const text = Array.isArray(messages) ? messages.join(" ") : String(messages);
    if (slot) {
      slot.textContent = text;
      slot.closest(".field")?.classList.add("has-error");
      const input = form.querySelector(`[name="${name}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${name}: ${text}`);
    }
  }
  return unplaced;
}

export function clearFieldErrors(form) {
  form.querySelectorAll("[data-error-for]").forEach((slot) => { slot.textContent = ""; });
  form.querySelectorAll(".has-error").forEach((node) => node.classList.remove("has-error"));
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
}

export function emptyState({ title, text, action }) {
  const icon = new DOMParser().parseFromString(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.5" aria-hidden="true"><path d="M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71"/><path d="M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71"/></svg>',
    "image/svg+xml",
  ).documentElement;
  return h("div", { class: "sh-empty", "data-testid": "empty-state" }, document.importNode(icon, true), h("h3", {}, title), h("p", {}, text), action || null);
}
