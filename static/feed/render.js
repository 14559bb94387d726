// Status, account and notification cards. Text goes in as text nodes; a status's content is the
// server's HTML, rebuilt here from an allow-list (p, br, a, span) so nothing else can get in.
import { avatar, h } from "../chat/dom.js";

const ALLOWED = new Set(["P", "BR", "A", "SPAN"]);

function localHref(href) {
  // Mentions and hashtags link to the public addresses; on this site they lead to the pages.
  try {
    const url = new URL(href, window.location.origin);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (/^\/(@|tags\/)/.test(url.pathname)) return url.pathname;
    return url.href;
  } catch {
    return null;
  }
}

function cleanInto(target, source) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.append(node.textContent);
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      if (!ALLOWED.has(node.tagName)) {
        cleanInto(target, node);
        continue;
      }
      const copy = document.createElement(node.tagName.toLowerCase());
      if (node.tagName === "A") {
        const href = localHref(node.getAttribute("href") || "");
        if (href) copy.setAttribute("href", href);
        if (href && href.startsWith("http")) {
          copy.setAttribute("rel", "nofollow noopener noreferrer");
          copy.setAttribute("target", "_blank");
        }
      }
      if (node.classList.contains("mention")) copy.className = "mention";
      cleanInto(copy, node);
      target.append(copy);
    }
  }
}

export function contentNode(html) {
  const template = document.createElement("template");
  template.innerHTML = html || "";
  const out = h("div", { class: "status-content", "data-testid": "status-content" });
  cleanInto(out, template.content);
  return out;
}

export function profileHref(account) {
  return `/feed/@${encodeURIComponent(account.acct)}/`;
}

export function threadHref(status) {
  return `/feed/statuses/${status.id}/`;
}

export function relativeTime(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

const ICONS = {
  reply: "M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11Z",
  reblog: "M7 7h10v3l4-4-4-4v3H5v6h2Zm10 10H7v-3l-4 4 4 4v-3h12v-6h-2Z",
  favourite: "M12 21.35 10.55 20C5.4 15.36 2 12.27 2 8.5A5.5 5.5 0 0 1 12 5.09 5.5 5.5 0 0 1 22 8.5c0 3.77-3.4 6.86-8.55 11.54Z",
  image: "M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2ZM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5Z",
  delete: "M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6ZM19 4h-3.5l-1-1h-5l-1 1H5v2h14Z",
};

export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

function actionButton(action, label, count, pressed) {
  return h("button", { type: "button", class: `action ${action}`, "data-action": action, "data-testid": `${action}-button`,
    "aria-label": label, "aria-pressed": pressed === undefined ? undefined : String(pressed), title: label },
  icon(action), h("span", { class: "count", "data-testid": `${action}-count` }, count ? String(count) : ""));
}

function mediaSrc(url) {
  // Our own uploads are served by this site, whatever address the API was configured to print.
  if (!url) return "";
  const parsed = new URL(url, window.location.origin);
  return parsed.pathname.startsWith("/media/") ? parsed.pathname : parsed.href;
}

function mediaGrid(attachments) {
  if (!attachments || !attachments.length) return null;
  return h("div", { class: `media-grid n${attachments.length}`, "data-testid": "status-media" }, attachments.map((m) => h("a", { href: mediaSrc(m.url || m.preview_url), target: "_blank", rel: "noopener" },
    h("img", { src: mediaSrc(attachments.length === 1 ? m.meta?.medium?.url || m.url : m.preview_url), alt: m.description || "", loading: "lazy" }))));
}

// A status card; `status` may be a reblog wrapper. `me` is the viewer's account id.
export function statusCard(status, me, { focused = false } = {}) {
  const shown = status.reblog || status;
  const card = h("article", { class: `status${focused ? " focused" : ""}`, "data-id": status.id, "data-shown-id": shown.id, "data-testid": "status" });
  if (status.reblog) {
    card.append(h("div", { class: "reblog-line" }, icon("reblog"), h("a", { href: profileHref(status.account) }, status.account.display_name), " boosted"));
  }
  const author = shown.account;
  card.append(
    h("div", { class: "status-row" },
      h("a", { href: profileHref(author), class: "status-avatar", "aria-hidden": "true", tabindex: "-1" }, avatar(author.username)),
      h("div", { class: "status-body" },
        h("header", { class: "status-head" },
          h("a", { href: profileHref(author), class: "display-name" }, author.display_name),
          h("span", { class: "acct muted" }, `@${author.acct}`),
          h("a", { href: threadHref(shown), class: "time muted", title: new Date(shown.created_at).toLocaleString() }, relativeTime(shown.created_at))),
        shown.in_reply_to_id && !focused ? h("div", { class: "reply-to muted" }, h("a", { href: `/feed/statuses/${shown.in_reply_to_id}/` }, "In reply")) : null,
        contentNode(shown.content),
        mediaGrid(shown.media_attachments),
        h("div", { class: "status-actions" },
          actionButton("reply", "Reply", shown.replies_count),
          actionButton("reblog", shown.reblogged ? "Undo boost" : "Boost", shown.reblogs_count, shown.reblogged),
          actionButton("favourite", shown.favourited ? "Unlike" : "Like", shown.favourites_count, shown.favourited),
          author.id === me ? actionButton("delete", "Delete") : null))));
  return card;
}

export function accountRow(account, { action } = {}) {
  return h("li", { class: "account-row", "data-id": account.id, "data-testid": "account-row" },
    h("a", { href: profileHref(account), class: "account-link" }, avatar(account.username),
      h("span", { class: "account-names" }, h("strong", {}, account.display_name), h("span", { class: "muted" }, `@${account.acct}`))),
    action || null);
}

const NOTIFICATION_TEXT = { follow: "followed you", favourite: "liked your post", reblog: "boosted your post", mention: "mentioned you" };

export function notificationItem(notification, me) {
  const who = notification.account;
  return h("div", { class: `notification ${notification.type}`, "data-id": notification.id, "data-testid": "notification" },
    h("div", { class: "notification-line" }, avatar(who.username),
      h("a", { href: profileHref(who) }, who.display_name), ` ${NOTIFICATION_TEXT[notification.type] || notification.type}`,
      h("span", { class: "time muted" }, relativeTime(notification.created_at))),
    notification.status ? statusCard(notification.status, me) : null);
}
