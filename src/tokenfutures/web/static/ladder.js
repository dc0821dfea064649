// The order book ladder of one contract, live from the WebSocket: asks above (best ask
// nearest the spread), bids below, a depth bar behind each size, and the signed-in account's
// own working quantity at each price in the "Mine" column. Clicking a level picks its price.

import { h, fill } from "./dom.js";
import { qty, subtract } from "./format.js";
import { MarketFeed } from "./ws.js";

const LEVELS = 10;

export class Ladder {
  // onPick(price, side) when a level is clicked; ownAt(symbol) -> Map("bid:2.505" -> lots)
  constructor(symbol, { onPick = () => {}, onTrade = () => {}, ownAt = () => new Map() } = {}) {
    this.symbol = symbol;
    this.onPick = onPick;
    this.ownAt = ownAt;
    this.body = h("tbody");
    this.element = h("table", { class: "ladder", id: "ladder", "data-symbol": symbol },
      h("thead", {}, h("tr", {},
        h("th", { class: "num", text: "Mine" }), h("th", { class: "num", text: "Bids" }),
        h("th", { class: "num", text: "Price" }), h("th", { class: "num", text: "Asks" }),
        h("th", { class: "num", text: "Mine" }))),
      this.body);
    this.book = null;
    this.frame = null;
    this.feed = new MarketFeed(symbol, {
      onBook: (book) => {
        this.book = book;
        this.schedule();
      },
      onTrade,
    });
    fill(this.body, h("tr", { class: "empty" }, h("td", { colspan: 5, text: "Connecting…" })));
  }

  schedule() {
    if (this.frame === null) {
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        this.render();
      });
    }
  }

  render() {
    if (!this.book) return;
    const asks = this.book.levels("ask").slice(0, LEVELS).reverse();
    const bids = this.book.levels("bid").slice(0, LEVELS);
    const largest = Math.max(1, ...asks.map((l) => l[1]), ...bids.map((l) => l[1]));
    const own = this.ownAt(this.symbol);
    const rows = [
      ...asks.map(([price, size]) => this.row("ask", price, size, largest, own)),
      this.spread(asks, bids),
      ...bids.map(([price, size]) => this.row("bid", price, size, largest, own)),
    ];
    fill(this.body, rows);
    this.element.dataset.seq = String(this.book.seq);
  }

  row(side, price, size, largest, own) {
    const mine = own.get(`${side}:${price}`) || 0;
    const bar = `--depth:${Math.round((100 * size) / largest)}%`;
    const sizeCell = (forSide) => h("td", {
      class: `num size ${forSide === side ? side : ""}`,
      style: forSide === side ? bar : null,
    }, forSide === side ? qty(size) : "");
    const mineCell = (forSide) => h("td", { class: "num mine" },
      forSide === side && mine ? qty(mine) : "");
    return h("tr", { class: `level ${side}`, "data-side": side, "data-price": price,
      onclick: () => this.onPick(price, side), title: "Use this price in the ticket" },
    mineCell("bid"), sizeCell("bid"),
    h("td", { class: `num price ${side}`, text: price }),
    sizeCell("ask"), mineCell("ask"));
  }

  spread(asks, bids) {
    const bestAsk = asks.length ? asks[asks.length - 1][0] : null;
    const bestBid = bids.length ? bids[0][0] : null;
    let text = "no quotes";
    if (bestAsk && bestBid) {
      text = `spread ${subtract(bestAsk, bestBid)}`;
    } else if (bestAsk || bestBid) {
      text = bestAsk ? "no bids" : "no asks";
    }
    return h("tr", { class: "spread" }, h("td", { colspan: 5, text }));
  }

  refreshOwn() {
    this.schedule();
  }

  stop() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.feed.stop();
  }
}

// Own working quantity by side and price, for a ladder's "Mine" column.
export function ownLevels(orders) {
  const found = new Map();
  for (const order of orders) {
    if (order.price === null) continue;
    const key = `${order.side === "buy" ? "bid" : "ask"}:${order.price}`;
    found.set(key, (found.get(key) || 0) + order.leaves_quantity);
  }
  return found;
}
