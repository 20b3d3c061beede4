// The access token, for servers started with --token: asked for once, kept in this browser.

const KEY = "sessions-token";

export function token() {
  return localStorage.getItem(KEY) || "";
}

/** Headers for fetch, with the bearer token when there is one. */
export function authHeaders(headers = {}) {
  const value = token();
  return value ? { ...headers, Authorization: `Bearer ${value}` } : headers;
}

/** A WebSocket URL carrying the token as its `token` query parameter. */
export function withToken(url) {
  const value = token();
  return value ? `${url}?token=${encodeURIComponent(value)}` : url;
}

/** The server refused us: forget the stored token and ask for one (once at a time). */
let asking = false;
export function askForToken() {
  if (asking) return;
  asking = true;
  try {
    const value = window.prompt("This server needs an access token (sessions serve --token):");
    if (value) localStorage.setItem(KEY, value.trim());
    else localStorage.removeItem(KEY);
  } finally {
    asking = false;
  }
}
