// Home page shorten form: POST /api/v1/shorten, show the result (copy, QR), the
// 409 alias suggestions as chips and field errors next to their inputs.
import { api, clearFieldErrors, copyText, formatDate, h, parseTags, showFieldErrors } from "./api.js";

const form = document.querySelector("[data-shorten-form]");
const result = document.querySelector("[data-result]");

function payloadFrom(formNode) {
  const data = new FormData(formNode);
  let longUrl = (data.get("long_url") || "").trim();
  // People paste "example.com/page" as often as full URLs; assume https for a bare host.
  if (longUrl && !/^[a-z][a-z0-9+.-]*:/i.test(longUrl) && /^[^\s/]+\.[^\s/]+/.test(longUrl)) longUrl = `https://${longUrl}`;
  const payload = { long_url: longUrl };
  const alias = (data.get("custom_alias") || "").trim();
  if (alias) payload.custom_alias = alias;
  // null asks for a link that never expires; leaving the field out means the one-year default.
  const days = (data.get("expires_in_days") || "").trim();
  if (data.get("never_expires")) payload.expires_in_days = null;
  else if (days) payload.expires_in_days = Number(days);
  payload.redirect_type = Number(data.get("redirect_type") || 302);
  const password = data.get("password") || "";
  if (password) payload.password = password;
  const maxClicks = (data.get("max_clicks") || "").trim();
  if (maxClicks) payload.max_clicks = Number(maxClicks);
  const tags = parseTags(data.get("tags"));
  if (tags.length) payload.tags = tags;
  return payload;
}

function showSuggestions(suggested) {
  const box = form.querySelector("[data-suggestions]");
  box.replaceChildren();
  if (!suggested || !suggested.length) {
    box.hidden = true;
    return;
  }
  box.append(h("span", { class: "sh-muted sh-small" }, "Try:"));
  for (const alias of suggested) {
    box.append(
      h("button", {
        type: "button",
        class: "sh-chip",
        "data-suggestion": alias,
        onclick: () => {
          form.elements.custom_alias.value = alias;
          form.requestSubmit();
        },
      }, alias),
    );
  }
  box.hidden = false;
}

function showResult(link) {
  const shortUrl = link.short_url;
  const code = encodeURIComponent(link.short_code);
  const anchor = result.querySelector("[data-result-url]");
  anchor.textContent = shortUrl;
  anchor.href = shortUrl;
  result.querySelector("[data-result-long]").textContent = `→ ${link.long_url}`;
  const expiry = result.querySelector("[data-result-expiry]");
  expiry.textContent = link.expires_at ? `Expires ${formatDate(link.expires_at)}` : "";
  const copy = result.querySelector("[data-result-copy]");
  copy.onclick = () => copyText(shortUrl, copy);
  const qr = result.querySelector("[data-result-qr]");
  qr.src = `/api/v1/links/${code}/qr.svg`;
  qr.alt = `QR code for ${shortUrl}`;
  const svg = result.querySelector("[data-result-qr-svg]");
  svg.href = `/api/v1/links/${code}/qr.svg`;
  svg.setAttribute("download", `${link.short_code}.svg`);
  const png = result.querySelector("[data-result-qr-png]");
  png.href = `/api/v1/links/${code}/qr.png`;
  png.setAttribute("download", `${link.short_code}.png`);
  const dashboard = result.querySelector("[data-result-dashboard]");
  if (form.hasAttribute("data-signed-in")) {
    dashboard.href = `/links/${code}/`;
    dashboard.hidden = false;
  }
  result.hidden = false;
}

async function onSubmit(event) {
  event.preventDefault();
  clearFieldErrors(form);
  showSuggestions([]);
  const formError = form.querySelector("[data-form-error]");
  formError.textContent = "";
  const payload = payloadFrom(form);
  if (!payload.long_url) {
    showFieldErrors(form, { long_url: ["Paste the URL you want to shorten."] });
    form.elements.long_url.focus();
    return;
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  submit.textContent = "Shortening…";
  try {
    const link = await api("/api/v1/shorten", { method: "POST", body: payload });
    showResult(link);
    form.elements.long_url.value = "";
    form.elements.custom_alias.value = "";
    result.querySelector("[data-result-copy]").focus();
  } catch (err) {
    result.hidden = true;
    if (err.code === "alias_taken") {
      form.querySelector(".sh-options").open = true;
      showFieldErrors(form, { custom_alias: [err.message] });
      showSuggestions(err.body.suggested);
      form.elements.custom_alias.focus();
    } else {
      const unplaced = showFieldErrors(form, err.fields);
      const advanced = ["custom_alias", "expires_in_days", "redirect_type", "password", "max_clicks", "tags"];
      if (Object.keys(err.fields).some((name) => advanced.includes(name))) form.querySelector(".sh-options").open = true;
      if (!Object.keys(err.fields).length || unplaced.length) {
        const retry = err.body.retry_after ? ` Try again in ${err.body.retry_after} s.` : "";
        formError.textContent = [err.message + retry, ...unplaced].join(" ");
      }
      const firstInvalid = form.querySelector("[aria-invalid=true]");
      if (firstInvalid) firstInvalid.focus();
    }
  } finally {
    submit.disabled = false;
    submit.textContent = "Shorten";
  }
}

if (form) {
  form.addEventListener("submit", onSubmit);
  const never = form.querySelector("[data-never-expires]");
  never.addEventListener("change", () => {
    form.elements.expires_in_days.disabled = never.checked;
  });
}
