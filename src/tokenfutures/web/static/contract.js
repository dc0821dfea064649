// #/contract/SYMBOL: one contract's specification and quote, its order book ladder, recent
// trades and candles, all updated live from the WebSocket.

import { get } from "./api.js";
import { candleChart } from "./charts.js";
import { fill, h, note, panel, table } from "./dom.js";
import { clock, grouped, isoSeconds, num, price, words } from "./format.js";
import { choose, defaultSymbol, digitsOf, instruments } from "./instruments.js";
import { Ladder, ownLevels } from "./ladder.js";
import { account, workingOrders } from "./session.js";

const INTERVALS = [["1m", 60], ["5m", 300], ["15m", 900], ["1h", 3600], ["1d", 86400]];
const TRADES_KEPT = 60;
const TICKER_MS = 5000;

export function mount(root, params) {
  let view = null;
  let stopped = false;
  instruments().then((list) => {
    if (stopped) return;
    const symbol = params[0] && list.some((i) => i.symbol === params[0]) ? params[0] : defaultSymbol(list);
    if (!symbol) {
      root.append(note("No contract is listed.", "error"));
      return;
    }
    choose(symbol);
    view = new ContractView(root, list, symbol);
  }).catch((error) => root.append(note(`Contracts are not available: ${error.detail}`, "error")));
  return () => {
    stopped = true;
    if (view) view.stop();
  };
}

class ContractView {
  constructor(root, list, symbol) {
    this.symbol = symbol;
    this.spec = list.find((i) => i.symbol === symbol);
    this.interval = 60;
    this.trades = [];
    this.candles = null;
    this.quote = h("div", { class: "quote", id: "quote" });
    this.tradesBox = h("div", { id: "trades" });
    this.chartBox = h("div", { class: "chart", id: "candles" });
    this.ladder = new Ladder(symbol, {
      onTrade: (trade) => this.onTrade(trade),
      ownAt: (s) => ownLevels(workingOrders(s)),
    });
    this.onOrders = () => this.ladder.refreshOwn();
    account.addEventListener("orders", this.onOrders);
    const picker = h("select", { id: "contract-select", "aria-label": "Contract",
      onchange: (event) => { location.hash = `#/contract/${event.target.value}`; } },
    list.filter((i) => !i.delisted).map((i) =>
      h("option", { value: i.symbol, selected: i.symbol === symbol, text: i.symbol })));
    const intervals = h("div", { class: "segmented" }, INTERVALS.map(([label, seconds]) =>
      h("button", { type: "button", "data-interval": seconds, class: seconds === this.interval ? "on" : null,
        onclick: (event) => this.setInterval(seconds, event.target), text: label })));
    root.append(
      h("div", { class: "contract-head" },
        picker,
        h("h1", { text: `${symbol} · ${this.spec.name}` }),
        h("a", { class: "button", href: `#/trade/${symbol}`, text: "Trade" })),
      specLine(this.spec),
      this.quote,
      h("div", { class: "row three" },
        panel("Order book", this.ladder.element, { id: "book-panel" }),
        panel("Candles (UTC)", this.chartBox, { tools: intervals, id: "candles-panel" }),
        panel("Recent trades", this.tradesBox, { id: "trades-panel" })));
    this.loadTrades();
    this.loadCandles();
    this.loadQuote();
    this.timer = setInterval(() => this.loadQuote(), TICKER_MS);
  }

  async loadQuote() {
    try {
      const found = (await get("/v1/tickers")).find((t) => t.symbol === this.symbol);
      if (found && !this.stopped) fill(this.quote, quoteLine(found));
    } catch {
      // the quote line is a convenience; the ladder and trades carry on
    }
  }

  async loadTrades() {
    try {
      const recent = await get(`/v1/trades/${this.symbol}?limit=${TRADES_KEPT}`);
      if (this.stopped) return;
      const known = new Set(this.trades.map((t) => t.trade_id));
      this.trades = [...this.trades, ...recent.filter((t) => !known.has(t.trade_id))]
        .sort((a, b) => b.trade_id - a.trade_id).slice(0, TRADES_KEPT);
      this.renderTrades();
    } catch (error) {
      fill(this.tradesBox, note(`Trades are not available: ${error.detail}`, "error"));
    }
  }

  onTrade(trade) {
    if (this.trades.some((t) => t.trade_id === trade.trade_id)) return;
    this.trades = [trade, ...this.trades].slice(0, TRADES_KEPT);
    this.renderTrades();
    this.foldIntoCandles(trade);
  }

  renderTrades() {
    fill(this.tradesBox, table([
      { label: "Time (UTC)", value: (t) => clock(t.ts) },
      { label: "Price", num: true, cls: (t) => (t.aggressor === "sell" ? "ask" : "bid"),
        value: (t) => t.price },
      { label: "Lots", num: true, value: (t) => grouped(t.quantity) },
      { label: "Aggressor", value: (t) => t.aggressor || "auction" },
    ], this.trades, { empty: "No trades yet.", rowAttrs: (t) => ({ "data-trade": t.trade_id }) }));
  }

  setInterval(seconds, button) {
    this.interval = seconds;
    for (const other of button.parentElement.children) other.classList.toggle("on", other === button);
    this.loadCandles();
  }

  async loadCandles() {
    const interval = this.interval;
    let found;
    try {
      found = await get(`/v1/candles/${this.symbol}?interval=${interval}&limit=300`);
    } catch (error) {
      fill(this.chartBox, note(`Candles are not available: ${error.detail}`, "error"));
      return;
    }
    if (interval !== this.interval || this.stopped) return;
    this.series = [[], [], [], [], [], []];
    for (const c of found) {
      this.series[0].push(isoSeconds(c.ts));
      [c.open, c.high, c.low, c.close].forEach((v, i) => this.series[i + 1].push(num(v)));
      this.series[5].push(c.volume);
    }
    if (this.candles) this.candles.destroy();
    fill(this.chartBox);
    this.candles = candleChart(this.chartBox, { interval, digits: digitsOf(this.spec) });
    this.candles.setData(this.series);
  }

  // A live trade into the last candle, or a new candle on the server's bucket grid.
  foldIntoCandles(trade) {
    if (!this.candles || !this.series) return;
    const [xs, open, high, low, close, volume] = this.series;
    const at = isoSeconds(trade.ts);
    const value = num(trade.price);
    const last = xs.length - 1;
    const start = last >= 0 ? xs[last] : Math.floor(at / this.interval) * this.interval;
    if (last >= 0 && at < start + this.interval && at >= start) {
      high[last] = Math.max(high[last], value);
      low[last] = Math.min(low[last], value);
      close[last] = value;
      volume[last] += trade.quantity;
    } else if (last < 0 || at >= start + this.interval) {
      const steps = last < 0 ? 0 : Math.floor((at - start) / this.interval);
      xs.push(start + steps * this.interval);
      open.push(value); high.push(value); low.push(value); close.push(value);
      volume.push(trade.quantity);
    } else {
      return; // older than the last candle: already counted by the server
    }
    this.candles.setData(this.series);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    account.removeEventListener("orders", this.onOrders);
    this.ladder.stop();
    if (this.candles) this.candles.destroy();
  }
}

function specLine(spec) {
  const items = [
    ["Underlying", spec.underlying],
    ["Contract", `${grouped(spec.contract_size)} ${spec.contract_unit}`],
    ["Quoted in", spec.quotation_unit],
    ["Tick", `${spec.tick_size} (${spec.currency} ${spec.tick_value})`],
    ["Last trading day", spec.last_trading_day],
    ["Daily limit", `±${spec.price_limit_pct} %`],
    ["Margin", `${spec.margin_pct} %`],
  ];
  return h("dl", { class: "facts" }, items.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
}

function quoteLine(t) {
  const items = [
    ["Phase", h("span", { class: `phase ${t.phase}`, text: words(t.phase) })],
    ["Last", price(t.last_price)],
    ["Bid", h("span", { class: "bid", text: price(t.best_bid) })],
    ["Ask", h("span", { class: "ask", text: price(t.best_ask) })],
    ["Volume", grouped(t.volume)],
    ["Open interest", grouped(t.open_interest)],
    ["Settlement", price(t.settlement_price)],
    ["Limits", `${price(t.lower_limit)} – ${price(t.upper_limit)}`],
  ];
  return h("dl", { class: "facts quote-facts" },
    items.map(([k, v]) => [h("dt", { text: k }), h("dd", { class: "num" }, v)]));
}
