// The streaming socket (Mastodon's user stream): new posts, deletes and notifications, with a
// reconnect after a jittered, growing delay.
export class FeedStream {
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers; // {update(status), delete(id), notification(n), status(state)}
    this.attempt = 0;
    this.ws = null;
  }

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}${this.path}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.emit("status", "online");
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame.event) return;
      let payload = frame.payload;
      if (frame.event !== "delete") {
        try {
          payload = JSON.parse(payload);
        } catch {
          return;
        }
      }
      this.emit(frame.event, payload);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.emit("status", "offline");
      if (event.code === 4401 || event.code === 4403) return; // signed out: no point retrying
      const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    });
  }

  emit(name, value) {
    const handler = this.handlers[name.replace(".", "_")];
    if (handler) handler(value);
  }
}
