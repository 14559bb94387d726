// One function per page: what goes above the list and where the list's pages come from.
import { clear, h } from "../chat/dom.js";
import { Composer } from "./compose.js";
import { accountRow, notificationItem } from "./render.js";

async function lookup(app, username) {
  return app.api.get("/api/v1/accounts/lookup", { acct: username });
}

function statusPages(app, path, params = {}) {
  return (next) => app.api.page(path, { limit: 20, ...params, ...next });
}

export async function home(app) {
  app.setTitle("Home");
  const composer = new Composer(app.api, { ...app.composeOptions, onPosted: (status) => app.showOwnPost(status), toast: app.toast });
  app.top.append(composer.form);
  app.statusList(statusPages(app, "/api/v1/timelines/home"), "Follow people to fill your timeline: see who to follow.");
  app.listenForNewPosts();
}

function relationButton(app, account, relationship, verb, undo, label, undoLabel) {
  const on = relationship[verb === "follow" ? "following" : verb === "block" ? "blocking" : "muting"];
  const button = h("button", { type: "button", class: on ? "" : verb === "follow" ? "primary" : "", "data-testid": `${verb}-button` }, on ? undoLabel : label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const fresh = await app.api.post(`/api/v1/accounts/${account.id}/${on ? undo : verb}`);
      app.refreshProfile(account.acct, fresh);
    } catch (error) {
      app.toast(error.message);
      button.disabled = false;
    }
  });
  return button;
}

export function profileHeader(app, account, relationship) {
  const mine = account.id === app.me.id;
  const stat = (count, label, href) => h(href ? "a" : "span", { class: "stat", href }, h("strong", { "data-testid": `${label}-count` }, String(count)), ` ${label}`);
  return h("section", { class: "profile-card", "data-testid": "profile-card" },
    h("div", { class: "profile-top" }, app.avatar(account.username, "large"),
      h("div", { class: "profile-names" }, h("h2", {}, account.display_name), h("span", { class: "muted" }, `@${account.acct}`),
        relationship && relationship.followed_by ? h("span", { class: "pill" }, "Follows you") : null),
      mine ? null : h("div", { class: "profile-actions" },
        relationButton(app, account, relationship, "follow", "unfollow", "Follow", "Following"),
        relationButton(app, account, relationship, "mute", "unmute", "Mute", "Unmute"),
        relationButton(app, account, relationship, "block", "unblock", "Block", "Unblock"))),
    h("div", { class: "profile-stats" },
      stat(account.statuses_count, "posts"),
      stat(account.following_count, "following", `/feed/@${encodeURIComponent(account.acct)}/following/`),
      stat(account.followers_count, "followers", `/feed/@${encodeURIComponent(account.acct)}/followers/`)));
}

export async function profile(app, { username }) {
  const account = await lookup(app, username);
  app.setTitle(account.display_name);
  await app.refreshProfile(account.acct);
  app.statusList(statusPages(app, `/api/v1/accounts/${account.id}/statuses`), "No posts yet.");
}

async function accountList(app, username, which) {
  const account = await lookup(app, username);
  app.setTitle(`${which === "followers" ? "Followers of" : "Followed by"} ${account.display_name}`);
  const list = h("ul", { class: "account-list", "data-testid": "account-list" });
  app.list.append(list);
  app.pagedList(list, (next) => app.api.page(`/api/v1/accounts/${account.id}/${which}`, { limit: 40, ...next }),
    (item) => accountRow(item), "No one yet.");
}

export const followers = (app, { username }) => accountList(app, username, "followers");
export const following = (app, { username }) => accountList(app, username, "following");

export async function thread(app, { status_id: statusId }) {
  app.setTitle("Post");
  const [status, context] = await Promise.all([
    app.api.get(`/api/v1/statuses/${statusId}`), app.api.get(`/api/v1/statuses/${statusId}/context`)]);
  for (const s of context.ancestors) app.list.append(app.renderStatus(s));
  app.list.append(app.renderStatus(status, true));
  const composer = new Composer(app.api, { ...app.composeOptions, replyTo: status, placeholder: "Post your reply",
    onPosted: (reply) => {
      app.list.append(app.renderStatus(reply));
      app.bumpReplies(status.id);
    } });
  composer.text.value = status.account.id === app.me.id ? "" : `@${status.account.acct} `;
  composer.refresh();
  app.list.append(composer.form);
  for (const s of context.descendants) app.list.append(app.renderStatus(s));
  app.end.textContent = "";
}

export async function notifications(app) {
  app.setTitle("Notifications");
  app.clearBadge();
  app.pagedList(app.list, (next) => app.api.page("/api/v1/notifications", { limit: 20, ...next }),
    (item) => notificationItem(item, app.me.id), "No notifications yet.");
}

export async function tag(app, { hashtag }) {
  app.setTitle(`#${hashtag}`);
  app.statusList(statusPages(app, `/api/v1/timelines/tag/${encodeURIComponent(hashtag)}`), "No posts with this tag yet.");
}

export async function search(app, { q }) {
  app.setTitle("Search");
  const input = h("input", { type: "search", name: "q", value: q, placeholder: "Search people, #tags, posts", "aria-label": "Search", "data-testid": "search-input" });
  app.top.append(h("form", { class: "search-form", method: "get", action: "/feed/search/", role: "search" }, input, h("button", { type: "submit", class: "primary" }, "Search")));
  if (!q.trim()) {
    app.end.textContent = "Find people by name, posts by words, and #tags.";
    return;
  }
  const result = await app.api.get("/api/v2/search", { q, limit: 20, resolve: "false" });
  const section = (title, items, render) => items.length ? h("section", { class: "search-section" }, h("h2", {}, title), ...items.map(render)) : null;
  clear(app.list);
  app.list.append(...[
    section("People", result.accounts || [], (a) => h("ul", { class: "account-list" }, accountRow(a))),
    section("Tags", result.hashtags || [], (t) => h("div", { class: "tag-row" }, h("a", { href: `/feed/tags/${encodeURIComponent(t.name)}/` }, `#${t.name}`))),
    section("Posts", result.statuses || [], (s) => app.renderStatus(s)),
  ].filter(Boolean));
  app.end.textContent = app.list.childElementCount ? "" : "Nothing found.";
}
