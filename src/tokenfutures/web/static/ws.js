// The WebSocket /v1/ws: contracts' books and trades, and the account's private stream.
//
// The page keeps one socket for its public channels (book:SYM, trades:SYM), whichever views
// use them: a channel is subscribed when its first feed joins and unsubscribed when its last
// feed leaves, so moving between contracts swaps channels on the same socket. Messages the
// server had queued before an unsubscribe may still arrive; a channel's messages are dropped
// from its unsubscribe until the server's "unsubscribed" answer, and messages of channels no
// one has joined are dropped. A socket that drops is reopened with a growing delay (up to
// 10 s) and subscribes again to the channels in use; with none in use for a while it closes.
// The private stream has its own socket, opened at sign-in and closed at sign-out.
//
// Book: a snapshot carries seq; each delta carries prev_seq and seq, with absolute level
// quantities (0 deletes a level). A delta whose prev_seq is not the book's seq is a gap:
// the feed subscribes again and ignores deltas until the new snapshot.

import { currentCredentials, nowMs, sign, wsUrl } from "./api.js";

const PING_MS = 20000;
const MAX_DELAY_MS = 10000;
const IDLE_MS = 15000; // the public socket stays open this long with no channel in use
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

  isOpen() {
    return Boolean(this.socket) && this.socket.readyState === WebSocket.OPEN && !this.stopped;
  }

  send(message) {
    if (this.isOpen()) this.socket.send(JSON.stringify(message));
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

// The public channels in use, on one socket shared by every feed of the page.
class PublicChannels {
  constructor() {
    this.handlers = new Map(); // channel -> the handlers that joined it
    this.draining = new Map(); // channel -> its unsubscribes not yet answered
    this.unsubscribing = new Map(); // request id -> the channels it unsubscribes
    this.nextId = 1;
    this.socket = null;
    this.idle = null;
  }

  // handler(message) gets every message of these channels until leave(); a book channel
  // starts with a snapshot.
  join(channels, handler) {
    clearTimeout(this.idle);
    for (const channel of channels) {
      if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
      this.handlers.get(channel).add(handler);
    }
    if (!this.socket) {
      this.socket = new Socket("market", () => this.opened(), (m) => this.receive(m));
    } else {
      this.socket.send({ op: "subscribe", channels });
    }
  }

  leave(channels, handler) {
    const unused = [];
    for (const channel of channels) {
      const joined = this.handlers.get(channel);
      if (!joined || !joined.delete(handler) || joined.size) continue;
      this.handlers.delete(channel);
      unused.push(channel);
    }
    if (unused.length && this.socket && this.socket.isOpen()) {
      const id = this.nextId++;
      this.unsubscribing.set(id, unused);
      for (const channel of unused) this.draining.set(channel, (this.draining.get(channel) || 0) + 1);
      this.socket.send({ op: "unsubscribe", id, channels: unused });
    }
    if (!this.handlers.size) {
      clearTimeout(this.idle);
      this.idle = setTimeout(() => this.closeIfUnused(), IDLE_MS);
    }
  }

  // A new snapshot of a book already joined (after a gap).
  resubscribe(channel) {
    if (this.handlers.has(channel) && this.socket) {
      this.socket.send({ op: "subscribe", channels: [channel] });
    }
  }

  // A new connection: nothing of the old one can arrive any more.
  opened() {
    this.draining.clear();
    this.unsubscribing.clear();
    const channels = [...this.handlers.keys()];
    if (channels.length) this.socket.send({ op: "subscribe", channels });
  }

  receive(message) {
    if (message.op === "unsubscribed") {
      for (const channel of this.unsubscribing.get(message.id) || []) {
        const left = (this.draining.get(channel) || 0) - 1;
        if (left > 0) this.draining.set(channel, left);
        else this.draining.delete(channel);
      }
      this.unsubscribing.delete(message.id);
      return;
    }
    if (!message.channel || !message.symbol) return;
    const channel = `${message.channel}:${message.symbol}`;
    if (this.draining.has(channel)) return; // sent before its unsubscribe: late
    for (const handler of this.handlers.get(channel) || []) handler(message);
  }

  closeIfUnused() {
    if (this.handlers.size || !this.socket) return;
    this.socket.stop();
    this.socket = null;
    this.draining.clear();
    this.unsubscribing.clear();
  }
}

const publicChannels = new PublicChannels();

// Book snapshot + deltas and trades of one contract, until stop().
export class MarketFeed {
  constructor(symbol, { onBook = () => {}, onTrade = () => {} } = {}) {
    this.book = new Book(symbol);
    this.onBook = onBook;
    this.onTrade = onTrade;
    this.awaitingSnapshot = true;
    this.channels = [`book:${symbol}`, `trades:${symbol}`];
    this.handler = (message) => this.receive(message);
    publicChannels.join(this.channels, this.handler);
  }

  receive(message) {
    if (message.channel === "book") {
      if (message.type === "snapshot") {
        this.book.reset(message);
        this.awaitingSnapshot = false;
        this.onBook(this.book);
      } else if (!this.awaitingSnapshot) {
        if (this.book.apply(message)) {
          this.onBook(this.book);
        } else {
          this.awaitingSnapshot = true; // a gap: deltas wait for a new snapshot
          publicChannels.resubscribe(this.channels[0]);
        }
      }
    } else if (message.channel === "trades") {
      this.onTrade(message);
    }
  }

  stop() {
    publicChannels.leave(this.channels, this.handler);
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
