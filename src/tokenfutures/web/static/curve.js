// The futures curve: each product's listed months by last trading day, with the last price
// (or the mid of the best bid and ask when nothing traded), the settlement price and the
// underlying index's latest fixing; below, the contracts with their quotes.

import { get } from "./api.js";
import { lineChart } from "./charts.js";
import { fill, h, note, panel, table } from "./dom.js";
import { daySeconds, grouped, num, price, words } from "./format.js";
import { digitsOf, instruments } from "./instruments.js";

const PRODUCTS = [["TKN", "AI token futures"], ["GPU", "GPU-hour futures"]];

export function curvePanel() {
  const charts = new Map();
  const holders = new Map(PRODUCTS.map(([code]) => [code,
    h("div", { class: "chart", id: `curve-${code}` })]));
  const rows = new Map(PRODUCTS.map(([code]) => [code,
    h("div", { class: "curve-table", id: `curve-table-${code}` })]));
  const failure = h("div");
  let indices = [];
  let stopped = false;
  const element = panel("Futures curve",
    h("div", {}, failure,
      h("div", { class: "row" }, PRODUCTS.map(([code, name]) =>
        h("div", { class: "curve" },
          h("h3", { text: `${name} (${code})` }), holders.get(code), rows.get(code))))),
    { cls: "wide", id: "curve-panel" });

  async function refresh() {
    let tickers;
    let listed;
    try {
      [tickers, listed] = await Promise.all([get("/v1/tickers"), instruments()]);
    } catch (error) {
      if (!stopped) fill(failure, note(`Quotes are not available: ${error.detail}`, "error"));
      return;
    }
    if (stopped) return;
    fill(failure);
    const specs = new Map(listed.map((i) => [i.symbol, i]));
    const live = tickers.filter((t) => !t.delisted)
      .sort((a, b) => a.product.localeCompare(b.product) ||
        a.last_trading_day.localeCompare(b.last_trading_day));
    for (const [code] of PRODUCTS) {
      const months = live.filter((t) => t.product === code);
      const spec = months.length ? specs.get(months[0].symbol) : null;
      draw(code, months, spec);
      fill(rows.get(code), quotesTable(months));
    }
  }

  function draw(code, months, spec) {
    const digits = digitsOf(spec);
    const underlying = spec ? indices.find((i) => i.index === spec.underlying) : null;
    const spot = underlying && underlying.latest ? num(underlying.latest.value) : null;
    const data = [
      months.map((t) => daySeconds(t.last_trading_day)),
      months.map((t) => num(t.settlement_price)),
      months.map((t) => lastOrMid(t)),
      months.map(() => spot),
    ];
    let chart = charts.get(code);
    if (!chart) {
      chart = lineChart(holders.get(code), [
        { label: "Settlement", color: "#8b98a9", dash: [6, 4] },
        { label: "Last / mid", color: "#58a6ff", width: 2, points: true },
        { label: spec ? `${spec.underlying} index` : "Index", color: "#d29922", dash: [2, 4] },
      ], { height: 220, digits });
      charts.set(code, chart);
    }
    chart.setData(data);
  }

  return {
    element,
    refresh,
    setIndices(found) {
      indices = found;
    },
    stop() {
      stopped = true;
      for (const chart of charts.values()) chart.destroy();
    },
  };
}

// The last trade price, else the mid of the best bid and ask, else nothing (chart value).
function lastOrMid(ticker) {
  if (ticker.last_price !== null) return num(ticker.last_price);
  if (ticker.best_bid !== null && ticker.best_ask !== null) {
    return (num(ticker.best_bid) + num(ticker.best_ask)) / 2;
  }
  return null;
}

function quotesTable(tickers) {
  return table([
    { label: "Contract", value: (t) => [h("a", { href: `#/contract/${t.symbol}`, text: t.symbol }),
      t.phase === "continuous" ? null
        : h("span", { class: `phase ${t.phase}`, text: ` ${words(t.phase)}` })] },
    { label: "Last day", value: (t) => t.last_trading_day },
    { label: "Bid", num: true, cls: () => "bid", value: (t) => price(t.best_bid) },
    { label: "Ask", num: true, cls: () => "ask", value: (t) => price(t.best_ask) },
    { label: "Last", num: true, value: (t) => price(t.last_price) },
    { label: "Settlement", num: true, value: (t) => price(t.settlement_price) },
    { label: "Volume", num: true, value: (t) => grouped(t.volume) },
    { label: "OI", num: true, title: "Open interest", value: (t) => grouped(t.open_interest) },
  ], tickers, { empty: "No contract is listed.", rowAttrs: (t) => ({ "data-symbol": t.symbol }) });
}
