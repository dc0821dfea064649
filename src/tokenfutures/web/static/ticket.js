// The order ticket: limit orders good till cancelled or for the day, IOC, FOK and
// post-only. The exchange checks everything; its refusal is shown next to the field it names.

import { ApiError, privateCall } from "./api.js";
import { h } from "./dom.js";
import { grouped, words } from "./format.js";
import { noteOrder } from "./session.js";

// value -> [label, time_in_force, post_only]
const KINDS = {
  gtc: ["Limit, good till cancelled", "GTC", false],
  gfd: ["Limit, good for the day", "GFD", false],
  ioc: ["Immediate or cancel (IOC)", "IOC", false],
  fok: ["Fill or kill (FOK)", "FOK", false],
  post: ["Post-only (maker only)", "GTC", true],
};
// the exchange's field name -> the ticket's control
const FIELD_OF = { time_in_force: "kind", post_only: "kind", order_type: "kind" };

export class Ticket {
  constructor(symbols, symbol, { onSymbol = () => {} } = {}) {
    this.controls = {};
    this.errors = {};
    const control = (name, input, label) => {
      this.controls[name] = input;
      this.errors[name] = h("span", { class: "field-error", id: `error-${name}`, role: "alert" });
      input.addEventListener("input", () => { // an edited field's refusal no longer applies
        this.errors[name].textContent = "";
        input.classList.remove("invalid");
      });
      return h("label", { class: `field field-${name}` },
        h("span", { text: label }), input, this.errors[name]);
    };
    const chosen = (event) => {
      onSymbol(event.target.value);
      this.updateButton();
    };
    const symbolSelect = h("select", { name: "symbol", onchange: chosen },
      symbols.map((s) => h("option", { value: s, selected: s === symbol, text: s })));
    const side = h("div", { class: "side-toggle", role: "radiogroup" },
      ["buy", "sell"].map((s) => h("label", { class: `side ${s}` },
        h("input", { type: "radio", name: "side", value: s, checked: s === "buy",
          onchange: () => this.updateButton() }), s === "buy" ? "Buy" : "Sell")));
    this.controls.side = side;
    this.errors.side = h("span", { class: "field-error", id: "error-side", role: "alert" });
    const kind = h("select", { name: "kind", onchange: () => this.updateButton() },
      Object.entries(KINDS).map(([value, [label]]) => h("option", { value, text: label })));
    this.button = h("button", { type: "submit", class: "primary wide", id: "ticket-submit" });
    this.general = h("p", { class: "field-error", id: "error-general", role: "alert" });
    this.errors.reduce_only = h("span", { class: "field-error", id: "error-reduce_only" });
    this.result = h("p", { class: "ticket-result", id: "ticket-result", role: "status" });
    this.element = h("form", { class: "ticket", id: "ticket", novalidate: true,
      onsubmit: (e) => { e.preventDefault(); this.send(); } },
    control("symbol", symbolSelect, "Contract"),
    h("div", { class: "field" }, h("span", { text: "Side" }), side, this.errors.side),
    control("kind", kind, "Order"),
    h("div", { class: "pair" },
      control("price", h("input", { name: "price", inputmode: "decimal", autocomplete: "off",
        placeholder: "price", oninput: () => this.updateButton() }), "Price"),
      control("quantity", h("input", { name: "quantity", inputmode: "numeric", autocomplete: "off",
        value: "1", oninput: () => this.updateButton() }), "Lots")),
    control("client_order_id", h("input", { name: "client_order_id", autocomplete: "off",
      placeholder: "optional" }), "Client order id"),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "reduce_only" }), "Reduce only"),
    this.errors.reduce_only,
    this.button,
    this.general,
    this.result);
    this.updateButton();
  }

  value(name) {
    if (name === "side") return this.element.querySelector("input[name=side]:checked").value;
    return this.controls[name].value.trim();
  }

  setPrice(price) {
    this.controls.price.value = price;
    this.updateButton();
  }

  updateButton() {
    const side = this.value("side");
    const quantity = this.value("quantity") || "?";
    const price = this.value("price") || "?";
    const verb = side === "buy" ? "Buy" : "Sell";
    this.button.textContent = `${verb} ${quantity} ${this.value("symbol")} @ ${price}`;
    this.button.className = `primary wide ${side}`;
  }

  clearErrors() {
    for (const el of Object.values(this.errors)) el.textContent = "";
    this.general.textContent = "";
    for (const input of this.element.querySelectorAll(".invalid")) input.classList.remove("invalid");
  }

  body() {
    const [, timeInForce, postOnly] = KINDS[this.value("kind")];
    const quantity = this.value("quantity");
    const body = {
      symbol: this.value("symbol"),
      side: this.value("side"),
      quantity: /^\d+$/.test(quantity) ? Number(quantity) : quantity, // the exchange says why not
      time_in_force: timeInForce,
      post_only: postOnly,
      reduce_only: this.element.querySelector("input[name=reduce_only]").checked,
    };
    const price = this.value("price");
    if (price) body.price = price;
    const clientId = this.value("client_order_id");
    if (clientId) body.client_order_id = clientId;
    return body;
  }

  async send() {
    this.clearErrors();
    this.result.textContent = "";
    this.button.disabled = true;
    try {
      const answer = await privateCall("POST", "/v1/orders", this.body());
      noteOrder(answer.order);
      this.showResult(answer);
    } catch (error) {
      this.showError(error);
    } finally {
      this.button.disabled = false;
    }
  }

  showResult(answer) {
    const o = answer.order;
    const filled = o.filled_quantity
      ? `${grouped(o.filled_quantity)} filled at ${o.average_price} (average)` : "";
    const ended = [words(o.status), o.reason ? ` (${words(o.reason)})` : "", filled ? `, ${filled}` : ""];
    const outcome = {
      new: "working",
      partially_filled: `${filled}, ${grouped(o.leaves_quantity)} working`,
      filled,
    }[o.status] || ended.join("");
    const kind = `${o.time_in_force}${o.post_only ? " post-only" : ""}`;
    const what = `${o.side} ${grouped(o.quantity)} ${o.symbol} @ ${o.price} ${kind}`;
    const retry = answer.duplicate ? " (a retry: the original order)" : "";
    this.result.textContent = `Order ${o.order_id}: ${what} — ${outcome}${retry}`;
    this.result.className = `ticket-result ${o.reason ? "warn" : "ok"}`;
  }

  showError(error) {
    if (!(error instanceof ApiError)) {
      this.general.textContent = String(error);
      return;
    }
    const field = error.field ? String(error.field).split(".").pop() : null;
    const name = FIELD_OF[field] || field;
    const message = `${error.detail} (${error.reason})`;
    if (name && this.errors[name]) {
      this.errors[name].textContent = message;
      if (this.controls[name] && this.controls[name].classList) this.controls[name].classList.add("invalid");
    } else {
      this.general.textContent = error.status === 429 && error.retryAfter
        ? `${message}: retry in ${error.retryAfter} s` : message;
    }
  }
}
