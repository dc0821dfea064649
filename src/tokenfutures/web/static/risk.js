// #/risk: the risk desk (keys with the admin scope): accounts nearest a margin call, open
// interest and the largest positions, settlement prices, the end of day and its results,
// halting and resuming a contract.

import { ApiError, get, privateCall, privateGet } from "./api.js";
import { fill, h, note, panel, table } from "./dom.js";
import { grouped, money, price, signClass, signedQty, subtract, words } from "./format.js";
import { forget, instruments, tradable } from "./instruments.js";
import { account, hasScope, signedIn, state } from "./session.js";
import { signInPanel } from "./signin.js";
import { tradingDay } from "./statement.js";

const REFRESH_MS = 5000;
const LARGEST = 15;

export function mount(root) {
  const view = new RiskView(root);
  return () => view.stop();
}

class RiskView {
  constructor(root) {
    this.root = root;
    this.signin = signInPanel(); // the account's "change" event draws the view again
    this.onChange = () => { this.signin.render(); this.render(); };
    account.addEventListener("change", this.onChange);
    this.render();
  }

  render() {
    clearInterval(this.timer);
    fill(this.root, panel("Risk desk key", this.signin.element, { cls: "wide", id: "risk-signin" }));
    if (!signedIn() || !state.scopes.length) {
      this.root.append(note(signedIn() ? "Checking the key's scopes…"
        : "The risk desk needs a key with the admin scope (tokenfutures keys create --scopes admin).",
      "info"));
      return;
    }
    if (!hasScope("admin")) {
      const scopes = state.scopes.join(", ");
      this.root.append(note(`This key has the scopes ${scopes}; the risk desk needs admin.`, "error"));
      return;
    }
    this.accounts = h("div", { id: "risk-accounts" });
    this.positions = h("div", { id: "risk-positions" });
    this.settlements = h("div", { id: "risk-settlements" });
    this.eodResult = h("div", { id: "eod-result" });
    this.haltResult = h("div", { id: "halt-result" });
    this.root.append(
      panel("Accounts nearest a margin call", this.accounts, { cls: "wide", id: "accounts-panel" }),
      h("div", { class: "row" },
        panel("Open interest and the largest positions", this.positions, { id: "oi-panel" }),
        panel("Settlement prices", this.settlements, { id: "settlements-panel" })),
      h("div", { class: "row" },
        panel("End of day", h("div", {}, this.endOfDayForm(), this.eodResult), { id: "eod-panel" }),
        panel("Halt or resume a contract", h("div", {}, this.haltForm(), this.haltResult),
          { id: "halt-panel" })));
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    try {
      const [accounts, settlements, tickers] = await Promise.all([
        privateGet("/v1/admin/accounts"), get("/v1/settlements"), get("/v1/tickers")]);
      if (this.stopped) return;
      fill(this.accounts, accountsTable(accounts));
      fill(this.positions, positionsView(accounts, settlements));
      fill(this.settlements, settlementsTable(settlements, tickers));
    } catch (error) {
      if (error instanceof ApiError && error.status !== 429) {
        fill(this.accounts, note(`The desk could not be refreshed: ${error.detail}`, "error"));
      }
    }
  }

  endOfDayForm() {
    const day = h("input", { type: "date", name: "eod-date", value: tradingDay() });
    const run = async (event) => {
      event.preventDefault();
      fill(this.eodResult, note(`Running the end of day of ${day.value}…`));
      try {
        const answer = await privateCall("POST", "/v1/admin/end-of-day", { date: day.value });
        fill(this.eodResult, endOfDayView(answer.events));
        forget();
        this.refresh();
      } catch (error) {
        fill(this.eodResult, note(`${error.detail} (${error.reason})`, "error"));
      }
    };
    return h("form", { class: "inline", id: "eod-form", novalidate: true, onsubmit: run },
      h("label", {}, "Trading day", day),
      h("button", { type: "submit", class: "primary", text: "Run end of day" }),
      h("p", { class: "muted small", text: "Closes every contract, sets its settlement price, pays " +
        "variation margin, calls margin and writes the daily statements; trading stays closed " +
        "until the next session opens. A day runs once." }));
  }

  haltForm() {
    const select = h("select", { name: "halt-symbol" });
    instruments().then((list) => fill(select, tradable(list).map((i) =>
      h("option", { value: i.symbol, text: `${i.symbol} (${words(i.phase)})` }))));
    const act = (phase) => async () => {
      const symbol = select.value;
      try {
        const answer = phase === "halted"
          ? await privateCall("POST", "/v1/admin/halt", { symbol })
          : await privateCall("POST", "/v1/admin/commands", { type: "set_phase", symbol, phase });
        const changed = answer.events.find((e) => e.type === "phase_changed");
        fill(this.haltResult, note(changed ? `${symbol}: ${words(changed.previous)} → ${words(changed.phase)}`
          : `${symbol}: no change`, "ok"));
        forget();
      } catch (error) {
        fill(this.haltResult, note(`${error.detail} (${error.reason})`, "error"));
      }
    };
    return h("div", { class: "inline" }, h("label", {}, "Contract", select),
      h("button", { type: "button", class: "danger", id: "halt", onclick: act("halted"), text: "Halt" }),
      h("button", { type: "button", id: "resume", onclick: act("continuous"), text: "Resume trading" }));
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    account.removeEventListener("change", this.onChange);
  }
}

// Headroom = equity - maintenance margin; "near" a call when equity is below initial margin.
function accountsTable(accounts) {
  return table([
    { label: "Account", value: (a) => a.account },
    { label: "Member", value: (a) => a.member },
    { label: "Status", value: (a) => words(a.status) },
    { label: "Cash", num: true, value: (a) => money(a.cash) },
    { label: "Equity", num: true, value: (a) => money(a.equity) },
    { label: "Initial margin", num: true, value: (a) => money(a.initial_margin) },
    { label: "Maintenance", num: true, value: (a) => money(a.maintenance_margin) },
    { label: "Headroom", num: true, title: "Equity above maintenance margin",
      cls: (a) => signClass(subtract(a.equity, a.maintenance_margin)),
      value: (a) => money(subtract(a.equity, a.maintenance_margin)) },
    { label: "Margin call", num: true, cls: (a) => (a.margin_call ? "down" : ""),
      value: (a) => (a.margin_call ? money(a.margin_call) : "") },
    { label: "Positions", value: (a) => Object.entries(a.positions).filter(([, q]) => q)
      .map(([s, q]) => `${s} ${signedQty(q)}`).join(", ") },
  ], accounts.slice(0, 50), {
    empty: "No accounts.",
    rowAttrs: (a) => ({ "data-account": a.account,
      class: a.margin_call ? "alert" : below(a.equity, a.initial_margin) ? "warn" : null }),
  });
}

function positionsView(accounts, settlements) {
  const interest = new Map(settlements.map((s) => [s.symbol, s.open_interest]));
  const largest = accounts.flatMap((a) => Object.entries(a.positions)
    .filter(([, q]) => q !== 0).map(([symbol, quantity]) => ({ account: a.account, symbol, quantity })))
    .sort((a, b) => Math.abs(b.quantity) - Math.abs(a.quantity)).slice(0, LARGEST);
  const open = settlements.filter((s) => s.open_interest > 0);
  return h("div", {},
    table([
      { label: "Contract", value: (s) => s.symbol },
      { label: "Open interest", num: true, value: (s) => grouped(s.open_interest) },
    ], open, { empty: "No open interest." }),
    h("h3", { text: "Largest positions" }),
    table([
      { label: "Account", value: (p) => p.account },
      { label: "Contract", value: (p) => p.symbol },
      { label: "Position", num: true, cls: (p) => (p.quantity > 0 ? "bid" : "ask"),
        value: (p) => signedQty(p.quantity) },
      { label: "Share of OI", num: true, value: (p) => share(Math.abs(p.quantity), interest.get(p.symbol)) },
    ], largest, { empty: "No positions." }));
}

function below(amount, limit) {
  return subtract(amount, limit).startsWith("-");
}

function share(part, whole) {
  return whole ? `${((100 * part) / whole).toFixed(1)} %` : "—";
}

function settlementsTable(settlements, tickers) {
  const quotes = new Map(tickers.map((t) => [t.symbol, t]));
  return table([
    { label: "Contract", value: (s) => h("a", { href: `#/contract/${s.symbol}`, text: s.symbol }) },
    { label: "Settlement", num: true, value: (s) => s.settlement_price },
    { label: "Last", num: true, value: (s) => price(quotes.get(s.symbol)?.last_price) },
    { label: "Phase", value: (s) => words(quotes.get(s.symbol)?.phase || (s.delisted ? "delisted" : "")) },
    { label: "Open interest", num: true, value: (s) => grouped(s.open_interest) },
    { label: "Last end of day", value: (s) => s.last_end_of_day || "none yet" },
  ], settlements, { empty: "No contracts.", rowAttrs: (s) => ({ "data-symbol": s.symbol }) });
}

function endOfDayView(events) {
  const done = events.find((e) => e.type === "end_of_day_completed");
  const prices = events.filter((e) => e.type === "settlement_price");
  const calls = events.filter((e) => e.type === "margin_call");
  const locked = events.filter((e) => e.type === "limit_locked");
  const summary = done
    ? `End of day ${done.date}: ${done.contracts} contracts settled, ${done.accounts} accounts marked, ` +
      `${done.margin_calls} margin calls.`
    : `${events.length} events.`;
  return h("div", { class: "eod" },
    note(summary, "ok"),
    table([
      { label: "Contract", value: (e) => e.symbol },
      { label: "Settlement", num: true, value: (e) => e.price },
      { label: "Method", value: (e) => words(e.method) },
      { label: "Volume", num: true, value: (e) => grouped(e.volume) },
      { label: "Open interest", num: true, value: (e) => grouped(e.open_interest) },
      { label: "Next limits", num: true, value: (e) => `${e.lower_limit} – ${e.upper_limit}` },
    ], prices, { empty: "No settlement prices." }),
    calls.length ? h("ul", { class: "exclusions" }, calls.map((c) =>
      h("li", {}, h("b", { text: c.account }), ` called for USD ${money(c.amount)} ` +
        `(equity ${money(c.equity)}, maintenance ${money(c.maintenance_margin)})`))) : null,
    locked.length ? h("ul", { class: "exclusions" }, locked.map((l) =>
      h("li", {}, h("b", { text: l.symbol }), ` limit-locked ${l.direction}, step ${l.step}`))) : null);
}
