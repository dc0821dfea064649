// #/trade/SYMBOL: sign in, the order ticket beside the contract's live ladder, working
// orders (amend, cancel), positions, margin and equity, fills and the daily statement.

import { balancesBox, cancelAll, fillsTable, ordersTable, positionsTable } from "./blotter.js";
import { fill, h, note, panel } from "./dom.js";
import { choose, defaultSymbol, instruments, tradable } from "./instruments.js";
import { Ladder, ownLevels } from "./ladder.js";
import { account, signedIn, workingOrders } from "./session.js";
import { signInPanel } from "./signin.js";
import { statementPanel } from "./statement.js";
import { Ticket } from "./ticket.js";

export function mount(root, params) {
  let view = null;
  let stopped = false;
  instruments().then((list) => {
    if (stopped) return;
    const symbol = params[0] && list.some((i) => i.symbol === params[0]) ? params[0] : defaultSymbol(list);
    view = new TradeView(root, tradable(list).map((i) => i.symbol), symbol);
  }).catch((error) => root.append(note(`Contracts are not available: ${error.detail}`, "error")));
  return () => {
    stopped = true;
    if (view) view.stop();
  };
}

class TradeView {
  constructor(root, symbols, symbol) {
    this.root = root;
    this.symbols = symbols;
    this.symbol = symbol;
    this.amending = new Map();
    this.signin = signInPanel(); // the account's "change" event draws the view again
    this.listeners = [];
    this.listen("change", () => {
      this.signin.render(); // the account name and scopes
      if (signedIn() !== this.shownSignedIn) this.render();
    });
    this.listen("orders", () => this.renderOrders());
    this.listen("fills", () => this.fills && fillsTable(this.fills));
    this.listen("money", () => this.renderMoney());
    this.render();
  }

  listen(type, handler) {
    account.addEventListener(type, handler);
    this.listeners.push([type, handler]);
  }

  render() {
    this.stopLadder();
    fill(this.root, panel("Account", this.signin.element, { cls: "wide", id: "account-panel" }));
    this.orders = this.fills = this.positions = this.balances = null;
    this.shownSignedIn = signedIn();
    if (!signedIn()) {
      this.root.append(note("Sign in with an API key, or create a sandbox key, to trade.", "info"));
      return;
    }
    choose(this.symbol);
    this.ticket = new Ticket(this.symbols, this.symbol, { onSymbol: (s) => this.setSymbol(s) });
    this.ladderBox = h("div", { id: "ladder-box" });
    this.orders = h("div", { id: "orders" });
    this.fills = h("div", { id: "fills" });
    this.positions = h("div", { id: "positions" });
    this.balances = h("div", { id: "balances-box" });
    this.status = h("span", { class: "muted small", id: "orders-status" });
    const cancelAllButton = h("button", { type: "button", class: "quiet small danger", id: "cancel-all",
      onclick: () => cancelAll(this.status), text: "Cancel all" });
    this.root.append(
      h("div", { class: "row three trade-top" },
        panel("Order book", this.ladderBox, { id: "trade-book" }),
        panel("Order ticket", this.ticket.element, { id: "ticket-panel" }),
        panel("Margin and equity (USD)", this.balances, { id: "money-panel" })),
      panel("Working orders", this.orders, { cls: "wide", id: "orders-panel",
        tools: h("span", {}, this.status, cancelAllButton) }),
      h("div", { class: "row" },
        panel("Positions", this.positions, { id: "positions-panel" }),
        panel("Fills", this.fills, { id: "fills-panel" })),
      panel("Daily statement", statementPanel(), { cls: "wide", id: "statement-panel" }));
    this.startLadder();
    this.renderOrders();
    this.renderMoney();
    fillsTable(this.fills);
  }

  setSymbol(symbol) {
    this.symbol = symbol;
    choose(symbol);
    history.replaceState(null, "", `#/trade/${symbol}`);
    this.stopLadder();
    this.startLadder();
  }

  startLadder() {
    this.ladder = new Ladder(this.symbol, {
      onPick: (price) => this.ticket.setPrice(price),
      ownAt: (s) => ownLevels(workingOrders(s)),
    });
    fill(this.ladderBox, this.ladder.element);
  }

  stopLadder() {
    if (this.ladder) this.ladder.stop();
    this.ladder = null;
  }

  renderOrders() {
    if (this.ladder) this.ladder.refreshOwn();
    if (!this.orders) return;
    for (const id of this.amending.keys()) {
      if (!workingOrders().some((o) => o.order_id === id)) this.amending.delete(id);
    }
    ordersTable(this.orders, this.amending, () => this.renderOrders());
  }

  renderMoney() {
    if (this.positions) positionsTable(this.positions);
    if (this.balances) balancesBox(this.balances);
  }

  stop() {
    this.stopLadder();
    for (const [type, handler] of this.listeners) account.removeEventListener(type, handler);
  }
}
