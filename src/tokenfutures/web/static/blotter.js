// The account's working orders (amend, cancel), fills, positions, margin and equity.

import { ApiError, privateCall } from "./api.js";
import { fill, h, note, table } from "./dom.js";
import { clock, grouped, money, price, signClass, signedQty, words } from "./format.js";
import { noteOrder, state, workingOrders } from "./session.js";

export function ordersTable(box, amending, rerender) {
  const orders = workingOrders();
  const columns = [
    { label: "Order", num: true, value: (o) => String(o.order_id) },
    { label: "Client id", value: (o) => h("span", { class: "muted", text: o.client_order_id }) },
    { label: "Contract", value: (o) => o.symbol },
    { label: "Side", value: (o) => h("span", { class: o.side === "buy" ? "bid" : "ask", text: o.side }) },
    { label: "Price", num: true, value: (o) => price(o.price) },
    { label: "Lots", num: true, value: (o) => grouped(o.quantity) },
    { label: "Filled", num: true, value: (o) => grouped(o.filled_quantity) },
    { label: "Leaves", num: true, value: (o) => grouped(o.leaves_quantity) },
    { label: "Type", value: (o) => `${o.time_in_force}${o.post_only ? " post" : ""}` },
    { label: "Status", value: (o) => words(o.status) },
    { label: "Placed (UTC)", value: (o) => clock(o.created) },
    { label: "", value: (o) => h("span", { class: "actions" },
      h("button", { type: "button", class: "quiet small", "data-action": "amend",
        onclick: () => { amending.set(o.order_id, {}); rerender(); }, text: "Amend" }),
      h("button", { type: "button", class: "quiet small danger", "data-action": "cancel",
        onclick: (e) => cancel(o, e.target), text: "Cancel" })) },
  ];
  const grid = table(columns, orders, { empty: "No working orders.",
    rowAttrs: (o) => ({ "data-order": o.order_id, "data-symbol": o.symbol }) });
  for (const order of orders) {
    if (!amending.has(order.order_id)) continue;
    const row = grid.querySelector(`tr[data-order="${order.order_id}"]`);
    const draft = amending.get(order.order_id);
    row.after(amendRow(order, columns.length, draft, () => { amending.delete(order.order_id); rerender(); }));
  }
  fill(box, grid);
}

async function cancel(order, button) {
  button.disabled = true;
  try {
    const answer = await privateCall("DELETE", `/v1/orders/${order.order_id}`);
    noteOrder(answer.order);
  } catch (error) {
    button.disabled = false;
    button.title = error.detail;
    button.textContent = "Retry cancel";
  }
}

// FIX amend: the new quantity is the total including what has filled. What is typed is kept
// in `draft` while the table is drawn again (an order update arrives).
function amendRow(order, span, draft, done) {
  const priceInput = h("input", { name: "amend-price", value: draft.price ?? order.price ?? "",
    inputmode: "decimal", oninput: (e) => { draft.price = e.target.value; } });
  const quantityInput = h("input", { name: "amend-quantity", value: draft.quantity ?? String(order.quantity),
    inputmode: "numeric", oninput: (e) => { draft.quantity = e.target.value; } });
  const error = h("span", { class: "field-error", role: "alert", text: draft.error || "" });
  const save = async (event) => {
    event.preventDefault();
    const body = {};
    if (priceInput.value.trim() !== (order.price || "")) body.price = priceInput.value.trim();
    const q = quantityInput.value.trim();
    if (q !== String(order.quantity)) body.quantity = /^\d+$/.test(q) ? Number(q) : q;
    try {
      const answer = await privateCall("PATCH", `/v1/orders/${order.order_id}`, body);
      noteOrder(answer.order);
      done();
    } catch (refused) {
      const where = refused.field ? `${refused.field}: ` : "";
      draft.error = refused instanceof ApiError
        ? `${where}${refused.detail} (${refused.reason})` : String(refused);
      error.textContent = draft.error;
    }
  };
  return h("tr", { class: "amend-row", "data-amend": order.order_id }, h("td", { colspan: span },
    h("form", { class: "inline", novalidate: true, onsubmit: save },
      h("span", { text: `Amend order ${order.order_id}:` }),
      h("label", {}, "Price", priceInput),
      h("label", {}, "Total lots", quantityInput),
      h("button", { type: "submit", class: "primary small", text: "Save" }),
      h("button", { type: "button", class: "quiet small", onclick: done, text: "Keep" }),
      error)));
}

export async function cancelAll(status) {
  try {
    const answer = await privateCall("POST", "/v1/orders/cancel-all", {});
    status.textContent = `${answer.cancelled.length} orders cancelled.`;
  } catch (error) {
    status.textContent = error.detail;
  }
}

export function fillsTable(box) {
  fill(box, table([
    { label: "Time (UTC)", value: (f) => clock(f.ts) },
    { label: "Contract", value: (f) => f.symbol },
    { label: "Side", value: (f) => h("span", { class: f.side === "buy" ? "bid" : "ask", text: f.side }) },
    { label: "Price", num: true, value: (f) => f.price },
    { label: "Lots", num: true, value: (f) => grouped(f.quantity) },
    { label: "Liquidity", value: (f) => f.liquidity },
    { label: "Fee", num: true, value: (f) => money(f.fee) },
    { label: "Order", num: true, value: (f) => String(f.order_id) },
  ], state.fills.slice(0, 50), { empty: "No fills yet.", rowAttrs: (f) => ({ "data-trade": f.trade_id }) }));
}

export function positionsTable(box) {
  fill(box, table([
    { label: "Contract", value: (p) => h("a", { href: `#/contract/${p.symbol}`, text: p.symbol }) },
    { label: "Position", num: true, cls: (p) => (p.quantity > 0 ? "bid" : p.quantity < 0 ? "ask" : ""),
      value: (p) => signedQty(p.quantity) },
    { label: "Avg entry", num: true, value: (p) => price(p.average_entry_price) },
    { label: "Mark", num: true, value: (p) => price(p.mark_price) },
    { label: "Settlement", num: true, value: (p) => price(p.settlement_price) },
    { label: "Unrealised P&L", num: true, cls: (p) => signClass(p.unrealised_pnl),
      value: (p) => money(p.unrealised_pnl) },
    { label: "Realised P&L", num: true, cls: (p) => signClass(p.realised_pnl),
      value: (p) => money(p.realised_pnl) },
  ], state.positions.filter((p) => p.quantity !== 0 || p.realised_pnl !== "0.00"),
  { empty: "No positions.", rowAttrs: (p) => ({ "data-symbol": p.symbol, "data-quantity": p.quantity }) }));
}

export function balancesBox(box) {
  const b = state.balances;
  if (!b) {
    fill(box, note("Loading…"));
    return;
  }
  const items = [
    ["Cash", money(b.cash)],
    ["Equity", money(b.equity)],
    ["Initial margin", money(b.initial_margin)],
    ["Maintenance margin", money(b.maintenance_margin)],
    ["Free collateral", money(b.free_collateral)],
    ["Margin call", b.margin_call === null ? "none" : money(b.margin_call)],
  ];
  // a display ratio only (the amounts themselves are shown as the exchange wrote them)
  const equity = Number(b.equity);
  const used = equity > 0 ? Math.min(100, (100 * Number(b.initial_margin)) / equity) : 100;
  fill(box,
    h("dl", { class: "facts money", id: "balances" }, items.map(([k, v]) =>
      [h("dt", { text: k }),
        h("dd", { class: `num ${k === "Margin call" && b.margin_call ? "down" : ""}`, text: v })])),
    h("div", { class: "meter", title: "Initial margin as a share of equity" },
      h("span", { style: `width:${used.toFixed(1)}%` })),
    h("p", { class: "muted small", text: `Initial margin uses ${used.toFixed(1)} % of equity (USD).` }));
}
