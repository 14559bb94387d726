// A WebSocket that reconnects on its own with jittered exponential backoff and pings to keep
// presence fresh. The caller re-syncs from `onOpen`; frames sent while closed are dropped, so
// anything that must arrive (pending messages) is re-sent by the caller after reconnecting.

const CLOSE_UNAUTHENTICATED = 4401;

export class ChatSocket {
  constructor(path, { pingInterval = 25, onOpen, onFrame, onStatus } = {}) {
    this.path = path;
    this.pingMs = pingInterval * 1000;
    this.onOpen = onOpen || (() => {});
    this.onFrame = onFrame || (() => {});
    this.onStatus = onStatus || (() => {});
    this.ws = null;
    this.attempt = 0;
    this.pingTimer = null;
    this.retryTimer = null;
    this.stopped = false;
    this.everOpened = false;
    window.addEventListener("online", () => this.reconnectNow());
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.onStatus(this.everOpened ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.everOpened = true;
      this.onStatus("online");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.pingMs);
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      clearInterval(this.pingTimer);
      this.ws = null;
      if (event.code === CLOSE_UNAUTHENTICATED) {
        this.stopped = true;
        this.onStatus("signed-out");
        return;
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    this.onStatus("offline", Math.round(delay / 1000));
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped || this.isOpen) return;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this.attempt = 0;
    this.connect();
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
