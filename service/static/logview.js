// One session's log: history over HTTP by cursor, then the live tail over the WebSocket,
// shown in a virtual viewport that renders only the rows in sight.

import { askForToken, authHeaders } from "./auth.js";
import { backoff, clock, count, fullTime, h, levelClass, levelRank, parseTime, sleep } from "./format.js";

const ROW = 20; // px, the height of one log row; equal to --row-h in style.css
const OVERSCAN = 8; // rows rendered above and below the visible ones
const MAX_SIZER = 8_000_000; // px; browsers cap element heights, so taller logs scroll scaled
const PAGE = 10000; // entries per history request (the server's maximum page)
const ROW_CHARS = 1000; // a row shows one line; the rest is in the tooltip and the detail panel
const TITLE_CHARS = 4000;

const oneLine = (text) =>
  (text.length > ROW_CHARS ? `${text.slice(0, ROW_CHARS)} …` : text).replace(/\r\n|\r|\n/g, " ⏎ ");

/** One line of the downloaded text: "timestamp level logger: message", empty parts left out. */
function textLine(entry) {
  let line = entry.timestamp ?? "";
  if (entry.level) line += ` ${entry.level}`;
  if (entry.logger) line += ` ${entry.logger}:`;
  const message = (entry.message ?? "").replace(/\r\n|\r|\n/g, "\\n");
  return `${line} ${message}\n`;
}

export class LogView {
  constructor(root, { connection }) {
    this.root = root;
    this.connection = connection;
    const q = (selector) => root.querySelector(selector);
    this.viewport = q(".log-viewport");
    this.sizer = q(".log-sizer");
    this.rowsEl = q(".log-rows");
    this.newButton = q(".log-new");
    this.emptyEl = q(".log-empty");
    this.stateEl = q(".log-state");
    this.countEl = q(".log-count");
    this.levelSelect = q(".log-level");
    this.unlevelledBox = q(".log-unlevelled");
    this.searchInput = q(".log-search");
    this.onlyBox = q(".log-only");
    this.matchesEl = q(".log-matches");
    this.prevButton = q(".log-prev");
    this.nextButton = q(".log-next");
    this.download = q(".log-download");
    this.detail = q(".log-detail");

    this.pool = [];
    this.fileName = "session.log";
    this.id = null;
    this.generation = 0;
    this.minLevel = 0;
    this.showUnlevelled = true;
    this.query = "";
    this.onlyMatching = true;
    this.downloadUrl = null;
    this.reset();
    this.bind();
    new ResizeObserver(() => this.render()).observe(this.viewport);
  }

  reset() {
    this.abort?.abort();
    this.abort = null;
    this.entries = [];
    this.lastCursor = 0;
    this.early = []; // frames for this session that arrived while the history was loading
    this.view = this.filtering() ? [] : null; // positions -> entry indexes; null shows all
    this.matches = [];
    this.matchAt = -1;
    this.follow = true;
    this.unseen = 0;
    this.selected = null;
    this.phase = "idle"; // idle, loading, live, missing
    this.subscribed = false;
    this.total = 0;
    this.problem = null;
    this.sizerHeight = -1;
  }

  bind() {
    const vp = this.viewport;
    vp.addEventListener(
      "scroll",
      () => {
        const atBottom = vp.scrollTop + vp.clientHeight >= vp.scrollHeight - 4;
        if (atBottom !== this.follow) {
          this.follow = atBottom;
          if (atBottom) this.unseen = 0;
        }
        this.scheduleRender();
      },
      { passive: true },
    );
    vp.addEventListener("keydown", (event) => {
      if (event.key === "End") {
        event.preventDefault();
        this.toBottom();
      } else if (event.key === "Home") {
        event.preventDefault();
        vp.scrollTop = 0;
      }
    });
    this.rowsEl.addEventListener("click", (event) => {
      const row = event.target.closest(".log-row");
      if (!row || window.getSelection()?.toString()) return; // selecting text is not a click
      const entry = this.entryAt(Number(row.dataset.pos));
      if (entry) this.showDetail(entry.cursor === this.selected ? null : entry);
    });
    this.newButton.addEventListener("click", () => this.toBottom());
    this.levelSelect.addEventListener("change", () => {
      this.minLevel = Number(this.levelSelect.value);
      this.rebuild();
    });
    this.unlevelledBox.addEventListener("change", () => {
      this.showUnlevelled = this.unlevelledBox.checked;
      this.rebuild();
    });
    this.onlyBox.addEventListener("change", () => {
      this.onlyMatching = this.onlyBox.checked;
      this.rebuild();
    });
    let typing = 0;
    this.searchInput.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => this.setQuery(this.searchInput.value), 150);
    });
    this.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        clearTimeout(typing);
        if (this.searchInput.value.toLowerCase() !== this.query) this.setQuery(this.searchInput.value);
        this.gotoMatch(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape") {
        this.searchInput.value = "";
        this.setQuery("");
      }
    });
    this.prevButton.addEventListener("click", () => this.gotoMatch(-1));
    this.nextButton.addEventListener("click", () => this.gotoMatch(1));
    this.download.addEventListener("click", () => this.prepareDownload());
    this.detail.addEventListener("click", (event) => {
      if (event.target.closest(".detail-close")) this.showDetail(null);
    });
  }

  // --- loading and the live tail -------------------------------------------------------

  open(id) {
    // The level filter carries over from session to session; a search is about one log.
    this.searchInput.value = "";
    this.query = "";
    this.close();
    this.id = id;
    const generation = this.generation;
    this.phase = "loading";
    this.viewport.scrollTop = 0;
    this.render();
    this.loadHistory(generation);
  }

  close() {
    if (this.subscribed) this.connection.send({ type: "unsub_log" });
    this.generation += 1;
    this.id = null;
    this.reset();
    this.showDetail(null);
    this.render();
  }

  async loadHistory(generation) {
    const abort = new AbortController();
    this.abort = abort;
    let attempt = 0;
    while (generation === this.generation) {
      let page;
      try {
        const url = `/sessions/${encodeURIComponent(this.id)}/log?cursor=${this.lastCursor}&limit=${PAGE}`;
        const response = await fetch(url, {
          signal: abort.signal,
          headers: authHeaders({ Accept: "application/json" }),
        });
        if (response.status === 401) askForToken();
        if (response.status === 404) {
          if (generation !== this.generation) return;
          this.phase = "missing";
          this.render();
          return;
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        page = await response.json();
      } catch (error) {
        if (abort.signal.aborted || generation !== this.generation) return;
        this.problem = `History not loaded (${error.message || error}); retrying…`;
        this.render();
        await sleep(backoff(attempt));
        attempt += 1;
        continue;
      }
      if (generation !== this.generation) return;
      attempt = 0;
      this.problem = null;
      this.total = page.total ?? this.total;
      this.append(Array.isArray(page.entries) ? page.entries : []);
      if (!page.more) break;
    }
    if (generation !== this.generation) return;
    this.phase = "live";
    // Frames left over from an earlier subscription to this session form an unbroken run
    // that starts at or below the history's end, so adding them (deduplicated) leaves no gap.
    for (const entries of this.early) this.append(entries);
    this.early = [];
    this.subscribe();
  }

  /** Follow the session from the last cursor shown: no gap, no duplicate. */
  subscribe() {
    if (this.phase !== "live" || !this.id) return;
    this.subscribed = this.connection.send({
      type: "sub_log",
      session: this.id,
      cursor: this.lastCursor,
      encoding: "json",
    });
    this.render();
  }

  onConnected() {
    this.subscribe();
  }

  onConnectionState() {
    if (!this.connection.connected) this.subscribed = false;
    this.renderStatus();
  }

  onFrame(frame) {
    if (frame.session !== this.id || !Array.isArray(frame.entries)) return;
    if (this.phase === "loading") this.early.push(frame.entries);
    else if (this.phase === "live") {
      this.problem = null;
      this.append(frame.entries);
    }
  }

  onServerError(detail) {
    if (this.id) {
      this.problem = `Server: ${detail}`;
      this.renderStatus();
    }
  }

  append(entries) {
    let shown = 0;
    for (const entry of entries) {
      // Belt and braces: the protocol promises each cursor once, in order; never show one twice.
      if (!entry || typeof entry.cursor !== "number" || entry.cursor <= this.lastCursor) continue;
      this.lastCursor = entry.cursor;
      const index = this.entries.push(entry) - 1;
      if (!this.view && !this.query) {
        shown += 1;
        continue;
      }
      if (!this.levelOk(entry)) continue;
      const match = this.query !== "" && this.matchOk(entry);
      if (match) this.matches.push(index);
      if (!this.view) shown += 1;
      else if (!this.query || !this.onlyMatching || match) {
        this.view.push(index);
        shown += 1;
      }
    }
    if (this.entries.length > this.total) this.total = this.entries.length;
    if (!this.follow && this.phase === "live") this.unseen += shown;
    this.scheduleRender();
  }

  // --- filters and search ---------------------------------------------------------------

  levelOk(entry) {
    const rank = levelRank(entry.level);
    return rank < 0 ? this.showUnlevelled : rank >= this.minLevel;
  }

  matchOk(entry) {
    return (
      (entry.message ?? "").toLowerCase().includes(this.query) ||
      (entry.logger ?? "").toLowerCase().includes(this.query)
    );
  }

  setQuery(text) {
    this.query = text.toLowerCase();
    this.rebuild();
  }

  filtering() {
    return this.minLevel > 0 || !this.showUnlevelled || (this.query !== "" && this.onlyMatching);
  }

  rebuild() {
    const anchor = this.follow ? null : this.topIndex();
    const filtering = this.filtering();
    const view = filtering ? [] : null;
    const matches = [];
    if (filtering || this.query) {
      for (let i = 0; i < this.entries.length; i += 1) {
        const entry = this.entries[i];
        if (!this.levelOk(entry)) continue;
        const match = this.query !== "" && this.matchOk(entry);
        if (match) matches.push(i);
        if (view && (!this.query || !this.onlyMatching || match)) view.push(i);
      }
    }
    this.view = view;
    this.matches = matches;
    this.matchAt = -1;
    this.unseen = 0;
    this.sizeSizer();
    if (anchor !== null) this.scrollToPos(this.posOf(anchor), false);
    this.render();
  }

  gotoMatch(step) {
    if (!this.matches.length) return;
    if (this.matchAt < 0) this.matchAt = step > 0 ? 0 : this.matches.length - 1;
    else this.matchAt = (this.matchAt + step + this.matches.length) % this.matches.length;
    this.scrollToPos(this.posOf(this.matches[this.matchAt]), true);
    this.render();
  }

  get length() {
    return this.view ? this.view.length : this.entries.length;
  }

  entryAt(pos) {
    return this.entries[this.view ? this.view[pos] : pos];
  }

  /** The position of an entry index in the current view, or of the next one shown. */
  posOf(index) {
    if (!this.view) return index;
    let low = 0;
    let high = this.view.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.view[mid] < index) low = mid + 1;
      else high = mid;
    }
    return Math.min(low, Math.max(0, this.view.length - 1));
  }

  topIndex() {
    const pos = this.firstVisible();
    return pos < this.length ? (this.view ? this.view[pos] : pos) : null;
  }

  // --- the virtual viewport -------------------------------------------------------------

  scheduleRender() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  sizeSizer() {
    const height = Math.min(this.length * ROW, MAX_SIZER);
    if (height !== this.sizerHeight) {
      this.sizer.style.height = `${height}px`;
      this.sizerHeight = height;
    }
    return height;
  }

  /** Scaled when the log is taller than the browser allows an element to be. */
  get scaled() {
    return this.length * ROW > MAX_SIZER;
  }

  firstVisible() {
    const vp = this.viewport;
    if (!this.scaled) return Math.floor(vp.scrollTop / ROW);
    const fit = Math.floor(vp.clientHeight / ROW);
    const range = Math.max(1, this.sizerHeight - vp.clientHeight);
    return Math.round(Math.min(1, vp.scrollTop / range) * Math.max(0, this.length - fit));
  }

  scrollToPos(pos, center) {
    const vp = this.viewport;
    const fit = Math.floor(vp.clientHeight / ROW);
    const target = Math.max(0, pos - (center ? Math.floor((fit - 1) / 2) : 0));
    if (!this.scaled) vp.scrollTop = target * ROW;
    else vp.scrollTop = (target / Math.max(1, this.length - fit)) * (this.sizerHeight - vp.clientHeight);
    this.follow = vp.scrollTop + vp.clientHeight >= vp.scrollHeight - 4;
  }

  toBottom() {
    this.follow = true;
    this.unseen = 0;
    this.render();
    this.viewport.focus({ preventScroll: true });
  }

  render() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const vp = this.viewport;
    const n = this.length;
    this.sizeSizer();
    if (this.follow) {
      const bottom = vp.scrollHeight - vp.clientHeight;
      if (vp.scrollTop < bottom) vp.scrollTop = bottom;
    }
    const first = Math.min(this.firstVisible(), Math.max(0, n - 1));
    const offset = this.scaled ? vp.scrollTop : first * ROW;
    const start = Math.max(0, first - OVERSCAN);
    const end = Math.min(n, first + Math.ceil(vp.clientHeight / ROW) + 1 + OVERSCAN);
    this.rowsEl.style.transform = `translateY(${offset - (first - start) * ROW}px)`;
    while (this.pool.length < end - start) this.pool.push(this.makeRow());
    const current = this.matchAt >= 0 ? this.matches[this.matchAt] : -1;
    for (let k = 0; k < this.pool.length; k += 1) {
      const row = this.pool[k];
      if (start + k < end) {
        row.hidden = false;
        this.fill(row, start + k, current);
      } else if (!row.hidden) {
        row.hidden = true;
        row.key = "";
      }
    }
    this.renderStatus();
  }

  makeRow() {
    const row = h(
      "div",
      { class: "log-row" },
      h("span", { class: "log-ts" }),
      h("span", { class: "log-lvl" }),
      h("span", { class: "log-logger" }),
      h("span", { class: "log-msg" }),
    );
    this.rowsEl.append(row);
    return row;
  }

  fill(row, pos, current) {
    const index = this.view ? this.view[pos] : pos;
    const entry = this.entries[index];
    const key = `${entry.cursor}|${this.query}|${entry.cursor === this.selected}|${index === current}`;
    row.dataset.pos = String(pos);
    if (row.key === key) return;
    row.key = key;
    const [ts, lvl, logger, msg] = row.children;
    row.className =
      `log-row lvl-${levelClass(entry.level)}` +
      (entry.cursor === this.selected ? " is-selected" : "") +
      (index === current ? " is-current" : "");
    row.dataset.cursor = String(entry.cursor);
    const time = parseTime(entry.timestamp);
    ts.textContent = clock(time);
    ts.title = entry.timestamp ?? "";
    lvl.textContent = entry.level ?? "";
    this.highlight(logger, entry.logger ?? "");
    const message = entry.message ?? "";
    this.highlight(msg, oneLine(message));
    row.title = message.length > TITLE_CHARS ? `${message.slice(0, TITLE_CHARS)} …` : message;
  }

  /** Text with the search term marked; built from text nodes only. */
  highlight(node, text) {
    const query = this.query;
    const lower = query ? text.toLowerCase() : "";
    // Lower-casing can change the length of some scripts; then offsets would not line up.
    if (!query || lower.length !== text.length || !lower.includes(query)) {
      node.textContent = text;
      return;
    }
    const parts = [];
    let from = 0;
    for (let at = lower.indexOf(query); at !== -1; at = lower.indexOf(query, from)) {
      if (at > from) parts.push(text.slice(from, at));
      parts.push(h("mark", { text: text.slice(at, at + query.length) }));
      from = at + query.length;
    }
    parts.push(text.slice(from));
    node.replaceChildren(...parts);
  }

  renderStatus() {
    const n = this.entries.length;
    this.root.classList.toggle("is-missing", this.phase === "missing");
    const state = this.stateEl;
    state.className = "log-state";
    if (this.phase === "missing") {
      state.textContent = "Session not found";
      state.classList.add("is-bad");
    } else if (this.problem) {
      state.textContent = this.problem;
      state.classList.add("is-warn");
    } else if (this.phase === "loading") {
      state.textContent = `Loading history… ${count(n)}${this.total ? ` / ${count(this.total)}` : ""}`;
      state.classList.add("is-busy");
    } else if (this.phase === "live" && this.subscribed && this.connection.connected) {
      state.textContent = "Live";
      state.classList.add("is-live");
    } else if (this.phase === "live") {
      state.textContent = "Reconnecting…";
      state.classList.add("is-warn");
    } else {
      state.textContent = "";
    }

    this.countEl.textContent =
      this.view && this.view.length !== n ? `${count(this.view.length)} of ${count(n)} lines` : `${count(n)} ${n === 1 ? "line" : "lines"}`;

    if (this.query) {
      const at = this.matchAt >= 0 ? `${count(this.matchAt + 1)} of ` : "";
      this.matchesEl.textContent = this.matches.length ? `${at}${count(this.matches.length)} ${this.matches.length === 1 ? "match" : "matches"}` : "no matches";
    } else {
      this.matchesEl.textContent = "";
    }
    this.prevButton.disabled = this.nextButton.disabled = this.matches.length === 0;
    this.onlyBox.disabled = !this.query;

    const vp = this.viewport;
    const paused = !this.follow && this.length * ROW > vp.clientHeight;
    this.newButton.hidden = !paused;
    if (paused) {
      this.newButton.textContent = this.unseen
        ? `${count(this.unseen)} new ${this.unseen === 1 ? "line" : "lines"} ↓`
        : "Jump to latest ↓";
    }

    let empty = "";
    if (this.phase === "missing") empty = "This session does not exist (it may have been pruned).";
    else if (this.phase === "live" && n === 0) empty = "No log lines yet. New lines appear here as they arrive.";
    else if (n > 0 && this.length === 0) empty = "No line matches the filters.";
    this.emptyEl.textContent = empty;
    this.emptyEl.hidden = !empty;
    this.download.setAttribute("aria-disabled", String(n === 0));
    this.download.title = n ? `Save the ${count(n)} loaded lines as text` : "Nothing to download yet";
  }

  // --- details and download -------------------------------------------------------------

  showDetail(entry) {
    this.selected = entry ? entry.cursor : null;
    this.detail.hidden = !entry;
    if (!entry) {
      this.detail.replaceChildren();
      this.scheduleRender();
      return;
    }
    const facts = [
      ["Cursor", String(entry.cursor)],
      ["Time", `${entry.timestamp ?? ""}  (${fullTime(parseTime(entry.timestamp))} local)`],
      ["Level", entry.level ?? "—"],
      ["Logger", entry.logger ?? "—"],
    ];
    if (entry.format) facts.push(["Format", entry.format]);
    const children = [
      h(
        "div",
        { class: "detail-head" },
        h("span", { class: `log-lvl lvl-badge lvl-${levelClass(entry.level)}`, text: entry.level ?? "no level" }),
        h("span", { class: "detail-title", text: `Entry ${entry.cursor}` }),
        h("button", { class: "icon-btn detail-close", type: "button", title: "Close", "aria-label": "Close", text: "×" }),
      ),
      h("dl", { class: "detail-facts" }, facts.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v })))),
      h("pre", { class: "detail-message", text: entry.message ?? "" }),
    ];
    if (entry.fields && Object.keys(entry.fields).length) {
      children.push(h("div", { class: "detail-label", text: "Fields" }));
      children.push(h("pre", { class: "detail-fields", text: JSON.stringify(entry.fields, null, 2) }));
    }
    this.detail.replaceChildren(...children);
    this.scheduleRender();
  }

  prepareDownload() {
    // Built at click time from everything loaded, so the file is as current as the view.
    if (this.downloadUrl) URL.revokeObjectURL(this.downloadUrl);
    const blob = new Blob(this.entries.map(textLine), { type: "text/plain;charset=utf-8" });
    this.downloadUrl = URL.createObjectURL(blob);
    this.download.href = this.downloadUrl;
    this.download.download = this.fileName;
  }

  cursors() {
    return this.entries.map((entry) => entry.cursor);
  }
}
