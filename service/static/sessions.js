// The session list: status tabs, a text filter, the parent/child tree and job groups.

import { count, duration, fullTime, h, parseTime, plural, when } from "./format.js";

const MAX_ROWS = 2000; // beyond this the filter is the better tool than scrolling
const COLUMNS = 9;

/** The text a session matches against: names, ids, job, pid and its metadata. */
function haystack(session) {
  let metadata = "";
  if (session.metadata) {
    try {
      metadata = JSON.stringify(session.metadata);
    } catch {
      metadata = "";
    }
  }
  return [
    session.appname,
    session.mode,
    session.platform,
    session.id,
    session.jobid,
    session.parent_session_id,
    session.pid,
    session.end_reason,
    metadata,
  ]
    .filter((part) => part !== undefined && part !== null)
    .join("\n")
    .toLowerCase();
}

export class SessionList {
  constructor(root, { onSelect }) {
    this.root = root;
    this.onSelect = onSelect;
    this.sessions = [];
    this.selfId = null;
    this.received = false;
    this.status = "active";
    this.query = "";
    this.selected = null;
    this.expanded = new Set(); // parents whose children are shown
    this.collapsedJobs = new Set();
    this.ticking = []; // [cell, startMs] of active rows, refreshed every second
    this.haystacks = new Map();

    this.tbody = root.querySelector("tbody");
    this.empty = root.querySelector(".list-empty");
    this.footer = root.querySelector(".list-footer");
    this.filter = root.querySelector(".list-filter");
    this.tabs = [...root.querySelectorAll("[data-status]")];

    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.setStatus(tab.dataset.status));
    }
    this.filter.addEventListener("input", () => {
      this.query = this.filter.value.trim().toLowerCase();
      this.render();
    });
    this.filter.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.setQuery("");
    });
    this.tbody.addEventListener("click", (event) => this.clicked(event));
    this.tbody.addEventListener("keydown", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        this.onSelect(row.dataset.id);
      } else if (row && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        event.preventDefault();
        const rows = [...this.tbody.querySelectorAll("tr[tabindex]")];
        const next = rows[rows.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1)];
        next?.focus();
      }
    });
  }

  update(message) {
    this.sessions = Array.isArray(message.sessions) ? message.sessions : [];
    this.selfId = message.self_id ?? null;
    this.received = true;
    this.haystacks = new Map(this.sessions.map((s) => [s.id, haystack(s)]));
    this.revealSelected();
    this.render();
  }

  setStatus(status) {
    this.status = status;
    this.render();
  }

  setQuery(text) {
    this.filter.value = text;
    this.query = text.trim().toLowerCase();
    this.render();
  }

  select(id) {
    this.selected = id;
    if (this.revealSelected()) {
      this.render();
      return;
    }
    for (const row of this.tbody.querySelectorAll("tr[aria-selected]")) {
      row.removeAttribute("aria-selected");
    }
    if (id) this.rowOf(id)?.setAttribute("aria-selected", "true");
  }

  /** Expand the ancestors of the selected session; true when that changed anything. */
  revealSelected() {
    const byId = new Map(this.sessions.map((s) => [s.id, s]));
    let parent = byId.get(this.selected)?.parent_session_id;
    const seen = new Set();
    let opened = false;
    while (parent && !seen.has(parent) && byId.has(parent)) {
      seen.add(parent);
      if (!this.expanded.has(parent)) {
        this.expanded.add(parent);
        opened = true;
      }
      parent = byId.get(parent).parent_session_id;
    }
    return opened;
  }

  rowOf(id) {
    return this.tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  }

  clicked(event) {
    const toggle = event.target.closest("[data-toggle]");
    if (toggle) {
      event.stopPropagation();
      const key = toggle.dataset.toggle;
      if (key.startsWith("job:")) {
        const job = key.slice(4);
        if (this.collapsedJobs.has(job)) this.collapsedJobs.delete(job);
        else this.collapsedJobs.add(job);
      } else if (this.expanded.has(key)) {
        this.expanded.delete(key);
      } else {
        this.expanded.add(key);
      }
      this.render();
      return;
    }
    const row = event.target.closest("tr[data-id]");
    if (row) this.onSelect(row.dataset.id);
  }

  counts() {
    let active = 0;
    for (const s of this.sessions) if (s.status !== "ended") active += 1;
    return { active, ended: this.sessions.length - active, all: this.sessions.length };
  }

  /** Rows to show: a forest over the sessions of the chosen status, with job groups on top. */
  layout() {
    const listed = this.sessions.filter(
      (s) => this.status === "all" || (this.status === "ended") === (s.status === "ended"),
    );
    const byId = new Map(listed.map((s) => [s.id, s]));
    const children = new Map();
    const isChild = (s) =>
      s.parent_session_id && s.parent_session_id !== s.id && byId.has(s.parent_session_id);
    for (const s of listed) {
      if (!isChild(s)) continue;
      if (!children.has(s.parent_session_id)) children.set(s.parent_session_id, []);
      children.get(s.parent_session_id).push(s);
    }
    const roots = listed.filter((s) => !isChild(s));
    // A parent cycle leaves sessions unreachable from any root; list those as roots too.
    const reached = new Set();
    const reach = (s) => {
      if (reached.has(s.id)) return;
      reached.add(s.id);
      for (const c of children.get(s.id) ?? []) reach(c);
    };
    roots.forEach(reach);
    for (const s of listed) {
      if (!reached.has(s.id)) {
        roots.push(s);
        reach(s);
      }
    }

    const terms = this.query.split(/\s+/).filter(Boolean);
    const shown = new Map(); // id -> shown (matches, or a descendant does)
    const visit = (s, path) => {
      if (shown.has(s.id)) return shown.get(s.id);
      if (path.has(s.id)) return false;
      path.add(s.id);
      const text = this.haystacks.get(s.id) ?? "";
      let show = terms.every((t) => text.includes(t));
      for (const c of children.get(s.id) ?? []) show = visit(c, path) || show;
      shown.set(s.id, show);
      return show;
    };
    for (const s of roots) visit(s, new Set());

    // Roots that share a job id are grouped under the job, placed where its newest member is.
    const visibleRoots = roots.filter((s) => shown.get(s.id));
    const jobs = new Map();
    for (const s of visibleRoots) {
      if (!s.jobid) continue;
      if (!jobs.has(s.jobid)) jobs.set(s.jobid, []);
      jobs.get(s.jobid).push(s);
    }
    const items = [];
    const placed = new Set();
    for (const s of visibleRoots) {
      const group = s.jobid ? jobs.get(s.jobid) : null;
      if (group && group.length > 1) {
        if (!placed.has(s.jobid)) {
          placed.add(s.jobid);
          items.push({ job: s.jobid, members: group });
        }
      } else {
        items.push({ session: s });
      }
    }
    return { items, children, shown, filtering: terms.length > 0, listed };
  }

  render() {
    const focusedId = document.activeElement?.closest?.("tr[data-id]")?.dataset.id;
    const { items, children, shown, filtering, listed } = this.layout();
    const rows = [];
    this.ticking = [];
    const now = Date.now();
    let truncated = 0;

    const addSession = (s, depth, path) => {
      if (rows.length >= MAX_ROWS) {
        truncated += 1;
        return;
      }
      const kids = (children.get(s.id) ?? []).filter((c) => shown.get(c.id));
      const open = kids.length > 0 && (filtering || this.expanded.has(s.id));
      rows.push(this.sessionRow(s, depth, kids.length, open, now));
      if (!open || path.has(s.id)) return;
      path.add(s.id);
      for (const c of kids) addSession(c, depth + 1, path);
      path.delete(s.id);
    };

    for (const item of items) {
      if (item.session) {
        addSession(item.session, 0, new Set());
        continue;
      }
      const open = filtering || !this.collapsedJobs.has(item.job);
      rows.push(this.jobRow(item.job, item.members, open, now));
      if (open) for (const s of item.members) addSession(s, 1, new Set());
    }

    this.tbody.replaceChildren(...rows);
    const c = this.counts();
    for (const tab of this.tabs) {
      tab.setAttribute("aria-pressed", String(tab.dataset.status === this.status));
      tab.querySelector(".tab-count").textContent = count(c[tab.dataset.status]);
    }
    this.empty.hidden = rows.length > 0;
    if (!this.received) this.empty.textContent = "Waiting for the server…";
    else if (filtering && listed.length) this.empty.textContent = "No session matches the filter.";
    else this.empty.textContent = `No ${this.status === "all" ? "" : `${this.status} `}sessions.`;
    this.footer.textContent = truncated ? `${plural(truncated, "more session")} not shown — refine the filter.` : "";
    this.footer.hidden = !truncated;

    if (this.selected) this.rowOf(this.selected)?.setAttribute("aria-selected", "true");
    if (focusedId) this.rowOf(focusedId)?.focus();
  }

  sessionRow(s, depth, kidCount, open, now) {
    const started = parseTime(s.created_at);
    const ended = parseTime(s.ended_at);
    const active = s.status !== "ended";
    const toggle = kidCount
      ? h("button", {
          class: "toggle",
          type: "button",
          dataset: { toggle: s.id },
          "aria-expanded": String(open),
          "aria-label": `${open ? "Hide" : "Show"} ${plural(kidCount, "child session")}`,
          title: `${open ? "Hide" : "Show"} ${plural(kidCount, "child session")}`,
          text: open ? "▾" : "▸",
        })
      : h("span", { class: "toggle-space" });
    const name = h(
      "div",
      { class: "app" },
      toggle,
      h("span", { class: "status-dot", title: active ? "active" : "ended" }),
      h("span", { class: s.appname ? "app-name" : "app-name unnamed", text: s.appname || "(unnamed)" }),
      s.id === this.selfId ? h("span", { class: "chip chip-self", text: "this server", title: "The server's own session" }) : null,
      kidCount && !open ? h("span", { class: "chip", text: `+${kidCount}`, title: plural(kidCount, "child session") }) : null,
      s.jobid && depth === 0 ? h("span", { class: "chip chip-job", text: `job ${s.jobid}`, title: `Job ${s.jobid}` }) : null,
    );
    name.style.paddingLeft = `${depth * 1.1}rem`;
    const durationCell = h("td", { class: "col-duration num" });
    if (active) this.ticking.push([durationCell, started]);
    durationCell.textContent = started === null ? "" : duration((active ? now : ended ?? now) - started);
    return h(
      "tr",
      {
        class: `session-row ${active ? "is-active" : "is-ended"}${s.id === this.selfId ? " is-self" : ""}`,
        tabindex: "0",
        dataset: { id: s.id },
        title: s.id,
      },
      h("td", { class: "col-app" }, name),
      h("td", { class: "col-mode", text: s.mode ?? "" }),
      h("td", { class: "col-platform", text: s.platform ?? "" }),
      h("td", { class: "col-pid num", text: s.pid ? String(s.pid) : "" }),
      h("td", { class: "col-started", text: when(started, now), title: fullTime(started) }),
      durationCell,
      h(
        "td",
        { class: "col-ended", title: fullTime(ended) },
        active ? h("span", { class: "pill pill-active", text: "active" }) : when(ended, now),
      ),
      h("td", { class: "col-reason", text: s.end_reason ?? "" }),
      h("td", { class: "col-logs num", text: count(s.log_count ?? 0) }),
    );
  }

  jobRow(job, members, open, now) {
    const active = members.filter((s) => s.status !== "ended").length;
    const starts = members.map((s) => parseTime(s.created_at)).filter((t) => t !== null);
    const first = starts.length ? Math.min(...starts) : null;
    const logs = members.reduce((sum, s) => sum + (s.log_count ?? 0), 0);
    return h(
      "tr",
      { class: "job-row" },
      h(
        "td",
        { colspan: String(COLUMNS) },
        h(
          "div",
          { class: "job" },
          h("button", {
            class: "toggle",
            type: "button",
            dataset: { toggle: `job:${job}` },
            "aria-expanded": String(open),
            title: open ? "Collapse job" : "Expand job",
            text: open ? "▾" : "▸",
          }),
          h("span", { class: "job-label", text: "Job" }),
          h("span", { class: "job-id", text: job }),
          h(
            "span",
            { class: "job-summary" },
            `${plural(members.length, "session")} · ${count(active)} active · ${plural(logs, "line")}` +
              (first === null ? "" : ` · since ${when(first, now)}`),
          ),
        ),
      ),
    );
  }

  /** Advance the live durations of active sessions. */
  tick() {
    const now = Date.now();
    for (const [cell, started] of this.ticking) {
      if (started !== null) cell.textContent = duration(now - started);
    }
  }
}
