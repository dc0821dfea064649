// The WebSocket /v1/ws: a contract's book and trades, and the account's private stream.
//
// Book: a snapshot carries seq; each delta carries prev_seq and seq, with absolute level
// quantities (0 deletes a level). A delta whose prev_seq is not the book's seq is a gap:
// the feed subscribes again and ignores deltas until the new snapshot. A socket that drops
// is reopened with a growing delay (up to 10 s).

import { currentCredentials, nowMs, sign, wsUrl } from "./api.js";

const PING_MS = 20000;
const MAX_DELAY_MS = 10000;
export const feedEvents = new EventTarget(); // "status" events: {detail: {name, state}}

// One socket, reopened when it drops, until stop().
class Socket {
  constructor(name, onOpen, onMessage) {
    this.name = name;
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.delay = 500;
    this.stopped = false;
    this.open();
  }

  open() {
    this.status("connecting");
    const socket = new WebSocket(wsUrl());
    this.socket = socket;
    socket.onopen = () => {
      this.delay = 500;
      this.status("live");
      this.pinger = setInterval(() => this.send({ op: "ping" }), PING_MS);
      this.onOpen();
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message);
    };
    socket.onerror = () => {}; // onclose follows and reconnects
    socket.onclose = () => {
      clearInterval(this.pinger);
      if (this.stopped) return;
      this.status("reconnecting");
      this.timer = setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    };
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  status(state) {
    feedEvents.dispatchEvent(new CustomEvent("status", { detail: { name: this.name, state } }));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    const socket = this.socket;
    if (socket) {
      socket.onmessage = null;
      // closing a socket still connecting makes the browser log a warning: close it once open
      if (socket.readyState === WebSocket.CONNECTING) socket.onopen = () => socket.close();
      else socket.close();
    }
    this.status("closed");
  }
}

// The aggregated book of one contract: price text -> quantity, per side.
export class Book {
  constructor(symbol) {
    this.symbol = symbol;
    this.seq = null;
    this.bids = new Map();
    this.asks = new Map();
  }

  reset(snapshot) {
    this.seq = snapshot.seq;
    this.bids = new Map(snapshot.bids);
    this.asks = new Map(snapshot.asks);
  }

  // false on a gap (the caller asks for a new snapshot)
  apply(delta) {
    if (this.seq === null || delta.prev_seq !== this.seq) return false;
    for (const [side, levels] of [[this.bids, delta.bids], [this.asks, delta.asks]]) {
      for (const [price, quantity] of levels) {
        if (quantity === 0) side.delete(price);
        else side.set(price, quantity);
      }
    }
    this.seq = delta.seq;
    return true;
  }

  levels(side) {
    const entries = [...(side === "bid" ? this.bids : this.asks).entries()];
    entries.sort((a, b) => (side === "bid" ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
    return entries;
  }

  best(side) {
    const top = this.levels(side)[0];
    return top ? top[0] : null;
  }
}

// Book snapshot + deltas and trades of one contract.
export class MarketFeed {
  constructor(symbol, { onBook = () => {}, onTrade = () => {} } = {}) {
    this.book = new Book(symbol);
    this.onBook = onBook;
    this.onTrade = onTrade;
    this.awaitingSnapshot = true;
    this.socket = new Socket(`market:${symbol}`, () => this.subscribe(true), (m) => this.receive(m));
  }

  subscribe(withTrades) {
    this.awaitingSnapshot = true;
    const symbol = this.book.symbol;
    const channels = withTrades ? [`book:${symbol}`, `trades:${symbol}`] : [`book:${symbol}`];
    this.socket.send({ op: "subscribe", channels });
  }

  receive(message) {
    if (message.channel === "book" && message.symbol === this.book.symbol) {
      if (message.type === "snapshot") {
        this.book.reset(message);
        this.awaitingSnapshot = false;
        this.onBook(this.book);
      } else if (!this.awaitingSnapshot) {
        if (this.book.apply(message)) this.onBook(this.book);
        else this.subscribe(false); // a gap: a new snapshot
      }
    } else if (message.channel === "trades" && message.symbol === this.book.symbol) {
      this.onTrade(message);
    }
  }

  stop() {
    this.socket.stop();
  }
}

// The signed-in account's order updates and fills (resumed by account_seq after a drop).
export class PrivateFeed {
  constructor({ onAuthenticated = () => {}, onMessage = () => {}, onError = () => {} } = {}) {
    this.lastSeq = null;
    this.onAuthenticated = onAuthenticated;
    this.onMessage = onMessage;
    this.onError = onError;
    this.socket = new Socket("account", () => this.authenticate(), (m) => this.receive(m));
  }

  async authenticate() {
    const found = currentCredentials();
    if (!found) return;
    const timestamp = nowMs();
    try {
      const signature = await sign(found.secret, timestamp, "GET", "/v1/ws", "");
      this.socket.send({ op: "auth", key: found.key, timestamp, signature });
    } catch (error) {
      this.onError({ reason: error.reason || "unsigned", detail: error.message });
    }
  }

  receive(message) {
    if (message.op === "authenticated") {
      this.onAuthenticated(message);
      const request = { op: "subscribe", channels: ["orders"] };
      if (this.lastSeq !== null) request.since = this.lastSeq;
      this.socket.send(request);
    } else if (message.op === "error") {
      this.onError(message.error || {});
    } else if (message.channel === "orders" || message.channel === "fills") {
      if (typeof message.account_seq === "number") this.lastSeq = message.account_seq;
      this.onMessage(message);
    }
  }

  stop() {
    this.socket.stop();
  }
}
