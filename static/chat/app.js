// Chat page entry point: wires the REST API, the socket, the state model and the renderers.

import { Api, resultsOf } from "./api.js";
import { Dialogs } from "./dialogs.js";
import { clear, debounce, fileSize, h, listTime } from "./dom.js";
import { reactionPicker, renderConversationList, renderHeader, renderMessages, renderTyping } from "./render.js";
import { ChatSocket } from "./socket.js";
import { ChatState, newClientId } from "./state.js";

const PAGE_SIZE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 6000;
const ACK_RETRY_MS = 10000;
const PRESENCE_POLL_MS = 60000;
const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
const NEAR_BOTTOM_PX = 120;
const LOAD_OLDER_PX = 200;

const config = JSON.parse(document.getElementById("chat-config").textContent);
const api = new Api(config.api, config.csrf_token);
const state = new ChatState(config.me);

const $ = (id) => document.getElementById(id);
const els = {
  app: $("chat-app"),
  list: $("conversation-list"),
  status: $("connection-status"),
  pane: $("chat-pane"),
  empty: $("pane-empty"),
  head: $("pane-head"),
  title: $("pane-title"),
  subtitle: $("pane-subtitle"),
  avatar: $("pane-avatar"),
  membersButton: $("members-button"),
  blockButton: $("block-button"),
  scroller: $("message-scroller"),
  history: $("history-status"),
  messages: $("message-list"),
  typing: $("typing-line"),
  composer: $("composer"),
  input: $("composer-input"),
  counter: $("char-counter"),
  send: $("send-button"),
  attachInput: $("attach-input"),
  attachments: $("composer-attachments"),
  search: $("search-input"),
  searchResults: $("search-results"),
  notifButton: $("notif-button"),
  notifBadge: $("notif-badge"),
  notifPanel: $("notif-panel"),
  notifList: $("notif-list"),
};

const sentReceipts = { delivered: new Map(), read: new Map() };
const queuedReceipts = { delivered: new Map(), read: new Map() };
let receiptTimer = null;
let lastTypingSent = 0;
let uploads = []; // {key, file, status: "uploading"|"done"|"error", result, error}
let editing = null; // message being edited in the composer
let openPicker = null;
const drafts = new Map(); // conversation id -> unsent composer text

// ---------------------------------------------------------------- rendering

const baseTitle = document.title;

function renderList() {
  renderConversationList(state, els.list, (id) => openConversation(id));
  const unread = state.totalUnread();
  document.title = unread ? `(${unread > 99 ? "99+" : unread}) ${baseTitle}` : baseTitle;
}

function isNearBottom() {
  const s = els.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

// Rebuilds the pane while keeping the reader's place: pinned to the bottom when they were there,
// otherwise anchored on the first visible message (so prepending history does not jump).
function renderPane({ toBottom = false } = {}) {
  if (!state.activeId) return;
  const stick = toBottom || isNearBottom();
  let anchor = null;
  if (!stick) {
    const top = els.scroller.getBoundingClientRect().top;
    for (const el of els.messages.querySelectorAll(".message[data-seq]")) {
      const rect = el.getBoundingClientRect();
      if (rect.bottom > top) {
        anchor = { seq: el.dataset.seq, offset: rect.top - top };
        break;
      }
    }
  }
  // An open reaction picker survives the rebuild (a receipt arriving must not snatch it away).
  const pickerHost = openPicker && openPicker.isConnected ? openPicker.closest(".message") : null;
  const pickerFor = pickerHost ? pickerHost.dataset.id : null;
  renderMessages(state, els.messages, messageHandlers);
  if (pickerFor) {
    const host = els.messages.querySelector(`.message[data-id="${pickerFor}"]`);
    if (host) host.append(openPicker);
    else closePicker();
  }
  const thread = state.thread(state.activeId);
  els.history.textContent = thread.loading ? "Loading earlier messages…" : thread.hasMore ? "" : thread.messages.size ? "This is the beginning of the conversation" : "";
  if (stick) {
    els.scroller.scrollTop = els.scroller.scrollHeight;
  } else if (anchor) {
    const el = els.messages.querySelector(`.message[data-seq="${anchor.seq}"]`);
    if (el) els.scroller.scrollTop += el.getBoundingClientRect().top - els.scroller.getBoundingClientRect().top - anchor.offset;
  }
  renderTyping(state, els.typing);
}

// Socket events arrive in bursts (a busy group's receipts, a sync replay); they mark what is stale
// and one render per tick rebuilds it. A timer, not requestAnimationFrame, so background tabs still
// update their title badge.
const queued = { list: false, pane: null, frame: null };

function schedule({ list = true, pane = true, toBottom = false } = {}) {
  if (list) queued.list = true;
  if (pane && state.activeId) queued.pane = { toBottom: Boolean(queued.pane && queued.pane.toBottom) || toBottom };
  if (queued.frame === null) queued.frame = setTimeout(flushScheduled, 16);
}

function flushScheduled() {
  queued.frame = null;
  if (queued.list) {
    queued.list = false;
    renderList();
  }
  if (queued.pane && state.activeId) {
    const options = queued.pane;
    queued.pane = null;
    renderHeader(state, els);
    renderPane(options);
    markVisibleRead();
  }
}

function renderAll(options) {
  renderList();
  if (state.activeId) {
    renderHeader(state, els);
    renderPane(options);
  }
}

function setStatus(kind, seconds) {
  const text = {
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    online: "Connected",
    offline: seconds ? `Offline — retrying in ${seconds}s` : "Offline — retrying…",
    "signed-out": "Signed out — reload to log in again",
  }[kind];
  els.status.textContent = text;
  els.status.dataset.state = kind;
}

function toast(message) {
  const el = h("div", { class: "toast", role: "status", "data-testid": "toast" }, message);
  els.app.append(el);
  setTimeout(() => el.remove(), 4000);
}

// ---------------------------------------------------------------- conversations

let listLoadedAt = 0;

async function loadConversations() {
  listLoadedAt = Date.now();
  const conversations = resultsOf(await api.get("conversations"));
  const seen = new Set();
  for (const conv of conversations) seen.add(state.upsertConversation(conv).id);
  for (const id of [...state.conversations.keys()]) if (!seen.has(id)) state.removeConversation(id);
  renderAll();
  loadPresence();
  acknowledgeDelivered();
}

async function fetchConversation(id) {
  try {
    return state.upsertConversation(await api.get(`conversations/${id}`));
  } catch (err) {
    if (err.status === 404) {
      state.removeConversation(id);
      if (!state.activeId) showEmptyPane();
      renderList();
    }
    return null;
  }
}

async function loadPresence() {
  const peers = new Set();
  for (const conv of state.conversations.values()) {
    const peer = state.directPeer(conv);
    if (peer && peer !== state.me) peers.add(peer);
  }
  await Promise.all([...peers].slice(0, 50).map(fetchPresence));
  renderAll();
}

const presenceEventAt = new Map(); // username -> when the socket last told us their presence

// A REST snapshot can be older than an event that overtook it (a peer closing their tab while the
// request was in flight); the event wins, or the dot would stay green until the next poll.
async function fetchPresence(username) {
  const asked = performance.now();
  try {
    const presence = await api.get(`users/${encodeURIComponent(username)}/presence`);
    if ((presenceEventAt.get(username) || 0) < asked) state.presence.set(username, presence);
  } catch {
    // presence is cosmetic; a failed lookup leaves the dot as it was
  }
}

function showEmptyPane() {
  els.pane.dataset.active = "";
  els.empty.hidden = false;
  els.head.hidden = true;
  els.scroller.hidden = true;
  els.composer.hidden = true;
  els.typing.textContent = "";
  els.app.classList.remove("show-pane");
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
}

async function openConversation(id, { jumpToSeq = null } = {}) {
  id = String(id);
  if (!state.conversations.has(id) && !(await fetchConversation(id))) return;
  const switching = state.activeId !== id;
  const unreadAtOpen = switching ? (state.conversations.get(id).unread_count || 0) : 0;
  if (switching) {
    state.unreadMarker = null;
    cancelEdit();
    if (state.activeId) drafts.set(state.activeId, els.input.value);
    els.input.value = drafts.get(id) || "";
    updateComposer();
  }
  state.activeId = id;
  els.pane.dataset.active = id;
  els.empty.hidden = true;
  els.head.hidden = false;
  els.scroller.hidden = false;
  els.composer.hidden = false;
  els.app.classList.add("show-pane");
  history.replaceState(null, "", `#c=${id}`);
  renderAll({ toBottom: switching });
  if (switching) els.input.focus();
  const thread = state.thread(id);
  if (!thread.loaded) await loadLatest(id);
  else await catchUp(id).catch(() => {});
  await fetchConversation(id); // members, admins and receipt pointers for the ticks
  const peer = state.directPeer(state.conversations.get(id) || {});
  if (peer) await fetchPresence(peer);
  if (state.activeId !== id) return;
  if (unreadAtOpen) placeUnreadMarker(id, unreadAtOpen);
  renderAll({ toBottom: switching && jumpToSeq === null && !state.unreadMarker });
  if (jumpToSeq !== null) await jumpTo(id, jumpToSeq);
  else if (switching && state.unreadMarker) scrollToUnread();
  await fillViewport(id);
  markVisibleRead();
}

// The divider sits before the oldest unread message from someone else (the top of what is loaded
// when more are unread than loaded).
function placeUnreadMarker(id, count) {
  const theirs = state.thread(id).ordered().filter((m) => m.sender !== state.me);
  if (!theirs.length) return;
  const first = theirs[Math.max(0, theirs.length - count)];
  state.unreadMarker = { conversation: id, seq: first.seq, count };
}

function scrollToUnread() {
  const divider = els.messages.querySelector(".unread-divider");
  if (!divider) return;
  const offset = divider.getBoundingClientRect().top - els.scroller.getBoundingClientRect().top;
  els.scroller.scrollTop += offset - 16;
}

// Upward paging is driven by scrolling; a short first page that cannot scroll loads more itself.
async function fillViewport(id) {
  const thread = state.thread(id);
  for (let i = 0; i < 5 && state.activeId === id && thread.hasMore && els.scroller.scrollHeight <= els.scroller.clientHeight; i += 1) {
    await loadOlder(id);
  }
}

async function fetchMessages(id, params) {
  return resultsOf(await api.get(`conversations/${id}/messages`, { limit: PAGE_SIZE, ...params }));
}

// Loads the newest page, then walks forward by seq until caught up, so a stale list can't leave a gap.
async function loadLatest(id) {
  const thread = state.thread(id);
  const conv = state.conversations.get(id);
  thread.loading = true;
  try {
    const lastSeq = conv && conv.last_message ? conv.last_message.seq : 0;
    const page = lastSeq ? await fetchMessages(id, { before_seq: lastSeq + 1 }) : [];
    thread.loaded = true;
    for (const message of page) state.addMessage(message);
    thread.hasMore = thread.minSeq > 1;
    await catchUp(id);
  } catch (err) {
    toast(err.message);
  } finally {
    thread.loading = false;
  }
}

async function catchUp(id) {
  const thread = state.thread(id);
  for (let i = 0; i < 20; i += 1) {
    const page = await fetchMessages(id, { after_seq: thread.maxSeq });
    for (const message of page) state.addMessage(message);
    if (page.length < PAGE_SIZE) break;
  }
  if (!thread.messages.size) thread.hasMore = false;
}

async function loadOlder(id) {
  const thread = state.thread(id);
  if (thread.loading || !thread.hasMore || !thread.loaded) return;
  thread.loading = true;
  renderPane();
  try {
    const page = await fetchMessages(id, { before_seq: thread.minSeq });
    for (const message of page) state.addMessage(message);
    thread.hasMore = page.length > 0 && thread.minSeq > 1;
  } catch (err) {
    toast(err.message);
  } finally {
    thread.loading = false;
  }
  if (state.activeId === id) renderPane();
}

async function jumpTo(id, seq) {
  const thread = state.thread(id);
  for (let i = 0; i < 40 && thread.hasMore && thread.minSeq > seq; i += 1) await loadOlder(id);
  renderPane();
  const el = els.messages.querySelector(`.message[data-seq="${seq}"]`);
  if (!el) return;
  el.scrollIntoView({ block: "center" });
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 2000);
}

// ---------------------------------------------------------------- receipts

function queueReceipt(status, conversation, seq) {
  if (seq <= (sentReceipts[status].get(conversation) || 0)) return;
  if (seq <= (queuedReceipts[status].get(conversation) || 0)) return;
  queuedReceipts[status].set(conversation, seq);
  clearTimeout(receiptTimer);
  receiptTimer = setTimeout(flushReceipts, 150);
}

function flushReceipts() {
  for (const status of ["delivered", "read"]) {
    for (const [conversation, seq] of queuedReceipts[status]) {
      if (seq <= (sentReceipts[status].get(conversation) || 0)) continue;
      if (socket.send({ type: "receipt", conversation, status, up_to_seq: seq })) {
        sentReceipts[status].set(conversation, seq);
        queuedReceipts[status].delete(conversation);
      }
    }
  }
}

function acknowledgeDelivered() {
  for (const conv of state.conversations.values()) {
    const last = conv.last_message;
    if (last && last.sender !== state.me) queueReceipt("delivered", conv.id, last.seq);
  }
}

function tabIsReading() {
  return document.visibilityState === "visible" && document.hasFocus();
}

// Read receipts cover what is on screen while the tab has focus, nothing more.
function markVisibleRead() {
  const id = state.activeId;
  if (!id || !tabIsReading() || els.scroller.hidden) return;
  const bottom = els.scroller.getBoundingClientRect().bottom;
  let upTo = 0;
  for (const el of els.messages.querySelectorAll(".message[data-seq]")) {
    if (el.getBoundingClientRect().top < bottom) upTo = Math.max(upTo, Number(el.dataset.seq));
  }
  if (!upTo) return;
  const conv = state.conversations.get(id);
  const before = conv ? conv.unread_count : 0;
  state.markReadLocally(id, upTo);
  queueReceipt("read", id, upTo);
  if (conv && conv.unread_count !== before) renderList();
}

// ---------------------------------------------------------------- socket

const socket = new ChatSocket(config.socket_path, {
  pingInterval: config.ping_interval,
  onStatus: setStatus,
  onOpen: handleOpen,
  onFrame: handleFrame,
});

let openedOnce = false;

async function handleOpen() {
  // Missed messages and the edits, deletes and reactions made meanwhile both come back on the socket.
  socket.send({ type: "sync", cursors: state.cursorPayload(), changes: state.changePayload() });
  sentReceipts.delivered.clear();
  sentReceipts.read.clear();
  for (const pending of state.pending.values()) if (!pending.error) sendPending(pending);
  if (openedOnce) {
    // Conversations created while we were away are not in our cursors; the list brings them in.
    try {
      await loadConversations();
      if (state.activeId) {
        await fetchConversation(state.activeId);
        renderAll();
      }
      loadNotifications();
    } catch (err) {
      toast(err.message);
    }
  } else {
    acknowledgeDelivered();
  }
  openedOnce = true;
  flushReceipts();
  markVisibleRead();
}

function handleFrame(frame) {
  const handler = frameHandlers[frame.type];
  if (handler) handler(frame);
  else if (String(frame.type || "").startsWith("conversation")) loadConversations().catch(() => {});
}

function receiveMessage(message) {
  const id = String(message.conversation);
  const thread = state.thread(id);
  const gap = thread.loaded && thread.maxSeq && message.seq > thread.maxSeq + 1;
  const isNew = state.addMessage(message);
  if (!state.conversations.has(id)) {
    fetchConversation(id).then(() => {
      loadPresence();
      renderList();
    });
  }
  if (message.sender !== state.me) {
    state.clearTyping(id, message.sender);
    queueReceipt("delivered", id, message.seq);
    const conv = state.conversations.get(id);
    if (isNew && conv) conv.unread_count = (conv.unread_count || 0) + 1;
  }
  if (gap) catchUp(id).then(() => schedule({ list: false }));
  schedule({ pane: state.activeId === id, toBottom: message.sender === state.me });
}

const frameHandlers = {
  "message.new": (frame) => receiveMessage(frame.message),
  "message.ack": (frame) => {
    state.pending.delete(frame.client_id);
    receiveMessage(frame.message);
  },
  "message.updated": (frame) => {
    const message = frame.message || frame;
    state.updateMessage(message);
    state.bumpChange(String(message.conversation), frame.change);
    schedule({ pane: state.activeId === String(message.conversation) });
  },
  receipt: (frame) => {
    const id = String(frame.conversation);
    state.applyReceipt(id, frame.user, frame.status, frame.up_to_seq);
    schedule({ list: frame.user === state.me, pane: state.activeId === id });
  },
  typing: (frame) => {
    if (frame.user === state.me) return;
    const id = String(frame.conversation);
    state.setTyping(id, frame.user, TYPING_SHOW_MS);
    schedule({ pane: false });
    if (state.activeId === id) renderTyping(state, els.typing);
    setTimeout(() => {
      schedule({ pane: false });
      if (state.activeId === id) renderTyping(state, els.typing);
    }, TYPING_SHOW_MS + 50);
  },
  presence: (frame) => {
    presenceEventAt.set(frame.user, performance.now());
    state.presence.set(frame.user, { online: frame.online, last_seen: frame.last_seen });
    schedule({ pane: false });
    if (state.activeId) renderHeader(state, els);
  },
  "sync.done": (frame) => {
    for (const [id, seq] of Object.entries(frame.cursors || {})) if (state.conversations.has(id)) state.bumpCursor(id, seq);
    for (const [id, change] of Object.entries(frame.changes || {})) state.bumpChange(id, change);
    schedule();
  },
  error: (frame) => {
    const pending = frame.ref && state.pending.get(frame.ref);
    if (pending && frame.code === "rate_limited" && frame.retry_after) {
      // Same client_id on the retry, so a send that did get through is not stored twice.
      pending.error = `Sending too fast — retrying in ${Math.ceil(frame.retry_after)}s`;
      setTimeout(() => state.pending.has(pending.client_id) && messageHandlers.retryPending(pending), frame.retry_after * 1000);
      if (state.activeId === pending.conversation) renderPane();
    } else if (pending) {
      pending.error = frame.error || frame.code;
      if (state.activeId === pending.conversation) renderPane();
    } else {
      toast(frame.error || frame.code || "Something went wrong");
    }
  },
};

// ---------------------------------------------------------------- sending

function sendPending(pending) {
  pending.sentAt = Date.now();
  const frame = { type: "message.send", conversation: pending.conversation, client_id: pending.client_id, content: pending.content };
  if (pending.attachment_ids.length) frame.attachment_ids = pending.attachment_ids;
  socket.send(frame);
}

// An ack lost with its socket is recovered by resending: the server stores one message per client_id.
setInterval(() => {
  if (!socket.isOpen) return;
  for (const pending of state.pending.values()) {
    if (!pending.error && Date.now() - pending.sentAt > ACK_RETRY_MS) sendPending(pending);
  }
}, ACK_RETRY_MS / 2);

function composerText() {
  return els.input.value.replace(/\s+$/, "");
}

function updateComposer() {
  const length = els.input.value.length;
  const max = config.max_length;
  els.counter.textContent = length > max * 0.8 ? `${length} / ${max}` : length ? `${length}` : "";
  els.counter.classList.toggle("over", length > max);
  const uploading = uploads.some((u) => u.status === "uploading");
  const ready = uploads.some((u) => u.status === "done");
  els.send.disabled = length > max || uploading || (!composerText().trim() && !ready && !editing);
  els.input.style.height = "auto";
  els.input.style.height = `${Math.min(els.input.scrollHeight, 160)}px`;
}

async function submitComposer() {
  if (els.send.disabled || !state.activeId) return;
  const content = composerText();
  if (editing) return saveEdit(content);
  const done = uploads.filter((u) => u.status === "done");
  if (!content.trim() && !done.length) return;
  const pending = {
    client_id: newClientId(),
    conversation: state.activeId,
    content,
    attachment_ids: done.map((u) => u.result.id),
    attachments: done.map((u) => u.result),
    created_at: new Date().toISOString(),
    error: null,
    sentAt: 0,
  };
  state.pending.set(pending.client_id, pending);
  sendPending(pending);
  els.input.value = "";
  uploads = [];
  renderUploads();
  updateComposer();
  renderPane({ toBottom: true });
}

const messageHandlers = {
  retryPending(pending) {
    pending.error = null;
    sendPending(pending);
    renderPane();
  },
  discardPending(pending) {
    state.pending.delete(pending.client_id);
    renderPane();
  },
  async toggleReaction(message, emoji, mine) {
    closePicker();
    try {
      const updated = mine
        ? await api.delete(`messages/${message.id}/reactions`, { emoji })
        : await api.post(`messages/${message.id}/reactions`, { emoji });
      if (updated && updated.seq) state.updateMessage(updated);
      renderPane();
    } catch (err) {
      toast(err.describe());
    }
  },
  openReactionPicker(message, anchor) {
    closePicker();
    const mine = (emoji) => (((state.findMessage(message.id) || message).reactions || {})[emoji] || []).includes(state.me);
    openPicker = reactionPicker((emoji) => messageHandlers.toggleReaction(message, emoji, mine(emoji)));
    anchor.closest(".message").append(openPicker);
  },
  startEdit(message) {
    editing = message;
    els.composer.classList.add("editing");
    els.composer.dataset.editing = message.id;
    els.input.value = message.content;
    let banner = els.composer.querySelector(".edit-banner");
    if (!banner) {
      banner = h("div", { class: "edit-banner", "data-testid": "edit-banner" });
      els.composer.prepend(banner);
    }
    clear(banner).append(h("span", {}, "Editing message"), h("button", { type: "button", class: "link", onclick: cancelEdit }, "Cancel"));
    updateComposer();
    els.input.focus();
  },
  async deleteMessage(message) {
    if (!window.confirm("Delete this message for everyone?")) return;
    try {
      const updated = await api.delete(`messages/${message.id}`);
      state.updateMessage(updated && updated.seq ? updated : { ...message, deleted: true, content: "" });
      renderAll();
    } catch (err) {
      toast(err.describe());
    }
  },
};

function cancelEdit() {
  if (!editing) return;
  editing = null;
  els.composer.classList.remove("editing");
  delete els.composer.dataset.editing;
  const banner = els.composer.querySelector(".edit-banner");
  if (banner) banner.remove();
  els.input.value = "";
  updateComposer();
}

async function saveEdit(content) {
  const message = editing;
  if (!content.trim()) return;
  try {
    const updated = await api.patch(`messages/${message.id}`, { content });
    state.updateMessage(updated && updated.seq ? updated : { ...message, content, edited_at: new Date().toISOString() });
    cancelEdit();
    renderAll();
  } catch (err) {
    toast(err.describe());
  }
}

function closePicker() {
  if (openPicker) openPicker.remove();
  openPicker = null;
}

// ---------------------------------------------------------------- attachments

function renderUploads() {
  clear(els.attachments);
  for (const upload of uploads) {
    els.attachments.append(h("span", { class: `upload ${upload.status}`, "data-testid": "upload", "data-status": upload.status, title: upload.error || "" },
      h("span", { class: "upload-name" }, upload.file.name),
      h("span", { class: "upload-size" }, upload.status === "uploading" ? "uploading…" : upload.status === "error" ? upload.error : fileSize(upload.file.size)),
      h("button", { type: "button", "aria-label": `Remove ${upload.file.name}`, onclick: () => {
        uploads = uploads.filter((u) => u !== upload);
        renderUploads();
        updateComposer();
      } }, "✕")));
  }
}

async function uploadFiles(files) {
  for (const file of files) {
    const upload = { key: newClientId(), file, status: "uploading", result: null, error: null };
    uploads.push(upload);
    if (file.size > MAX_UPLOAD_BYTES) {
      upload.status = "error";
      upload.error = "larger than 25 MB";
      continue;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    api.upload("attachments", form).then((result) => {
      upload.status = "done";
      upload.result = result;
    }, (err) => {
      upload.status = "error";
      upload.error = err.describe ? err.describe() : err.message;
    }).finally(() => {
      renderUploads();
      updateComposer();
    });
  }
  renderUploads();
  updateComposer();
}

// ---------------------------------------------------------------- search

const runSearch = debounce(async () => {
  const q = els.search.value.trim();
  if (!q) {
    els.searchResults.hidden = true;
    els.list.hidden = false;
    return;
  }
  let results;
  try {
    results = resultsOf(await api.get("search", { q }));
  } catch (err) {
    results = [];
    toast(err.describe ? err.describe() : err.message);
  }
  if (els.search.value.trim() !== q) return;
  clear(els.searchResults);
  els.searchResults.append(h("div", { class: "panel-title" }, results.length ? `${results.length} result${results.length === 1 ? "" : "s"}` : "No messages found"));
  for (const result of results) {
    const message = result.message || result;
    const id = String(message.conversation);
    const conv = state.conversations.get(id);
    els.searchResults.append(h("button", { type: "button", class: "search-result", "data-testid": "search-result", "data-conversation": id, "data-seq": message.seq, onclick: () => {
      els.search.value = "";
      els.searchResults.hidden = true;
      els.list.hidden = false;
      openConversation(id, { jumpToSeq: message.seq });
    } },
      h("div", { class: "conversation-top" },
        h("span", { class: "conversation-name" }, conv ? state.displayName(conv) : "Conversation"),
        h("span", { class: "conversation-time" }, listTime(message.created_at))),
      h("div", { class: "search-snippet" }, h("strong", {}, `${message.sender}: `), highlight(message.content || "", q))));
  }
  els.searchResults.hidden = false;
  els.list.hidden = true;
}, 250);

function highlight(text, q) {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const lower = text.toLowerCase();
  let at = -1;
  let word = "";
  for (const w of words) {
    at = lower.indexOf(w);
    if (at >= 0) {
      word = w;
      break;
    }
  }
  if (at < 0) return text.slice(0, 140);
  const start = Math.max(0, at - 40);
  return [start ? "…" : "", text.slice(start, at), h("mark", {}, text.slice(at, at + word.length)), text.slice(at + word.length, at + word.length + 90)];
}

// ---------------------------------------------------------------- notifications

async function loadNotifications() {
  try {
    const data = await api.get("notifications");
    const unread = data.unread || 0;
    els.notifBadge.textContent = unread > 99 ? "99+" : String(unread);
    els.notifBadge.hidden = unread === 0;
    els.notifButton.dataset.unread = String(unread);
    clear(els.notifList);
    const results = (data.results || []).slice(0, 30);
    if (!results.length) els.notifList.append(h("li", { class: "muted empty" }, "Nothing new"));
    for (const n of results) {
      const conv = state.conversations.get(String(n.conversation));
      els.notifList.append(h("li", { class: n.read ? "" : "unread" },
        h("button", { type: "button", class: "notif-item", "data-testid": "notif-item", onclick: () => {
          toggleNotifications(false);
          openConversation(String(n.conversation));
        } },
          h("div", { class: "conversation-top" },
            h("span", { class: "conversation-name" }, conv ? state.displayName(conv) : "Message"),
            h("span", { class: "conversation-time" }, listTime(n.created_at))),
          h("div", { class: "notif-preview" }, n.preview || ""))));
    }
  } catch {
    els.notifBadge.hidden = true;
  }
}

async function toggleNotifications(force) {
  const open = force === undefined ? els.notifPanel.hidden : force;
  els.notifPanel.hidden = !open;
  els.notifButton.setAttribute("aria-expanded", String(open));
  if (open && !els.notifBadge.hidden) {
    try {
      await api.post("notifications/read");
      els.notifBadge.hidden = true;
      els.notifBadge.textContent = "0";
      els.notifButton.dataset.unread = "0";
    } catch (err) {
      toast(err.message);
    }
  }
}

// ---------------------------------------------------------------- wiring

const dialogs = new Dialogs($("chat-dialog"), {
  api,
  state,
  onConversation: (conv, { open = true } = {}) => {
    state.upsertConversation(conv);
    renderAll();
    loadPresence();
    if (open) openConversation(String(conv.id));
  },
  onLeft: (id) => {
    state.removeConversation(id);
    showEmptyPane();
    renderList();
  },
});

$("new-chat-button").addEventListener("click", () => dialogs.openNewChat());
$("new-group-button").addEventListener("click", () => dialogs.openNewGroup());
els.membersButton.addEventListener("click", () => state.activeId && dialogs.openMembers(state.activeId));
els.blockButton.addEventListener("click", async () => {
  const peer = state.directPeer(state.conversations.get(state.activeId) || {});
  if (!peer) return;
  try {
    if (state.blocked.has(peer)) {
      await api.delete(`blocks/${encodeURIComponent(peer)}`);
      state.blocked.delete(peer);
      toast(`${peer} can message you again`);
    } else {
      if (!window.confirm(`Block ${peer}? They will not be able to send you direct messages.`)) return;
      await api.post("blocks", { username: peer });
      state.blocked.add(peer);
      toast(`You blocked ${peer}`);
    }
  } catch (err) {
    toast(err.describe ? err.describe() : err.message);
  }
  renderHeader(state, els);
});
$("back-button").addEventListener("click", () => {
  state.activeId = null;
  showEmptyPane();
  renderList();
});
els.notifButton.addEventListener("click", (event) => {
  event.stopPropagation();
  toggleNotifications();
});
document.addEventListener("click", (event) => {
  if (!els.notifPanel.hidden && !event.target.closest(".notif-wrap")) toggleNotifications(false);
  if (openPicker && !event.target.closest(".reaction-picker, [data-testid=react-button]")) closePicker();
});
els.search.addEventListener("input", runSearch);
els.search.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    els.search.value = "";
    runSearch();
  }
});

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submitComposer();
});
els.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitComposer();
  } else if (event.key === "Escape" && editing) {
    cancelEdit();
  }
});
els.input.addEventListener("input", () => {
  updateComposer();
  if (!editing && state.activeId && els.input.value && Date.now() - lastTypingSent > TYPING_SEND_EVERY_MS) {
    if (socket.send({ type: "typing", conversation: state.activeId })) lastTypingSent = Date.now();
  }
});
els.attachInput.addEventListener("change", () => {
  uploadFiles([...els.attachInput.files]);
  els.attachInput.value = "";
});
els.pane.addEventListener("dragover", (event) => {
  if (state.activeId && event.dataTransfer.types.includes("Files")) event.preventDefault();
});
els.pane.addEventListener("drop", (event) => {
  if (!state.activeId || !event.dataTransfer.files.length) return;
  event.preventDefault();
  uploadFiles([...event.dataTransfer.files]);
});
els.input.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData || {}).files || []];
  if (files.length) uploadFiles(files);
});

els.scroller.addEventListener("scroll", () => {
  if (state.activeId && els.scroller.scrollTop < LOAD_OLDER_PX) loadOlder(state.activeId);
  markReadSoon();
});
const markReadSoon = debounce(markVisibleRead, 200);
window.addEventListener("focus", () => {
  markVisibleRead();
  // Groups someone added us to have no message yet to announce them; a returning reader refreshes the list.
  if (socket.isOpen && Date.now() - listLoadedAt > 30000) loadConversations().catch(() => {});
});
document.addEventListener("visibilitychange", () => {
  markVisibleRead();
  if (document.visibilityState === "visible") socket.reconnectNow();
});
// Presence events are at-most-once (one published while our socket was down is gone), so poll too.
setInterval(() => socket.isOpen && document.visibilityState === "visible" && loadPresence(), PRESENCE_POLL_MS);
// Refresh relative times ("last seen 3 min ago", list timestamps) and expire typing lines.
setInterval(() => renderList() || (state.activeId && (renderHeader(state, els), renderTyping(state, els.typing))), 30000);

async function loadBlocks() {
  try {
    state.blocked = new Set(resultsOf(await api.get("blocks")).map((b) => b.username));
    if (state.activeId) renderHeader(state, els);
  } catch {
    // the button then offers "Block"; the server still enforces blocks on send
  }
}

async function start() {
  updateComposer();
  loadBlocks();
  try {
    await loadConversations();
  } catch (err) {
    toast(err.message);
  }
  socket.connect();
  loadNotifications();
  const match = window.location.hash.match(/^#c=(\w+)$/);
  if (match && state.conversations.has(match[1])) openConversation(match[1]);
  els.app.dataset.ready = "true";
}

start();
