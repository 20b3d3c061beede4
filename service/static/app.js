// The dashboard: wires the WebSocket to the session list and the open session, and routes
// "#/session/<id>" so that reload and back work.

import { Connection } from "./connection.js";
import { count, plural } from "./format.js";
import { SessionList } from "./sessions.js";
import { SessionView } from "./sessionview.js";

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const connection = new Connection(`${scheme}//${location.host}/sessions/ws`);
const layout = document.querySelector(".layout");
const statusEl = document.querySelector(".server-status");
const statusLabel = statusEl.querySelector(".server-status-label");
const countsEl = document.querySelector(".counts");
const banner = document.querySelector(".banner");

const list = new SessionList(document.querySelector(".list-pane"), {
  onSelect: (id) => {
    location.hash = `#/session/${id}`;
  },
});
const view = new SessionView(document.querySelector(".session-pane"), {
  connection,
  onFilter: (text) => {
    list.setStatus("all");
    list.setQuery(text);
  },
});

connection.addEventListener("message", (event) => {
  const message = event.detail;
  if (message.type === "sessions") {
    list.update(message);
    view.updateSessions(message);
    renderCounts();
  } else if (message.type === "log") {
    view.log.onFrame(message);
  } else if (message.type === "error") {
    view.log.onServerError(String(message.detail ?? "error"));
  }
});
connection.addEventListener("open", () => view.log.onConnected());
connection.addEventListener("state", () => {
  renderStatus();
  view.log.onConnectionState();
});

function renderStatus() {
  const state = connection.state;
  statusEl.dataset.state = state;
  if (state === "connected") statusLabel.textContent = "Connected";
  else if (state === "connecting") statusLabel.textContent = "Connecting…";
  else statusLabel.textContent = "Reconnecting…";
  banner.hidden = state !== "reconnecting";
  if (state === "reconnecting") {
    const seconds = Math.max(0, Math.ceil((connection.retryAt - Date.now()) / 1000));
    banner.querySelector(".banner-detail").textContent =
      connection.socket || seconds === 0 ? "trying now…" : `next try in ${seconds} s`;
  }
}

function renderCounts() {
  const { active, ended } = list.counts();
  const lines = list.sessions.reduce((sum, s) => sum + (s.log_count ?? 0), 0);
  countsEl.replaceChildren(
    `${count(active)} active`,
    " · ",
    `${count(ended)} ended`,
    " · ",
    plural(lines, "log line"),
  );
}

function route() {
  const match = /^#\/session\/([0-9a-fA-F]{24})$/.exec(location.hash);
  const id = match ? match[1].toLowerCase() : null;
  layout.classList.toggle("has-session", Boolean(id));
  list.select(id);
  view.show(id);
}

window.addEventListener("hashchange", route);
document.addEventListener("keydown", (event) => {
  const typing = event.target.closest?.("input, select, textarea");
  if (event.key === "Escape" && !typing && view.id) {
    if (!view.log.detail.hidden) view.log.showDetail(null);
    else location.hash = "#/";
  } else if (event.key === "/" && !typing) {
    event.preventDefault();
    (view.id ? view.log.searchInput : list.filter).focus();
  }
});
setInterval(() => {
  list.tick();
  view.tick();
  if (connection.state === "reconnecting") renderStatus();
}, 1000);

// A small, read-only window into the page for tests and for curious people at the console.
window.__dashboard = {
  get state() {
    return connection.state;
  },
  get session() {
    return view.id;
  },
  get phase() {
    return view.log.phase;
  },
  cursors: () => view.log.cursors(),
  renderedRows: () => document.querySelectorAll(".log-row").length,
};

route();
renderStatus();
list.render();
connection.start();
