// The one WebSocket to /sessions/ws: JSON frames in and out, reconnecting with backoff.

import { askForToken, withToken } from "./auth.js";
import { backoff } from "./format.js";

const POLICY_VIOLATION = 1008; // the server's answer to a missing or wrong token

/**
 * Events: "state" (connecting / connected / reconnecting), "open" (after every successful
 * connect, so views can re-subscribe), "message" (detail = a parsed JSON frame).
 */
export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.socket = null;
    this.state = "connecting";
    this.attempt = 0;
    this.retryAt = 0;
    this.timer = null;
  }

  start() {
    this.open();
    // Retry at once when the machine comes back online or the tab is looked at again.
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
  }

  get connected() {
    return this.state === "connected";
  }

  send(message) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  retryNow() {
    if (this.state !== "reconnecting" || this.socket) return;
    clearTimeout(this.timer);
    this.open();
  }

  open() {
    this.timer = null;
    let socket;
    try {
      socket = new WebSocket(withToken(this.url));
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.setState("connected");
      this.dispatchEvent(new Event("open"));
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return; // we ask for JSON; ignore anything else
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message?.type === "error" && /needs a token/.test(message.detail ?? "")) {
        askForToken(); // then reconnect with it in the URL
        socket.close();
        return;
      }
      if (message && typeof message === "object") {
        this.dispatchEvent(new CustomEvent("message", { detail: message }));
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === POLICY_VIOLATION && /token/.test(event.reason)) askForToken();
      this.retry();
    });
  }

  retry() {
    const delay = backoff(this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("reconnecting");
    this.timer = setTimeout(() => this.open(), delay);
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new Event("state"));
  }
}
