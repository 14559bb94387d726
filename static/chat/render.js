// Renderers for the conversation list and the message pane. They rebuild from ChatState; the
// caller keeps the scroll position (see app.js) so rebuilding never makes the pane jump.

import { avatar, avatarColor, clear, clockTime, dayKey, dayLabel, fileSize, h, icon, lastSeenText, listTime } from "./dom.js";
import { linkedText } from "./links.js";

const GROUP_GAP_MS = 5 * 60 * 1000;
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

function previewText(state, conv) {
  const typing = state.typingUsers(conv.id);
  if (typing.length) return { text: conv.kind === "group" ? `${typing[0]} is typing…` : "typing…", typing: true };
  const message = conv.last_message;
  if (!message) return { text: conv.kind === "group" ? "Group created" : "No messages yet", typing: false };
  let body = message.deleted ? "Message deleted" : message.content;
  if (!body && message.attachments && message.attachments.length) body = `📎 ${message.attachments[0].name}`;
  const who = message.sender === state.me ? "You: " : conv.kind === "group" ? `${message.sender}: ` : "";
  return { text: who + (body || ""), typing: false };
}

export function presenceDot(presence) {
  const online = Boolean(presence && presence.online);
  return h("span", { class: `presence-dot ${online ? "online" : ""}`, "data-testid": "presence-dot", "data-online": online ? "true" : "false", title: online ? "Online" : "Offline" });
}

// Items are kept per conversation and updated in place: a click that lands while the list
// re-renders (a message or a typing line arriving) still hits the same button, so it is not lost.
export function renderConversationList(state, listEl, onOpen) {
  const conversations = state.sortedConversations();
  const existing = new Map();
  for (const item of listEl.querySelectorAll(":scope > li.conversation-item")) existing.set(item.dataset.id, item);
  for (const empty of listEl.querySelectorAll(":scope > li.list-empty")) empty.remove();
  if (!conversations.length) {
    clear(listEl);
    listEl.append(h("li", { class: "list-empty" }, "No conversations yet. Start one with the buttons above."));
    return;
  }
  const wanted = new Set();
  for (const conv of conversations) {
    wanted.add(conv.id);
    const name = state.displayName(conv);
    const peer = state.directPeer(conv);
    const preview = previewText(state, conv);
    const unread = conv.unread_count || 0;
    const pic = avatar(name, { group: conv.kind === "group" });
    if (peer) pic.append(presenceDot(state.presence.get(peer)));
    let item = existing.get(conv.id);
    if (!item) {
      item = h("li", { "data-testid": "conversation-item", "data-id": conv.id },
        h("button", { type: "button", class: "conversation-button", onclick: () => onOpen(conv.id) }));
    }
    item.className = `conversation-item ${conv.id === state.activeId ? "active" : ""} ${unread ? "has-unread" : ""}`;
    item.dataset.kind = conv.kind;
    item.firstElementChild.replaceChildren(
      pic,
      h("div", { class: "conversation-body" },
        h("div", { class: "conversation-top" },
          h("span", { class: "conversation-name", "data-testid": "conversation-name" }, name),
          h("span", { class: "conversation-time" }, listTime(state.activityOf(conv)))),
        h("div", { class: "conversation-bottom" },
          h("span", { class: `conversation-preview ${preview.typing ? "typing" : ""}`, "data-testid": "conversation-preview" }, preview.text),
          unread ? h("span", { class: "unread-badge", "data-testid": "unread-badge" }, unread > 99 ? "99+" : String(unread)) : null)));
    listEl.append(item); // moves an existing item into its sorted place
  }
  for (const [id, item] of existing) if (!wanted.has(id)) item.remove();
}

export function renderHeader(state, els) {
  const conv = state.conversations.get(state.activeId);
  if (!conv) return;
  const name = state.displayName(conv);
  els.title.textContent = name;
  els.avatar.replaceWith((els.avatar = Object.assign(avatar(name, { group: conv.kind === "group" }), { id: "pane-avatar" })));
  clear(els.subtitle);
  const peer = state.directPeer(conv);
  if (peer) {
    const presence = state.presence.get(peer);
    els.subtitle.append(presenceDot(presence), h("span", { "data-testid": "last-seen" }, presence && presence.online ? "online" : lastSeenText(presence && presence.last_seen)));
  } else if (conv.kind === "group") {
    const count = (conv.members || []).length;
    els.subtitle.append(`${count} member${count === 1 ? "" : "s"}`);
  }
  els.membersButton.hidden = conv.kind !== "group";
  els.blockButton.hidden = !peer;
  if (peer) {
    const blocked = state.blocked.has(peer);
    els.blockButton.textContent = blocked ? "Unblock" : "Block";
    els.blockButton.dataset.blocked = blocked ? "true" : "false";
    els.blockButton.classList.toggle("danger", !blocked);
  }
}

export function renderTyping(state, el) {
  const users = state.activeId ? state.typingUsers(state.activeId) : [];
  if (!users.length) {
    el.textContent = "";
    el.classList.remove("visible");
    return;
  }
  const names = users.length > 2 ? `${users.slice(0, 2).join(", ")} and ${users.length - 2} more` : users.join(" and ");
  el.textContent = `${names} ${users.length === 1 ? "is" : "are"} typing…`;
  el.classList.add("visible");
}

function tickEl(tick) {
  const labels = { pending: "Sending", failed: "Not sent", sent: "Sent", delivered: "Delivered", read: "Read" };
  const glyph = { pending: "clock", failed: "alert", sent: "check", delivered: "checks", read: "checks" }[tick];
  return h("span", { class: `tick tick-${tick}`, "data-testid": "tick", "data-state": tick, title: labels[tick], role: "img", "aria-label": labels[tick] }, icon(glyph));
}

function attachmentEls(attachments) {
  if (!attachments || !attachments.length) return null;
  return h("div", { class: "attachments" },
    attachments.map((file) => {
      // Only an image the server decoded has a thumbnail; anything else is a download.
      if (file.thumbnail_url) {
        return h("a", { class: "attachment-image", href: file.url, target: "_blank", rel: "noopener", "data-testid": "attachment-image" },
          h("img", { src: file.thumbnail_url || file.url, alt: file.name || "image", loading: "lazy" }));
      }
      return h("a", { class: "attachment-file", href: file.url, target: "_blank", rel: "noopener", download: file.name || true, "data-testid": "attachment-file" },
        h("span", { class: "file-icon" }, icon("file")),
        h("span", { class: "file-name" }, file.name || "file"),
        h("span", { class: "file-size" }, fileSize(file.size)));
    }));
}

function reactionsEl(state, message, handlers) {
  const entries = Object.entries(message.reactions || {}).filter(([, users]) => users && users.length);
  if (!entries.length || message.deleted) return null;
  return h("div", { class: "reactions" },
    entries.map(([emoji, users]) => {
      const mine = users.includes(state.me);
      return h("button", { type: "button", class: `reaction ${mine ? "mine" : ""}`, "data-testid": "reaction", "data-emoji": emoji, title: users.join(", "), onclick: () => handlers.toggleReaction(message, emoji, mine) },
        h("span", { class: "emoji" }, emoji), h("span", { class: "count" }, String(users.length)));
    }));
}

function actionsEl(state, message, handlers) {
  if (message.deleted) return null;
  const mine = message.sender === state.me;
  return h("div", { class: "message-actions" },
    h("button", { type: "button", class: "action", title: "React", "aria-label": "React", "data-testid": "react-button", onclick: (event) => handlers.openReactionPicker(message, event.currentTarget) }, icon("smile")),
    mine ? h("button", { type: "button", class: "action", title: "Edit", "aria-label": "Edit", "data-testid": "edit-button", onclick: () => handlers.startEdit(message) }, icon("pencil")) : null,
    mine ? h("button", { type: "button", class: "action", title: "Delete", "aria-label": "Delete", "data-testid": "delete-button", onclick: () => handlers.deleteMessage(message) }, icon("trash")) : null);
}

function messageEl(state, conv, message, { first, last }, handlers) {
  const mine = message.sender === state.me;
  const showSender = first && !mine && conv.kind === "group";
  const meta = h("span", { class: "message-meta" },
    message.edited_at && !message.deleted ? h("span", { class: "edited", "data-testid": "edited" }, "edited") : null,
    h("time", { datetime: message.created_at, title: new Date(message.created_at).toLocaleString() }, clockTime(message.created_at)),
    mine && !message.deleted ? tickEl(state.tickFor(conv.id, message)) : null);
  const body = message.deleted
    ? h("div", { class: "message-text deleted", "data-testid": "message-text" }, icon("ban"), "This message was deleted")
    : message.content ? h("div", { class: "message-text", "data-testid": "message-text" }, linkedText(message.content)) : null;
  return h("div", { class: `message ${mine ? "mine" : "theirs"} ${first ? "first" : ""} ${last ? "last" : ""}`, "data-testid": "message", "data-seq": message.seq, "data-id": message.id, "data-sender": message.sender },
    !mine && conv.kind === "group" ? (last ? avatar(message.sender, { size: "small" }) : h("div", { class: "avatar-spacer" })) : null,
    h("div", { class: "message-stack" },
      h("div", { class: `bubble ${message.deleted ? "is-deleted" : ""}` },
        showSender ? h("div", { class: "sender", style: `color:${avatarColor(message.sender)}` }, message.sender) : null,
        message.deleted ? null : attachmentEls(message.attachments),
        body,
        meta),
      reactionsEl(state, message, handlers)),
    actionsEl(state, message, handlers));
}

function pendingEl(state, pending, handlers) {
  const tick = pending.error ? "failed" : "pending";
  return h("div", { class: "message mine first last pending", "data-testid": "message", "data-pending": "true", "data-client-id": pending.client_id },
    h("div", { class: "message-stack" },
      h("div", { class: "bubble" },
        attachmentEls(pending.attachments),
        pending.content ? h("div", { class: "message-text", "data-testid": "message-text" }, pending.content) : null,
        h("span", { class: "message-meta" }, h("time", {}, clockTime(pending.created_at)), tickEl(tick))),
      pending.error
        ? h("div", { class: "send-error", "data-testid": "send-error" }, pending.error, " · ",
          h("button", { type: "button", class: "link", onclick: () => handlers.retryPending(pending) }, "Retry"), " · ",
          h("button", { type: "button", class: "link", onclick: () => handlers.discardPending(pending) }, "Discard"))
        : null));
}

export function renderMessages(state, listEl, handlers) {
  const conv = state.conversations.get(state.activeId);
  clear(listEl);
  if (!conv) return;
  const messages = state.thread(conv.id).ordered();
  let previous = null;
  let day = null;
  for (let i = 0; i < messages.length; i += 1) {
    const message = messages[i];
    const next = messages[i + 1];
    const newDay = !previous || dayKey(previous.created_at) !== dayKey(message.created_at);
    if (newDay) {
      day = h("section", { class: "day" }, h("div", { class: "day-separator", "data-testid": "day-separator" }, h("span", {}, dayLabel(message.created_at))));
      listEl.append(day);
    }
    const first = newDay || previous.sender !== message.sender || new Date(message.created_at) - new Date(previous.created_at) > GROUP_GAP_MS;
    const last = !next || next.sender !== message.sender || dayKey(next.created_at) !== dayKey(message.created_at) || new Date(next.created_at) - new Date(message.created_at) > GROUP_GAP_MS;
    const marker = state.unreadMarker;
    if (marker && marker.conversation === conv.id && marker.seq === message.seq) {
      day.append(h("div", { class: "unread-divider", "data-testid": "unread-divider" },
        h("span", {}, `${marker.count} unread message${marker.count === 1 ? "" : "s"}`)));
    }
    day.append(messageEl(state, conv, message, { first: first || Boolean(marker && marker.seq === message.seq), last }, handlers));
    previous = message;
  }
  for (const pending of state.pendingFor(conv.id)) listEl.append(pendingEl(state, pending, handlers));
  if (!messages.length && !state.pendingFor(conv.id).length) {
    listEl.append(h("div", { class: "thread-empty" }, "No messages yet — say hello 👋"));
  }
}

export function reactionPicker(onPick) {
  return h("div", { class: "reaction-picker", "data-testid": "reaction-picker", role: "menu" },
    QUICK_REACTIONS.map((emoji) => h("button", { type: "button", role: "menuitem", "data-emoji": emoji, onclick: () => onPick(emoji) }, emoji)));
}
