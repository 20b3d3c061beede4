// Small helpers shared by the views: a DOM builder that only ever creates text, and formatting.

/**
 * Build an element. Children and the `text` prop become text nodes, never markup, so server
 * data passed here cannot inject HTML.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const LEVELS = ["trace", "debug", "info", "warn", "error", "critical"];

/** Rank for the minimum-level filter: -1 for no level; a name the server kept as given ranks as info. */
export function levelRank(level) {
  if (!level) return -1;
  const rank = LEVELS.indexOf(level);
  return rank < 0 ? 2 : rank;
}

/** A CSS-safe class suffix for a level (unknown names are "other"). */
export function levelClass(level) {
  if (!level) return "none";
  return LEVELS.includes(level) ? level : "other";
}

const numbers = new Intl.NumberFormat();
export const count = (n) => numbers.format(n ?? 0);
export const plural = (n, one, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

const pad = (n, width = 2) => String(n).padStart(width, "0");

export function parseTime(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** Local wall-clock time: "14:03:07" today, "2026-12-03 14:03" on other days. */
export function when(ms, now = Date.now()) {
  if (ms === null) return "";
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (sameDay(d, new Date(now))) return `${time}:${pad(d.getSeconds())}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** Full local date and time with milliseconds, for tooltips and the info panel. */
export function fullTime(ms) {
  if (ms === null) return "";
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** Log row time: "14:03:07.123" (local). */
export function clock(ms) {
  if (ms === null) return "";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A duration: "12s", "3m 07s", "2h 05m", "4d 03h". */
export function duration(ms) {
  if (ms === null || ms < 0) return "";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return `${hours}h ${pad(m % 60)}m`;
  return `${Math.floor(hours / 24)}d ${pad(hours % 24)}h`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff from 0.5 s to 5 s, with a little jitter so many tabs do not retry in step. */
export function backoff(attempt) {
  const base = Math.min(5000, 500 * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.2));
}
