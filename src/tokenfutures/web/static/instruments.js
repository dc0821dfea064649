// Listed contracts (GET /v1/instruments), fetched once a minute at most, and the contract
// the user last looked at.

import { get } from "./api.js";

const FRESH_MS = 60000;
let cached = null;
let fetchedAt = 0;
let inFlight = null;
let chosen = null;

export async function instruments() {
  if (cached && Date.now() - fetchedAt < FRESH_MS) return cached;
  if (!inFlight) {
    inFlight = get("/v1/instruments")
      .then((list) => {
        cached = list;
        fetchedAt = Date.now();
        return list;
      })
      .finally(() => {
        inFlight = null;
      });
  }
  return inFlight;
}

export function forget() {
  fetchedAt = 0;
}

export function tradable(list) {
  return list.filter((i) => !i.delisted);
}

// The contract shown when none is named: the last one chosen, else the nearest TKN month
// with at least two weeks to its last trading day.
export function defaultSymbol(list) {
  const live = tradable(list);
  if (chosen && live.some((i) => i.symbol === chosen)) return chosen;
  const soon = new Date(Date.now() + 14 * 86400000).toISOString().slice(0, 10);
  const months = live.filter((i) => i.product === "TKN")
    .sort((a, b) => a.last_trading_day.localeCompare(b.last_trading_day));
  const pick = months.find((i) => i.last_trading_day >= soon) || months[0] || live[0];
  return pick ? pick.symbol : null;
}

export function choose(symbol) {
  chosen = symbol;
}

// Digits after the decimal point of a contract's tick ("0.005" -> 3).
export function digitsOf(instrument) {
  const tick = instrument ? instrument.tick_size : "0.001";
  const dot = tick.indexOf(".");
  return dot < 0 ? 0 : tick.length - dot - 1;
}
