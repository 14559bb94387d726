// The feed's pages: one app object shared by the page views (views.js), the status cards'
// actions (like, boost, reply, delete, updated in place), the new-posts banner and the
// notifications badge fed by the streaming socket, and the who-to-follow list.
import { avatar, clear, h } from "../chat/dom.js";
import { FeedApi } from "./api.js";
import { Composer } from "./compose.js";
import { PagedList, removeCards, updateCards } from "./lists.js";
import { accountRow, statusCard } from "./render.js";
import { FeedStream } from "./stream.js";
import * as views from "./views.js";

const LAST_SEEN_KEY = "feed:last-seen-notification";

class FeedApp {
  constructor(config) {
    this.config = config;
    this.me = config.me;
    this.api = new FeedApi("", config.csrf_token);
    this.root = document.getElementById("feed-app");
    this.top = document.getElementById("column-top");
    this.list = document.getElementById("status-list");
    this.end = document.getElementById("list-end");
    this.banner = document.getElementById("new-posts");
    this.badge = document.getElementById("notif-badge");
    this.known = new Map(); // status id -> the status a card was rendered from
    this.pending = [];
    this.unread = 0;
    this.composeOptions = { maxCharacters: config.max_characters, maxMedia: config.max_media, toast: (m) => this.toast(m) };
    this.root.addEventListener("click", (event) => this.onClick(event));
    this.banner.addEventListener("click", () => this.showPending());
  }

  avatar(name, size) {
    return avatar(name, { size });
  }

  setTitle(text) {
    document.getElementById("column-title").textContent = text;
    document.title = `${text} · Feed · Systems`;
  }

  toast(message) {
    const toast = document.getElementById("toast");
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { toast.hidden = true; }, 4000);
  }

  renderStatus(status, focused = false) {
    this.known.set(status.id, status);
    if (status.reblog) this.known.set(status.reblog.id, status.reblog);
    return statusCard(status, this.me.id, { focused });
  }

  refreshStatus(status) {
    this.known.set(status.id, status);
    updateCards(this.root, status, (id) => this.known.get(id), (s, focused) => this.renderStatus(s, focused));
  }

  pagedList(listEl, load, render, empty) {
    this.paged = new PagedList(listEl, this.end, { load, render, empty });
    return this.paged.start();
  }

  statusList(load, empty) {
    return this.pagedList(this.list, load, (s) => this.renderStatus(s), empty);
  }

  showOwnPost(status) {
    this.list.prepend(this.renderStatus(status));
    if (this.paged) this.paged.count += 1;
    this.end.textContent = this.end.textContent === this.paged?.emptyText ? "" : this.end.textContent;
  }

  bumpReplies(statusId) {
    const status = this.known.get(statusId);
    if (status) this.refreshStatus({ ...status, replies_count: status.replies_count + 1 });
  }

  async onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const card = button.closest("[data-shown-id]");
    const shownId = card.dataset.shownId;
    const status = this.known.get(shownId);
    const action = button.dataset.action;
    if (action === "reply") {
      this.toggleReply(card, status);
      return;
    }
    button.disabled = true;
    try {
      if (action === "favourite") {
        this.refreshStatus(await this.api.post(`/api/v1/statuses/${shownId}/${status.favourited ? "unfavourite" : "favourite"}`));
      } else if (action === "reblog") {
        const answer = await this.api.post(`/api/v1/statuses/${shownId}/${status.reblogged ? "unreblog" : "reblog"}`);
        this.refreshStatus(answer.reblog || answer);
      } else if (action === "delete" && window.confirm("Delete this post?")) {
        await this.api.delete(`/api/v1/statuses/${shownId}`);
        removeCards(this.root, shownId);
      }
    } catch (error) {
      this.toast(error.message);
    } finally {
      button.disabled = false;
    }
  }

  toggleReply(card, status) {
    const open = card.nextElementSibling;
    if (open && open.classList.contains("reply")) {
      open.remove();
      return;
    }
    const composer = new Composer(this.api, { ...this.composeOptions, replyTo: status, placeholder: "Post your reply",
      onPosted: (reply) => {
        composer.form.replaceWith(this.renderStatus(reply));
        this.bumpReplies(status.id);
      } });
    composer.text.value = status.account.id === this.me.id ? "" : `@${status.account.acct} `;
    composer.refresh();
    card.after(composer.form);
    composer.text.focus();
  }

  async refreshProfile(acct, relationship) {
    const account = await this.api.get("/api/v1/accounts/lookup", { acct });
    const [rel] = relationship ? [relationship] : account.id === this.me.id ? [null]
      : await this.api.get("/api/v1/accounts/relationships", { "id[]": account.id });
    clear(this.top);
    this.top.append(views.profileHeader(this, account, rel));
  }

  // --- the socket: new posts wait behind a banner; notifications raise the badge -------------
  listenForNewPosts() {
    this.wantsUpdates = true;
  }

  startStream() {
    const stream = new FeedStream(this.config.socket_path, {
      status: (state) => { this.root.dataset.stream = state; },
      update: (status) => {
        if (!this.wantsUpdates || this.known.has(status.id) || status.account.id === this.me.id) return;
        if (this.pending.some((s) => s.id === status.id)) return;
        this.pending.push(status);
        this.banner.textContent = `${this.pending.length} new post${this.pending.length === 1 ? "" : "s"}`;
        this.banner.hidden = false;
      },
      delete: (id) => {
        this.pending = this.pending.filter((s) => s.id !== String(id));
        removeCards(this.root, String(id));
      },
      status_update: (status) => this.refreshStatus(status),
      notification: (notification) => {
        if (this.config.view === "notifications") return;
        this.setBadge(this.unread + 1);
        if (notification.id) this.latestNotification = notification.id;
      },
    });
    stream.connect();
  }

  showPending() {
    const nodes = this.pending.sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1)).map((s) => this.renderStatus(s));
    this.pending = [];
    this.banner.hidden = true;
    this.paged.prepend(nodes);
    window.scrollTo({ top: 0, behavior: "smooth" });
  }

  setBadge(count) {
    this.unread = count;
    this.badge.textContent = count > 99 ? "99+" : String(count);
    this.badge.hidden = count === 0;
  }

  async loadBadge() {
    const lastSeen = window.localStorage.getItem(LAST_SEEN_KEY);
    const { items } = await this.api.page("/api/v1/notifications", { limit: 40, ...(lastSeen ? { since_id: lastSeen } : {}) });
    if (this.config.view === "notifications") {
      if (items.length) window.localStorage.setItem(LAST_SEEN_KEY, items[0].id);
      return;
    }
    this.setBadge(items.length);
  }

  clearBadge() {
    this.setBadge(0);
  }

  renderSuggestions() {
    const list = document.getElementById("suggestions");
    for (const account of this.config.suggestions) {
      const button = h("button", { type: "button", class: "primary small", "data-testid": "suggestion-follow" }, "Follow");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await this.api.post(`/api/v1/accounts/${account.id}/follow`);
          button.textContent = "Following";
          button.classList.remove("primary");
        } catch (error) {
          this.toast(error.message);
          button.disabled = false;
        }
      });
      list.append(accountRow(account, { action: button }));
    }
    if (!this.config.suggestions.length) list.append(h("li", { class: "muted" }, "No suggestions yet."));
  }

  async start() {
    this.renderSuggestions();
    this.startStream();
    this.loadBadge().catch(() => {});
    try {
      await views[this.config.view](this, this.config.params);
    } catch (error) {
      this.end.textContent = error.status === 404 ? "Not found." : error.message || "Could not load this page.";
    }
    this.root.dataset.ready = "true";
  }
}

const config = JSON.parse(document.getElementById("feed-config").textContent);
new FeedApp(config).start();
