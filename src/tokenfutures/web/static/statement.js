// The account's daily statement of one end of day (GET /v1/statements/{day}).

import { privateGet } from "./api.js";
import { fill, h, note, table } from "./dom.js";
import { grouped, money, price, signClass, signedQty, stamp } from "./format.js";

// The trading day in Shanghai (the exchange's calendar), as YYYY-MM-DD.
export function tradingDay() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

export function statementPanel() {
  const output = h("div", { id: "statement" });
  const day = h("input", { type: "date", name: "statement-day", value: tradingDay() });
  const load = async (event) => {
    event.preventDefault();
    fill(output, note("Loading…"));
    try {
      fill(output, statementView(await privateGet(`/v1/statements/${day.value}`)));
    } catch (error) {
      fill(output, note(error.status === 404
        ? `No statement for ${day.value}: the end of day has not run for it.` : error.detail,
      error.status === 404 ? "info" : "error"));
    }
  };
  return h("div", {},
    h("form", { class: "inline", novalidate: true, onsubmit: load },
      h("label", {}, "Trading day", day), h("button", { type: "submit", text: "Show statement" })),
    output);
}

function statementView(s) {
  const lines = [
    ["Opening balance", s.opening_balance], ["Deposits", s.deposits], ["Withdrawals", s.withdrawals],
    ["Fees", s.fees], ["Variation margin", s.variation_margin], ["Final settlement", s.final_settlement],
    ["Default transfers", s.default_transfers], ["Closing balance", s.closing_balance],
    ["Equity", s.equity], ["Initial margin", s.initial_margin],
    ["Maintenance margin", s.maintenance_margin], ["Free collateral", s.free_collateral],
    ["Margin call", s.margin_call],
  ];
  return h("div", { class: "statement" },
    h("h3", { text: `Statement of ${s.account}, trading day ${s.date} (USD)` }),
    h("dl", { class: "facts money" }, lines.map(([k, v]) =>
      [h("dt", { text: k }),
        h("dd", { class: `num ${k === "Variation margin" ? signClass(v) : ""}`, text: money(v) })])),
    h("h3", { text: "Trades" }),
    table([
      { label: "Time (UTC)", value: (t) => stamp(t.ts) },
      { label: "Trade", num: true, value: (t) => String(t.trade_id) },
      { label: "Contract", value: (t) => t.symbol },
      { label: "Side", value: (t) => t.side },
      { label: "Lots", num: true, value: (t) => grouped(t.quantity) },
      { label: "Price", num: true, value: (t) => t.price },
      { label: "Fee", num: true, value: (t) => money(t.fee) },
    ], s.trades, { empty: "No trades that day." }),
    h("h3", { text: "Positions at settlement" }),
    table([
      { label: "Contract", value: (p) => p.symbol },
      { label: "Position", num: true, value: (p) => signedQty(p.quantity) },
      { label: "Avg entry", num: true, value: (p) => price(p.average_entry_price) },
      { label: "Settlement", num: true, value: (p) => p.settlement_price },
      { label: "Unrealised P&L", num: true, cls: (p) => signClass(p.unrealised_pnl),
        value: (p) => money(p.unrealised_pnl) },
    ], s.positions, { empty: "No open positions." }));
}
