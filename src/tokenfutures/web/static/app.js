// The page: hash navigation between the views (#/market, #/contract/SYMBOL, #/trade/SYMBOL,
// #/risk) and the header's feed and session indicators.

import { clear } from "./dom.js";
import * as contract from "./contract.js";
import * as market from "./market.js";
import * as risk from "./risk.js";
import { account, resume, state } from "./session.js";
import * as trade from "./trade.js";
import { feedEvents } from "./ws.js";

const VIEWS = { market, contract, trade, risk };
let unmount = null;

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = VIEWS[parts[0]] ? parts[0] : "market";
  if (unmount) unmount();
  const root = clear(document.getElementById("view"));
  root.dataset.view = name;
  for (const link of document.querySelectorAll(".tabs a")) {
    link.classList.toggle("on", link.dataset.view === name);
  }
  document.title = `tokenfutures · ${name}`;
  unmount = VIEWS[name].mount(root, parts.slice(1)) || null;
}

// "feed: live" when every open socket is live.
const sockets = new Map();
feedEvents.addEventListener("status", (event) => {
  const { name, state: socketState } = event.detail;
  if (socketState === "closed") sockets.delete(name);
  else sockets.set(name, socketState);
  const states = [...sockets.values()];
  const pill = document.getElementById("feed-status");
  const shown = !states.length ? "idle" : states.every((s) => s === "live") ? "live"
    : states.includes("reconnecting") ? "reconnecting" : "connecting";
  pill.textContent = `feed: ${shown}`;
  pill.className = `pill ${shown}`;
});

function showSession() {
  const pill = document.getElementById("session-status");
  const scopes = state.scopes.length ? ` · ${state.scopes.join(", ")}` : "";
  pill.textContent = state.name ? `${state.name}${scopes}` : "not signed in";
  pill.className = `pill ${state.name ? "live" : ""}`;
  pill.title = "The API key of this browser tab";
}

// A refusal on the private stream (a stale clock, a revoked key): shown on the session pill.
function showStreamError(event) {
  const pill = document.getElementById("session-status");
  pill.className = "pill error";
  pill.title = `Private stream: ${event.detail.detail || event.detail.reason}`;
}

account.addEventListener("change", showSession);
account.addEventListener("error", showStreamError);
window.addEventListener("hashchange", route);
resume();
showSession();
route();
