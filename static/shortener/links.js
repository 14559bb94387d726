// "My links": list, search, tag filter and pagination over GET /api/v1/links, with
// edit (PATCH) and delete (DELETE) dialogs. Filters live in the page URL so a
// reload or a shared URL shows the same view.
import {
  api, clearFieldErrors, copyButton, emptyState, formatDate, formatNumber, h, parseTags, showFieldErrors, stateBadge,
} from "./api.js";

const PAGE_SIZE = 20;
const app = document.querySelector("[data-links-app]");
const list = app.querySelector("[data-links-list]");
const pager = app.querySelector("[data-links-pager]");
const filters = document.querySelector("[data-links-filters]");
const clearButton = filters.querySelector("[data-clear-filters]");
const knownTags = new Set();

const initial = new URLSearchParams(window.location.search);
const state = {
  search: initial.get("search") || "",
  tag: initial.get("tag") || "",
  page: Math.max(1, Number(initial.get("page")) || 1),
};
filters.elements.search.value = state.search;
filters.elements.tag.value = state.tag;

let requestSeq = 0;

function syncUrl() {
  const params = new URLSearchParams();
  if (state.search) params.set("search", state.search);
  if (state.tag) params.set("tag", state.tag);
  if (state.page > 1) params.set("page", String(state.page));
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
  clearButton.hidden = !(state.search || state.tag);
}

function setTag(tag) {
  state.tag = tag;
  state.page = 1;
  filters.elements.tag.value = tag;
  load();
}

function linkRow(link) {
  const code = encodeURIComponent(link.short_code);
  const dashboard = `/links/${code}/`;
  const tags = (link.tags || []).map((tag) =>
    h("button", { type: "button", class: "sh-tag", title: `Show links tagged ${tag}`, onclick: () => setTag(tag) }, `#${tag}`),
  );
  const meta = h("div", { class: "sh-link-meta" },
    stateBadge(link.state),
    link.has_password ? h("span", { class: "sh-badge lock", title: "Password protected" }, "Password") : null,
    link.redirect_type === 301 ? h("span", { class: "sh-badge lock", title: "Permanent redirect" }, "301") : null,
    h("span", {}, `Created ${formatDate(link.created_at)}`),
    h("span", { "aria-hidden": "true" }, "·"),
    h("span", {}, link.expires_at ? `Expires ${formatDate(link.expires_at)}` : "Never expires"),
    link.max_clicks ? h("span", {}, `· limit ${formatNumber(link.max_clicks)} clicks`) : null,
    ...tags,
  );
  const editable = link.state !== "deleted";
  return h("li", { class: "sh-link", "data-link": link.short_code },
    h("div", { class: "sh-link-main" },
      h("a", { class: "sh-link-short sh-mono", href: dashboard, title: "Open the stats dashboard" }, link.short_url.replace(/^https?:\/\//, "")),
      h("div", { class: "sh-link-long sh-truncate", title: link.long_url }, link.long_url),
      meta,
    ),
    h("div", { class: "sh-link-clicks" }, h("strong", { "data-testid": "click-count" }, formatNumber(link.click_count)), h("span", {}, link.click_count === 1 ? "click" : "clicks")),
    h("div", { class: "sh-link-actions" },
      copyButton(link.short_url, "button sh-btn-sm"),
      h("a", { class: "button sh-btn-sm", href: dashboard }, "Stats"),
      editable ? h("button", { type: "button", class: "button sh-btn-sm", onclick: () => openEdit(link) }, "Edit") : null,
      editable ? h("button", { type: "button", class: "button sh-btn-sm sh-btn-danger", onclick: () => openDelete(link) }, "Delete") : null,
    ),
  );
}

function renderPager(data) {
  const pages = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
  pager.hidden = data.count <= PAGE_SIZE && state.page === 1;
  pager.querySelector("[data-page-info]").textContent = `Page ${state.page} of ${pages} · ${formatNumber(data.count)} links`;
  pager.querySelector("[data-page-prev]").disabled = !data.previous;
  pager.querySelector("[data-page-next]").disabled = !data.next;
}

function renderTags(links) {
  for (const link of links) for (const tag of link.tags || []) knownTags.add(tag);
  const datalist = document.getElementById("sh-known-tags");
  datalist.replaceChildren(...[...knownTags].sort().map((tag) => h("option", { value: tag })));
}

async function load() {
  const seq = ++requestSeq;
  syncUrl();
  app.setAttribute("aria-busy", "true");
  try {
    const data = await api("/api/v1/links", {
      params: { search: state.search, tag: state.tag, page: state.page, page_size: PAGE_SIZE },
    });
    if (seq !== requestSeq) return;
    if (!data.results.length && state.page > 1) {
      state.page -= 1;
      load();
      return;
    }
    renderTags(data.results);
    if (!data.results.length) {
      const filtered = state.search || state.tag;
      list.replaceChildren(h("li", {}, filtered
        ? emptyState({
          title: "No links match",
          text: "Nothing matches this search or tag.",
          action: h("button", { type: "button", class: "button", onclick: clearFilters }, "Clear filters"),
        })
        : emptyState({
          title: "No links yet",
          text: "Shorten your first URL and it will show up here with its clicks.",
          action: h("a", { class: "button primary", href: "/#shorten" }, "Shorten a link"),
        })));
    } else {
      list.replaceChildren(...data.results.map(linkRow));
    }
    renderPager(data);
  } catch (err) {
    if (seq !== requestSeq) return;
    if (err.status === 404 && state.page > 1) {
      state.page = 1;
      load();
      return;
    }
    list.replaceChildren(h("li", { class: "sh-error-state", role: "alert" },
      h("p", {}, `Could not load your links: ${err.message}`),
      h("button", { type: "button", class: "button", onclick: load }, "Try again")));
    pager.hidden = true;
  } finally {
    if (seq === requestSeq) app.setAttribute("aria-busy", "false");
  }
}

function clearFilters() {
  state.search = "";
  state.tag = "";
  state.page = 1;
  filters.reset();
  load();
}

let searchTimer;
filters.elements.search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.search = filters.elements.search.value.trim();
    state.page = 1;
    load();
  }, 250);
});
filters.elements.tag.addEventListener("change", () => setTag(filters.elements.tag.value.trim()));
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  state.search = filters.elements.search.value.trim();
  state.tag = filters.elements.tag.value.trim();
  state.page = 1;
  load();
});
clearButton.addEventListener("click", clearFilters);
pager.querySelector("[data-page-prev]").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); load(); });
pager.querySelector("[data-page-next]").addEventListener("click", () => { state.page += 1; load(); });

// --- Edit ---------------------------------------------------------------
const editDialog = document.querySelector("[data-edit-dialog]");
const editForm = editDialog.querySelector("[data-edit-form]");
let editing = null;

function toDateInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function openEdit(link) {
  editing = link;
  clearFieldErrors(editForm);
  editForm.querySelector("[data-form-error]").textContent = "";
  editForm.querySelector("[data-edit-code]").textContent = link.short_code;
  editForm.elements.long_url.value = link.long_url;
  editForm.elements.expires_at.value = toDateInput(link.expires_at);
  editForm.elements.redirect_type.value = String(link.redirect_type || 302);
  editForm.elements.tags.value = (link.tags || []).join(", ");
  editForm.elements.password.value = "";
  editForm.elements.remove_password.checked = false;
  editForm.querySelector("[data-remove-password-row]").hidden = !link.has_password;
  editForm.elements.password.placeholder = link.has_password ? "Leave empty to keep the current one" : "Optional";
  editDialog.showModal();
  editForm.elements.long_url.focus();
}

function editPayload() {
  const payload = {};
  const longUrl = editForm.elements.long_url.value.trim();
  if (longUrl !== editing.long_url) payload.long_url = longUrl;
  const expiry = editForm.elements.expires_at.value;
  if (expiry !== toDateInput(editing.expires_at)) {
    // The end of the chosen day in the viewer's time zone, sent as an aware ISO datetime.
    payload.expires_at = expiry ? new Date(`${expiry}T23:59:59`).toISOString() : null;
  }
  const redirectType = Number(editForm.elements.redirect_type.value);
  if (redirectType !== editing.redirect_type) payload.redirect_type = redirectType;
  const tags = parseTags(editForm.elements.tags.value);
  if (tags.join("\u0000") !== (editing.tags || []).join("\u0000")) payload.tags = tags;
  if (editForm.elements.remove_password.checked) payload.password = "";
  else if (editForm.elements.password.value) payload.password = editForm.elements.password.value;
  return payload;
}

editForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(editForm);
  const formError = editForm.querySelector("[data-form-error]");
  formError.textContent = "";
  const payload = editPayload();
  if (!Object.keys(payload).length) {
    editDialog.close();
    return;
  }
  const submit = editForm.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    await api(`/api/v1/links/${encodeURIComponent(editing.short_code)}`, { method: "PATCH", body: payload });
    editDialog.close();
    load();
  } catch (err) {
    const unplaced = showFieldErrors(editForm, err.fields);
    if (!Object.keys(err.fields).length || unplaced.length) formError.textContent = [err.message, ...unplaced].join(" ");
  } finally {
    submit.disabled = false;
  }
});

// --- Delete -------------------------------------------------------------
const deleteDialog = document.querySelector("[data-delete-dialog]");
const deleteForm = deleteDialog.querySelector("[data-delete-form]");
let deleting = null;

function openDelete(link) {
  deleting = link;
  deleteForm.querySelector("[data-delete-code]").textContent = link.short_url.replace(/^https?:\/\//, "");
  deleteForm.querySelector("[data-form-error]").textContent = "";
  deleteDialog.showModal();
  deleteForm.querySelector("[data-dialog-cancel]").focus();
}

deleteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const submit = deleteForm.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    await api(`/api/v1/links/${encodeURIComponent(deleting.short_code)}`, { method: "DELETE" });
    deleteDialog.close();
    load();
  } catch (err) {
    deleteForm.querySelector("[data-form-error]").textContent = err.message;
  } finally {
    submit.disabled = false;
  }
});

// --- CSV import -----------------------------------------------------------
const importDialog = document.querySelector("[data-import-dialog]");
const importForm = importDialog.querySelector("[data-import-form]");
const importResult = importForm.querySelector("[data-import-result]");

document.querySelector("[data-import-open]").addEventListener("click", () => {
  importForm.reset();
  clearFieldErrors(importForm);
  importForm.querySelector("[data-form-error]").textContent = "";
  importResult.replaceChildren();
  importDialog.showModal();
});

function importSummary(result) {
  const failures = result.results.filter((row) => row.status !== "created");
  const describe = (row) => {
    const fields = Object.entries(row.fields || {}).map(([name, msgs]) => `${name}: ${[].concat(msgs).join(" ")}`);
    const suggested = row.suggested && row.suggested.length ? `Free: ${row.suggested.join(", ")}` : "";
    return [fields.length ? fields.join(" ") : row.error, suggested].filter(Boolean).join(" · ");
  };
  return [
    h("div", { class: "sh-import-summary", "data-testid": "import-summary" },
      h("span", { class: "sh-badge active" }, `${formatNumber(result.created)} created`),
      result.failed ? h("span", { class: "sh-badge deleted" }, `${formatNumber(result.failed)} failed`) : null),
    failures.length
      ? h("ul", { class: "sh-import-rows" }, failures.map((row) =>
        h("li", {}, h("span", { class: "row-no" }, `Row ${row.row}`), h("span", { class: "row-error" }, describe(row)))))
      : null,
  ];
}

importForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(importForm);
  const formError = importForm.querySelector("[data-form-error]");
  formError.textContent = "";
  importResult.replaceChildren();
  const file = importForm.elements.file.files[0];
  if (!file) {
    showFieldErrors(importForm, { file: ["Choose a CSV file."] });
    return;
  }
  const body = new FormData();
  body.append("file", file);
  const submit = importForm.querySelector("button[type=submit]");
  submit.disabled = true;
  submit.textContent = "Importing…";
  try {
    const result = await api("/api/v1/links/import", { method: "POST", body });
    importResult.replaceChildren(...importSummary(result).filter(Boolean));
    if (result.created) {
      state.page = 1;
      load();
    }
  } catch (err) {
    const unplaced = showFieldErrors(importForm, err.fields);
    if (!Object.keys(err.fields).length || unplaced.length) formError.textContent = [err.message, ...unplaced].join(" ");
  } finally {
    submit.disabled = false;
    submit.textContent = "Import";
  }
});

for (const dialog of [editDialog, deleteDialog, importDialog]) {
  dialog.querySelector("[data-dialog-cancel]").addEventListener("click", () => dialog.close());
}

load();
