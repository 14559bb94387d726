// The compose box: a character counter, image upload with preview and alt text, replies.
import { h } from "../chat/dom.js";
import { icon } from "./render.js";

const MEDIA_POLL_MS = 500;
const MEDIA_WAIT_MS = 20000;

export class Composer {
  constructor(api, { maxCharacters, maxMedia, replyTo = null, placeholder = "What's happening?", onPosted, toast }) {
    this.api = api;
    this.max = maxCharacters;
    this.maxMedia = maxMedia;
    this.replyTo = replyTo;
    this.onPosted = onPosted;
    this.toast = toast;
    this.attachments = []; // {file, url, alt, node}
    this.text = h("textarea", { rows: replyTo ? "2" : "3", placeholder, "aria-label": "Post text", "data-testid": "compose-text" });
    this.counter = h("span", { class: "char-counter", "data-testid": "char-counter", "aria-live": "polite" });
    this.previews = h("div", { class: "compose-media", "data-testid": "compose-media" });
    this.fileInput = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp,image/gif", multiple: true, hidden: true, "data-testid": "compose-file" });
    this.submit = h("button", { type: "submit", class: "primary", "data-testid": "compose-submit" }, replyTo ? "Reply" : "Post");
    this.error = h("div", { class: "compose-error", role: "alert", "data-testid": "compose-error" });
    this.form = h("form", { class: `composer${replyTo ? " reply" : ""}`, "data-testid": "composer" },
      this.text, this.previews, this.error,
      h("div", { class: "compose-bar" },
        h("label", { class: "attach", title: "Add images", "aria-label": "Add images" }, icon("image"), h("span", {}, "Image"), this.fileInput),
        h("span", { class: "spacer" }), this.counter, this.submit));
    this.text.addEventListener("input", () => this.refresh());
    this.fileInput.addEventListener("change", () => this.addFiles([...this.fileInput.files]));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.post();
    });
    this.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.post();
    });
    this.refresh();
  }

  get remaining() {
    return this.max - [...this.text.value].length;
  }

  refresh() {
    const left = this.remaining;
    this.counter.textContent = String(left);
    this.counter.classList.toggle("over", left < 0);
    this.counter.classList.toggle("near", left >= 0 && left <= 20);
    const empty = !this.text.value.trim();
    this.submit.disabled = this.busy || left < 0 || empty;
  }

  addFiles(files) {
    this.fileInput.value = "";
    for (const file of files) {
      if (this.attachments.length >= this.maxMedia) {
        this.error.textContent = `At most ${this.maxMedia} images.`;
        break;
      }
      const url = URL.createObjectURL(file);
      const entry = { file, url, alt: h("input", { type: "text", placeholder: "Describe the image (alt text)", maxlength: "1500", "aria-label": "Alt text", "data-testid": "compose-alt" }) };
      entry.node = h("figure", { class: "compose-preview" }, h("img", { src: url, alt: "" }), entry.alt,
        h("button", { type: "button", class: "remove", "aria-label": "Remove image", onclick: () => this.removeFile(entry) }, "×"));
      this.attachments.push(entry);
      this.previews.append(entry.node);
    }
  }

  removeFile(entry) {
    URL.revokeObjectURL(entry.url);
    entry.node.remove();
    this.attachments = this.attachments.filter((e) => e !== entry);
  }

  async upload(entry) {
    const form = new FormData();
    form.append("file", entry.file);
    if (entry.alt.value.trim()) form.append("description", entry.alt.value.trim());
    let media = await this.api.upload("/api/v2/media", form);
    const deadline = Date.now() + MEDIA_WAIT_MS;
    while (!media.url && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, MEDIA_POLL_MS));
      media = await this.api.get(`/api/v1/media/${media.id}`);
    }
    return media.id;
  }

  async post() {
    if (this.busy || this.submit.disabled) return;
    this.busy = true;
    this.refresh();
    this.error.textContent = "";
    try {
      const mediaIds = [];
      for (const entry of this.attachments) mediaIds.push(await this.upload(entry));
      const body = { status: this.text.value, visibility: "public" };
      if (mediaIds.length) body.media_ids = mediaIds;
      if (this.replyTo) body.in_reply_to_id = this.replyTo.id;
      const status = await this.api.post("/api/v1/statuses", body);
      this.text.value = "";
      for (const entry of [...this.attachments]) this.removeFile(entry);
      this.onPosted(status);
    } catch (error) {
      this.error.textContent = error.describe ? error.describe() : String(error.message || error);
    } finally {
      this.busy = false;
      this.refresh();
    }
  }
}
