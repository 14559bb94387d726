// Modal dialogs: new direct chat, new group, group members. One <dialog> element is reused.

import { resultsOf } from "./api.js";
import { avatar, clear, debounce, h } from "./dom.js";

// The server refuses shorter searches (the user directory is not listed a letter at a time).
const MIN_SEARCH_LENGTH = 3;

export class Dialogs {
  constructor(dialogEl, { api, state, onConversation, onLeft }) {
    this.el = dialogEl;
    this.api = api;
    this.state = state;
    this.onConversation = onConversation;
    this.onLeft = onLeft;
    this.el.addEventListener("click", (event) => {
      if (event.target === this.el) this.close();
    });
  }

  show(title, ...content) {
    clear(this.el);
    this.errorEl = h("div", { class: "dialog-error", "data-testid": "dialog-error", role: "alert" });
    this.el.append(
      h("div", { class: "dialog-card" },
        h("div", { class: "dialog-head" },
          h("h2", {}, title),
          h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => this.close() }, "✕")),
        this.errorEl,
        ...content));
    if (!this.el.open) this.el.showModal();
  }

  close() {
    if (this.el.open) this.el.close();
  }

  error(err) {
    this.errorEl.textContent = err ? (err.describe ? err.describe() : String(err.message || err)) : "";
  }

  // A type-ahead over GET users?q=; calls onPick(username) for a clicked result.
  userPicker(onPick, { exclude = () => [] } = {}) {
    const input = h("input", { type: "search", placeholder: "Search people by username", autocomplete: "off", "data-testid": "user-search" });
    const results = h("ul", { class: "user-results", "data-testid": "user-results" });
    const search = debounce(async () => {
      const q = input.value.trim();
      if (q.length < MIN_SEARCH_LENGTH) {
        clear(results);
        results.append(h("li", { class: "muted empty" }, `Type at least ${MIN_SEARCH_LENGTH} letters of a username`));
        return;
      }
      try {
        const users = resultsOf(await this.api.get("users", { q }));
        const skip = new Set([this.state.me, ...exclude()]);
        clear(results);
        const shown = users.filter((u) => !skip.has(u.username));
        if (!shown.length) results.append(h("li", { class: "muted empty" }, q ? "No matching people" : "Type a name to search"));
        for (const u of shown) {
          results.append(h("li", {},
            h("button", { type: "button", class: "user-result", "data-testid": "user-result", "data-username": u.username, onclick: () => onPick(u.username) },
              avatar(u.username, { size: "small" }), h("span", {}, u.username))));
        }
      } catch (err) {
        this.error(err);
      }
    }, 200);
    input.addEventListener("input", search);
    setTimeout(() => input.focus(), 0);
    search();
    return { el: h("div", { class: "user-picker" }, input, results), refresh: search };
  }

  openNewChat() {
    const picker = this.userPicker(async (username) => {
      try {
        const conv = await this.api.post("conversations", { members: [username] });
        this.close();
        this.onConversation(conv);
      } catch (err) {
        this.error(err);
      }
    });
    this.show("New chat", h("p", { class: "muted" }, "Pick someone to message."), picker.el);
  }

  openNewGroup() {
    const chosen = [];
    const chips = h("div", { class: "chips", "data-testid": "group-members" });
    const title = h("input", { type: "text", placeholder: "Group name", maxlength: "200", "data-testid": "group-title" });
    const renderChips = () => {
      clear(chips);
      if (!chosen.length) chips.append(h("span", { class: "muted" }, "No members yet"));
      for (const name of chosen) {
        chips.append(h("span", { class: "chip" }, name,
          h("button", { type: "button", "aria-label": `Remove ${name}`, onclick: () => { chosen.splice(chosen.indexOf(name), 1); renderChips(); picker.refresh(); } }, "✕")));
      }
    };
    const picker = this.userPicker((username) => {
      if (!chosen.includes(username)) chosen.push(username);
      renderChips();
      picker.refresh();
    }, { exclude: () => chosen });
    const create = h("button", { type: "submit", class: "button primary", "data-testid": "create-group" }, "Create group");
    const form = h("form", { class: "dialog-form" },
      h("div", { class: "field" }, h("label", {}, "Name"), title),
      h("div", { class: "field" }, h("label", {}, "Members"), chips, picker.el),
      h("div", { class: "dialog-actions" }, create));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!title.value.trim()) return this.error(new Error("Give the group a name."));
      if (!chosen.length) return this.error(new Error("Add at least one member."));
      create.disabled = true;
      try {
        const conv = await this.api.post("conversations", { members: chosen, title: title.value.trim() });
        this.close();
        this.onConversation(conv);
      } catch (err) {
        this.error(err);
      } finally {
        create.disabled = false;
      }
    });
    renderChips();
    this.show("New group", form);
    setTimeout(() => title.focus(), 0);
  }

  async openMembers(conversationId) {
    let conv;
    try {
      conv = this.state.upsertConversation(await this.api.get(`conversations/${conversationId}`));
    } catch (err) {
      this.show("Members");
      return this.error(err);
    }
    const me = this.state.me;
    const admins = new Set(conv.admins || []);
    const iAmAdmin = admins.has(me);
    const list = h("ul", { class: "member-list", "data-testid": "member-list" });
    const update = (next) => {
      conv = this.state.upsertConversation(next);
      this.onConversation(conv, { open: false });
      this.openMembers(conv.id);
    };
    for (const name of conv.members || []) {
      list.append(h("li", { class: "member", "data-testid": "member", "data-username": name },
        avatar(name, { size: "small" }),
        h("span", { class: "member-name" }, name, name === me ? h("span", { class: "muted" }, " (you)") : null),
        admins.has(name) ? h("span", { class: "role" }, "admin") : null,
        iAmAdmin && name !== me
          ? h("button", { type: "button", class: "button small danger", "data-testid": "remove-member", onclick: async () => {
            try {
              update(await this.api.delete(`conversations/${conv.id}/members`, { members: [name] }));
            } catch (err) {
              this.error(err);
            }
          } }, "Remove")
          : null));
    }
    const leave = h("button", { type: "button", class: "button danger", "data-testid": "leave-group", onclick: async () => {
      if (!window.confirm(`Leave “${this.state.displayName(conv)}”?`)) return;
      try {
        await this.api.delete(`conversations/${conv.id}/members`, { members: [me] });
        this.close();
        this.onLeft(conv.id);
      } catch (err) {
        this.error(err);
      }
    } }, "Leave group");
    const sections = [h("div", { class: "member-count muted" }, `${(conv.members || []).length} members`), list];
    if (iAmAdmin) {
      const picker = this.userPicker(async (username) => {
        try {
          update(await this.api.post(`conversations/${conv.id}/members`, { members: [username] }));
        } catch (err) {
          this.error(err);
        }
      }, { exclude: () => conv.members || [] });
      sections.push(h("div", { class: "field add-members" }, h("label", {}, "Add people"), picker.el));
    }
    sections.push(h("div", { class: "dialog-actions" }, leave));
    this.show(this.state.displayName(conv), ...sections);
  }
}
