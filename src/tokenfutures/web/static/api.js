// The exchange's REST API: public reads, and private requests signed in the browser.
//
// A private request carries TF-API-KEY, TF-API-TIMESTAMP (Unix ms) and TF-API-SIGNATURE:
// the hex HMAC-SHA256, keyed by the secret, of "{timestamp}\n{METHOD}\n{path}\n" + body,
// where path is the request target as sent (query string included). The signature is
// computed with WebCrypto; the secret never leaves this tab. Credentials live in
// sessionStorage (gone when the tab closes), never in localStorage.

const STORE = "tokenfutures.credentials";
const encoder = new TextEncoder();

export class ApiError extends Error {
  constructor(status, error) {
    super(error.detail || error.reason || `HTTP ${status}`);
    this.status = status;
    this.reason = error.reason || `http_${status}`;
    this.field = error.field || null;
    this.detail = error.detail || this.message;
  }
}

// --- credentials -----------------------------------------------------------------------

let credentials = readStored();
let signingKey = null; // the secret imported as a non-extractable WebCrypto key
let clockOffsetMs = 0; // server clock - this clock, learned from a stale-timestamp refusal
export const sessionEvents = new EventTarget();

function readStored() {
  try {
    const found = JSON.parse(sessionStorage.getItem(STORE) || "null");
    return found && found.key && found.secret ? found : null;
  } catch {
    return null;
  }
}

export function currentCredentials() {
  return credentials;
}

// {key, secret, account?, scopes?}: kept for this tab only.
export function setCredentials(found) {
  credentials = found;
  signingKey = null;
  if (found) sessionStorage.setItem(STORE, JSON.stringify(found));
  else sessionStorage.removeItem(STORE);
  sessionEvents.dispatchEvent(new Event("change"));
}

async function keyFor(secret) {
  if (!window.isSecureContext || !crypto.subtle) {
    throw new ApiError(0, { reason: "insecure_context",
      detail: "signing needs a secure context: open the page on https, localhost or 127.0.0.1" });
  }
  if (!signingKey || signingKey.secret !== secret) {
    const key = await crypto.subtle.importKey(
      "raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    signingKey = { secret, key };
  }
  return signingKey.key;
}

export async function sign(secret, timestampMs, method, path, bodyText) {
  const payload = encoder.encode(`${timestampMs}\n${method.toUpperCase()}\n${path}\n${bodyText}`);
  const mac = await crypto.subtle.sign("HMAC", await keyFor(secret), payload);
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function nowMs() {
  return Date.now() + clockOffsetMs;
}

// --- requests --------------------------------------------------------------------------

async function send(method, path, body, signed, retried = false) {
  const text = body === undefined ? "" : JSON.stringify(body);
  const headers = { accept: "application/json" };
  if (text) headers["content-type"] = "application/json";
  if (signed) {
    if (!credentials) throw new ApiError(401, { reason: "not_signed_in", detail: "sign in first" });
    const timestamp = nowMs();
    headers["TF-API-KEY"] = credentials.key;
    headers["TF-API-TIMESTAMP"] = String(timestamp);
    headers["TF-API-SIGNATURE"] = await sign(credentials.secret, timestamp, method, path, text);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: text || undefined, cache: "no-store" });
  } catch {
    throw new ApiError(0, { reason: "unreachable", detail: "the exchange did not answer" });
  }
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  const error = answer && answer.error ? answer.error
    : { reason: `http_${response.status}`, detail: (answer && answer.detail) || response.statusText };
  if (error.reason === "stale_timestamp" && !retried && learnClock(error.detail)) {
    return send(method, path, body, signed, true);
  }
  const refused = new ApiError(response.status, error);
  refused.retryAfter = Number(response.headers.get("retry-after")) || null;
  throw refused;
}

// "(server 1700000000000, request 1699999990000)" -> adjust the clock once
function learnClock(detail) {
  const found = /server (\d+), request (\d+)/.exec(detail || "");
  if (!found) return false;
  clockOffsetMs += Number(found[1]) - Number(found[2]);
  return true;
}

export const get = (path) => send("GET", path, undefined, false);
export const post = (path, body) => send("POST", path, body, false);
export const privateGet = (path) => send("GET", path, undefined, true);
export const privateCall = (method, path, body) => send(method, path, body, true);

export function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
}
