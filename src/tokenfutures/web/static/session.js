// The signed-in account, shared by the views: who the key is (GET /v1/whoami: its account
// and scopes, checked at sign-in and again when a tab resumes its session), working orders
// and fills from the private stream, positions and balances from REST (refreshed after each
// fill and every few seconds).
//
// Events on `account`: "change" (signed in or out, scopes known), "orders", "fills",
// "money" (positions and balances), "error" (a refusal on the private stream).

import { ApiError, currentCredentials, post, privateGet, setCredentials } from "./api.js";
import { PrivateFeed } from "./ws.js";

const LIVE = new Set(["new", "partially_filled"]);
const REFRESH_MS = 5000;
const FILLS_KEPT = 200;

export const account = new EventTarget();
export const state = {
  name: null,
  scopes: [],
  orders: new Map(), // order_id -> order (working orders only)
  fills: [],
  positions: [],
  balances: null,
};

let feed = null;
let timer = null;
let pending = null;

function emit(type) {
  account.dispatchEvent(new Event(type));
}

export function signedIn() {
  return currentCredentials() !== null;
}

// The scopes that grant a scope, as the exchange checks them (admin > trade > read).
const GRANTED_BY = { read: ["read", "trade", "admin"], trade: ["trade", "admin"], admin: ["admin"] };

export function hasScope(scope) {
  return GRANTED_BY[scope].some((granted) => state.scopes.includes(granted));
}

// Check the key against the exchange (a wrong key or secret is refused with the exchange's
// error), keep it for this tab with its account and scopes, and open the private stream.
export async function signIn(key, secret) {
  const previous = currentCredentials();
  setCredentials({ key: key.trim(), secret: secret.trim() });
  try {
    const me = await privateGet("/v1/whoami");
    setCredentials({ ...currentCredentials(), account: me.account, scopes: me.scopes });
  } catch (error) {
    setCredentials(previous);
    throw error;
  }
  start();
}

// A sandbox account with USD 1,000,000 and a read/trade key (sandbox exchanges only).
export async function createSandboxKey() {
  const made = await post("/v1/sandbox/accounts", {});
  await signIn(made.key, made.secret);
  return made;
}

export function signOut() {
  stop();
  setCredentials(null);
  Object.assign(state, { name: null, scopes: [], orders: new Map(), fills: [], positions: [],
    balances: null });
  emit("change");
}

// Resume a session kept in this tab (after a reload): the key is checked again, since it may
// have been revoked or its scopes changed meanwhile.
export function resume() {
  if (!signedIn()) return;
  start();
  const key = currentCredentials().key;
  const same = () => currentCredentials() !== null && currentCredentials().key === key;
  privateGet("/v1/whoami").then((me) => {
    if (!same()) return; // signed out, or in with another key, meanwhile
    setCredentials({ ...currentCredentials(), account: me.account, scopes: me.scopes });
    learned(me);
  }).catch((error) => {
    if (same() && error instanceof ApiError && (error.status === 401 || error.status === 403)) signOut();
  });
}

// The account and scopes of the key, as the exchange reported them.
function learned(me) {
  state.name = me.account;
  state.scopes = me.scopes || [];
  emit("change");
}

function start() {
  stop();
  const found = currentCredentials();
  state.name = found.account || null;
  state.scopes = found.scopes || [];
  state.orders = new Map();
  feed = new PrivateFeed({
    onAuthenticated: learned,
    onMessage: receive,
    onError: (error) => account.dispatchEvent(new CustomEvent("error", { detail: error })),
  });
  emit("change");
  refresh(true);
  timer = setInterval(() => refresh(false), REFRESH_MS);
}

function stop() {
  if (feed) feed.stop();
  feed = null;
  clearInterval(timer);
  clearTimeout(pending);
}

function receive(message) {
  if (message.channel === "orders" && message.type === "snapshot") {
    state.orders = new Map(message.orders.map((o) => [o.order_id, o]));
    emit("orders");
    soon();
  } else if (message.channel === "orders" && message.order) {
    noteOrder(message.order);
  } else if (message.channel === "fills" && message.fill) {
    const fill = message.fill;
    const seen = state.fills.some((f) => f.trade_id === fill.trade_id && f.order_id === fill.order_id);
    if (!seen) state.fills = [fill, ...state.fills].slice(0, FILLS_KEPT);
    emit("fills");
    soon();
  }
}

// An order as the exchange answered or streamed it: kept while it works.
export function noteOrder(order) {
  if (LIVE.has(order.status)) state.orders.set(order.order_id, order);
  else state.orders.delete(order.order_id);
  emit("orders");
}

function soon() {
  clearTimeout(pending);
  pending = setTimeout(() => refresh(false), 250);
}

// Positions and balances (and, the first time, recent fills and working orders).
export async function refresh(first) {
  if (!signedIn()) return;
  try {
    const [positions, balances] = await Promise.all([
      privateGet("/v1/positions"), privateGet("/v1/balances")]);
    state.positions = positions;
    state.balances = balances;
    emit("money");
    if (first) {
      state.fills = await privateGet("/v1/fills?limit=100");
      emit("fills");
      const open = await privateGet("/v1/orders?status=open");
      for (const order of open) state.orders.set(order.order_id, order);
      emit("orders");
    }
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) signOut();
  }
}

export function workingOrders(symbol = null) {
  const found = [...state.orders.values()].filter((o) => symbol === null || o.symbol === symbol);
  return found.sort((a, b) => b.order_id - a.order_id);
}
