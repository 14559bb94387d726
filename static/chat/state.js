// Client-side model of the chat: conversations, loaded message ranges (keyed by the gapless
// per-conversation seq, so replays and retries never show a message twice), receipt pointers,
// pending sends, presence and the per-conversation cursors used by `sync`.

export class Thread {
  constructor() {
    this.messages = new Map(); // seq -> message
    this.loaded = false;
    this.hasMore = true;
    this.loading = false;
  }

  get minSeq() {
    let min = Infinity;
    for (const seq of this.messages.keys()) if (seq < min) min = seq;
    return min === Infinity ? 0 : min;
  }

  get maxSeq() {
    let max = 0;
    for (const seq of this.messages.keys()) if (seq > max) max = seq;
    return max;
  }

  ordered() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }
}

export class ChatState {
  constructor(me) {
    this.me = me;
    this.conversations = new Map();
    this.threads = new Map();
    this.receipts = new Map(); // conversation id -> {username: {delivered_seq, read_seq}}
    this.pending = new Map(); // client_id -> pending send, in insertion order
    this.presence = new Map(); // username -> {online, last_seen}
    this.typing = new Map(); // conversation id -> Map(username -> expiry ms)
    this.cursors = new Map(); // conversation id -> highest seq seen
    this.changeCursors = new Map(); // conversation id -> last change (edit, delete, reaction) applied
    this.blocked = new Set(); // usernames the viewer blocked
    this.unreadMarker = null; // {conversation, seq, count}: where "N unread messages" goes while open
    this.activeId = null;
  }

  thread(id) {
    if (!this.threads.has(id)) this.threads.set(id, new Thread());
    return this.threads.get(id);
  }

  upsertConversation(conv) {
    const id = String(conv.id);
    const merged = { ...(this.conversations.get(id) || { unread_count: 0, last_message: null }), ...conv, id };
    if (conv.receipts) this.receipts.set(id, { ...conv.receipts });
    this.conversations.set(id, merged);
    if (merged.last_message) this.bumpCursor(id, merged.last_message.seq);
    // Fetched state already holds every change up to last_change; sync replays the later ones.
    if (typeof conv.last_change === "number" && !this.changeCursors.has(id)) this.changeCursors.set(id, conv.last_change);
    return merged;
  }

  removeConversation(id) {
    this.conversations.delete(id);
    this.threads.delete(id);
    this.receipts.delete(id);
    this.cursors.delete(id);
    this.changeCursors.delete(id);
    if (this.activeId === id) this.activeId = null;
  }

  bumpCursor(id, seq) {
    if (typeof seq === "number" && seq > (this.cursors.get(id) || 0)) this.cursors.set(id, seq);
  }

  bumpChange(id, change) {
    if (this.conversations.has(id) && typeof change === "number" && change > (this.changeCursors.get(id) || 0)) {
      this.changeCursors.set(id, change);
    }
  }

  changePayload() {
    return Object.fromEntries(this.changeCursors);
  }

  activityOf(conv) {
    return (conv.last_message && conv.last_message.created_at) || conv.last_activity_at || conv.created_at || "";
  }

  sortedConversations() {
    return [...this.conversations.values()].sort((a, b) => {
      const byTime = new Date(this.activityOf(b)) - new Date(this.activityOf(a));
      return byTime || (String(b.id) > String(a.id) ? 1 : -1);
    });
  }

  otherMembers(conv) {
    return (conv.members || []).filter((name) => name !== this.me);
  }

  displayName(conv) {
    if (conv.kind === "group") return conv.title || this.otherMembers(conv).join(", ") || "Group";
    return this.otherMembers(conv)[0] || this.me;
  }

  directPeer(conv) {
    return conv.kind === "direct" ? this.otherMembers(conv)[0] || null : null;
  }

  // Returns true when the message was not known before (a new seq in this conversation).
  addMessage(message) {
    const id = String(message.conversation);
    const thread = this.thread(id);
    const known = thread.messages.has(message.seq) || (this.cursors.get(id) || 0) >= message.seq;
    if (thread.loaded) thread.messages.set(message.seq, message);
    this.bumpCursor(id, message.seq);
    const conv = this.conversations.get(id);
    if (conv && (!conv.last_message || conv.last_message.seq <= message.seq)) {
      conv.last_message = message;
      conv.last_activity_at = message.created_at;
    }
    if (message.client_id && message.sender === this.me) this.pending.delete(message.client_id);
    return !known;
  }

  updateMessage(message) {
    const id = String(message.conversation);
    const thread = this.threads.get(id);
    if (thread && thread.messages.has(message.seq)) thread.messages.set(message.seq, message);
    const conv = this.conversations.get(id);
    if (conv && conv.last_message && conv.last_message.id === message.id) conv.last_message = message;
  }

  findMessage(messageId) {
    for (const thread of this.threads.values()) {
      for (const message of thread.messages.values()) if (message.id === messageId) return message;
    }
    return null;
  }

  applyReceipt(conversationId, user, status, upToSeq) {
    const receipts = this.receipts.get(conversationId) || {};
    const pointer = receipts[user] || { delivered_seq: 0, read_seq: 0 };
    if (status === "read") {
      pointer.read_seq = Math.max(pointer.read_seq || 0, upToSeq);
      pointer.delivered_seq = Math.max(pointer.delivered_seq || 0, upToSeq);
    } else {
      pointer.delivered_seq = Math.max(pointer.delivered_seq || 0, upToSeq);
    }
    receipts[user] = pointer;
    this.receipts.set(conversationId, receipts);
    if (user === this.me && status === "read") this.markReadLocally(conversationId, upToSeq);
  }

  markReadLocally(conversationId, upToSeq) {
    const conv = this.conversations.get(conversationId);
    if (!conv) return;
    const last = conv.last_message ? conv.last_message.seq : 0;
    if (upToSeq >= last) {
      conv.unread_count = 0;
      return;
    }
    const thread = this.threads.get(conversationId);
    if (thread && thread.loaded && thread.minSeq <= upToSeq + 1) {
      conv.unread_count = thread.ordered().filter((m) => m.seq > upToSeq && m.sender !== this.me).length;
    }
  }

  // "pending" until acked; "sent" once stored; "delivered"/"read" once every other member's pointer passes it.
  tickFor(conversationId, message) {
    const conv = this.conversations.get(conversationId);
    const others = conv ? this.otherMembers(conv) : [];
    if (!others.length) return "sent";
    const receipts = this.receipts.get(conversationId) || {};
    const pointers = others.map((name) => receipts[name] || { delivered_seq: 0, read_seq: 0 });
    if (pointers.every((p) => (p.read_seq || 0) >= message.seq)) return "read";
    if (pointers.every((p) => Math.max(p.delivered_seq || 0, p.read_seq || 0) >= message.seq)) return "delivered";
    return "sent";
  }

  pendingFor(conversationId) {
    return [...this.pending.values()].filter((p) => p.conversation === conversationId);
  }

  setTyping(conversationId, user, ttlMs) {
    if (!this.typing.has(conversationId)) this.typing.set(conversationId, new Map());
    this.typing.get(conversationId).set(user, Date.now() + ttlMs);
  }

  clearTyping(conversationId, user) {
    const users = this.typing.get(conversationId);
    if (users) users.delete(user);
  }

  typingUsers(conversationId) {
    const users = this.typing.get(conversationId);
    if (!users) return [];
    const now = Date.now();
    for (const [user, expiry] of users) if (expiry <= now) users.delete(user);
    return [...users.keys()];
  }

  // A loaded thread asks for everything after what it holds (the list may have moved the cursor past
  // messages the thread never received); an unloaded one only needs what is newer than its preview.
  cursorPayload() {
    const cursors = {};
    for (const id of this.conversations.keys()) {
      const thread = this.threads.get(id);
      cursors[id] = thread && thread.loaded && thread.messages.size ? thread.maxSeq : this.cursors.get(id) || 0;
    }
    return cursors;
  }

  totalUnread() {
    let total = 0;
    for (const conv of this.conversations.values()) total += conv.unread_count || 0;
    return total;
  }
}

export function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  // randomUUID needs a secure context; plain-http deployments still get a random v4 UUID.
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
