// The open session: its facts, metadata and log.

import { authHeaders } from "./auth.js";
import { count, duration, fullTime, h, parseTime, plural } from "./format.js";
import { LogView } from "./logview.js";

export class SessionView {
  constructor(root, { connection, onFilter }) {
    this.root = root;
    this.onFilter = onFilter;
    this.id = null;
    this.info = null;
    this.infoText = "";
    this.sessions = new Map();
    this.selfId = null;
    this.durationCell = null;
    const q = (selector) => root.querySelector(selector);
    this.title = q(".sv-title");
    this.subtitle = q(".sv-subtitle");
    this.status = q(".sv-status");
    this.self = q(".sv-self");
    this.idEl = q(".sv-id");
    this.facts = q(".sv-facts");
    this.metaBox = q(".sv-meta");
    this.metaSummary = q(".sv-meta summary");
    this.metadata = q(".sv-metadata");
    this.log = new LogView(q(".log"), { connection });
    this.facts.addEventListener("click", (event) => {
      const job = event.target.closest("[data-job]");
      if (job) this.onFilter(job.dataset.job);
    });
  }

  show(id) {
    if (id === this.id) return;
    this.id = id;
    this.root.hidden = !id;
    if (!id) {
      this.log.close();
      this.info = null;
      document.title = "Sessions";
      return;
    }
    this.info = this.sessions.get(id) ?? null;
    this.infoText = "";
    this.log.open(id);
    this.render();
    if (!this.info) this.fetchInfo(id);
  }

  async fetchInfo(id) {
    try {
      const response = await fetch(`/sessions/${encodeURIComponent(id)}`, {
        headers: authHeaders({ Accept: "application/json" }),
      });
      if (id !== this.id) return;
      if (response.status === 404) {
        this.info = { id, missing: true };
      } else if (response.ok) {
        this.info = this.sessions.get(id) ?? (await response.json());
      } else {
        return;
      }
      this.render();
    } catch {
      // The list will bring the info once the server is reachable again.
    }
  }

  updateSessions(message) {
    this.sessions = new Map((message.sessions ?? []).map((s) => [s.id, s]));
    this.selfId = message.self_id ?? null;
    if (!this.id) return;
    const info = this.sessions.get(this.id);
    if (info) {
      this.info = info;
      this.render();
    }
  }

  render() {
    const s = this.info ?? { id: this.id };
    const text = JSON.stringify(s) + (this.sessions.size ? String(this.childrenOf(s.id).length) : "");
    if (text === this.infoText) return;
    this.infoText = text;
    const active = s.status !== "ended";
    const known = Boolean(this.info && !this.info.missing);
    document.title = `${s.appname || s.id} — Sessions`;
    this.title.textContent = s.missing ? "Session not found" : s.appname || (known ? "(unnamed)" : "Loading…");
    this.subtitle.textContent = [s.mode, s.platform].filter(Boolean).join(" · ");
    this.status.hidden = !known;
    this.status.textContent = active ? "active" : "ended";
    this.status.className = `pill sv-status ${active ? "pill-active" : "pill-ended"}`;
    this.self.hidden = s.id !== this.selfId;
    this.idEl.textContent = s.id ?? "";
    this.log.fileName = `${(s.appname || "session").replace(/[^\w.-]+/g, "_")}-${s.id}.log`;

    const started = parseTime(s.created_at);
    const ended = parseTime(s.ended_at);
    this.durationCell = active && started !== null ? [started] : null;
    const facts = [];
    const fact = (label, value, extra = {}) => {
      if (value === undefined || value === null || value === "") return;
      facts.push(h("div", { class: "fact" }, h("dt", { text: label }), h("dd", extra, value)));
    };
    fact("Started", s.created_at ? fullTime(started) : null, { title: s.created_at });
    fact("Duration", started === null ? null : duration((ended ?? Date.now()) - started), { class: "sv-duration" });
    fact("Ended", s.ended_at ? fullTime(ended) : null, { title: s.ended_at });
    fact("End reason", s.end_reason);
    fact("PID", s.pid ? String(s.pid) : null);
    fact("Log lines", known ? count(s.log_count ?? 0) : null);
    if (s.parent_session_id) {
      const parent = this.sessions.get(s.parent_session_id);
      fact("Parent", h("a", { href: `#/session/${s.parent_session_id}`, text: parent?.appname || s.parent_session_id, title: s.parent_session_id }));
    }
    const kids = this.childrenOf(s.id);
    if (kids.length) {
      fact(
        "Children",
        h(
          "span",
          { class: "links" },
          kids.slice(0, 8).map((c) => h("a", { href: `#/session/${c.id}`, text: c.appname || c.id, title: c.id })),
          kids.length > 8 ? h("span", { class: "muted", text: `+${kids.length - 8} more` }) : null,
        ),
      );
    }
    if (s.jobid) {
      fact("Job", h("button", { class: "link", type: "button", dataset: { job: s.jobid }, title: "Show this job's sessions in the list", text: s.jobid }));
    }
    fact("Updated", s.updated_at ? fullTime(parseTime(s.updated_at)) : null, { title: s.updated_at });
    this.facts.replaceChildren(...facts);

    const metadata = s.metadata && typeof s.metadata === "object" ? s.metadata : null;
    const keys = metadata ? Object.keys(metadata).length : 0;
    this.metaBox.hidden = !keys;
    this.metaSummary.textContent = `Metadata · ${plural(keys, "key")}`;
    this.metadata.textContent = keys ? JSON.stringify(metadata, null, 2) : "";
  }

  childrenOf(id) {
    return [...this.sessions.values()].filter((c) => c.parent_session_id === id && c.id !== id);
  }

  tick() {
    if (!this.durationCell) return;
    const cell = this.facts.querySelector(".sv-duration");
    if (cell) cell.textContent = duration(Date.now() - this.durationCell[0]);
  }
}
