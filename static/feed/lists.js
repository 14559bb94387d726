// Paged lists that grow as the reader scrolls (an observer on the end marker), and in-place
// updates of every card showing a status.
import { clear, h } from "../chat/dom.js";

export class PagedList {
  // `load(next)` answers {items, next}; `render(item)` makes the node of one item.
  constructor(listEl, endEl, { load, render, empty = "Nothing here yet." }) {
    this.listEl = listEl;
    this.endEl = endEl;
    this.load = load;
    this.render = render;
    this.emptyText = empty;
    this.next = {};
    this.loading = false;
    this.done = false;
    this.count = 0;
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: "600px" });
  }

  start() {
    clear(this.listEl);
    this.observer.observe(this.endEl);
    return this.more();
  }

  async more() {
    if (this.loading || this.done) return;
    this.loading = true;
    this.endEl.textContent = "Loading…";
    try {
      const { items, next } = await this.load(this.next);
      for (const item of items) this.listEl.append(this.render(item));
      this.count += items.length;
      this.next = next;
      this.done = !next || !items.length;
      this.endEl.textContent = this.done ? (this.count ? "You're all caught up." : this.emptyText) : "";
    } catch (error) {
      this.endEl.textContent = "";
      this.endEl.append(error.message || "Could not load.", " ", h("button", { type: "button", class: "link", onclick: () => this.more() }, "Retry"));
    } finally {
      this.loading = false;
    }
    // A short first page may not fill the screen: keep going while the end is visible.
    if (!this.done && this.endEl.getBoundingClientRect().top < window.innerHeight + 600) this.more();
  }

  prepend(nodes) {
    this.listEl.prepend(...nodes);
    this.count += nodes.length;
    if (this.done && this.count) this.endEl.textContent = "You're all caught up.";
  }
}

// Replace every card showing `status` (itself, or a reblog of it) with a fresh rendering;
// `wrapperOf(id)` gives the status a card was rendered from.
export function updateCards(root, status, wrapperOf, renderCard) {
  for (const card of root.querySelectorAll(`[data-shown-id="${CSS.escape(status.id)}"]`)) {
    const wrapper = wrapperOf(card.dataset.id);
    const fresh = wrapper && wrapper.reblog ? { ...wrapper, reblog: status } : status;
    card.replaceWith(renderCard(fresh, card.classList.contains("focused")));
  }
}

export function removeCards(root, statusId) {
  for (const card of root.querySelectorAll(`[data-id="${CSS.escape(statusId)}"], [data-shown-id="${CSS.escape(statusId)}"]`)) card.remove();
}
