// Small DOM helpers: build elements, tables and messages without a framework.

// h("div", {class: "x", onclick: fn, "data-id": 3}, child, "text", [more children])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "text") {
      el.textContent = value;
    } else if (name === "value" || name === "checked" || name === "disabled") {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A panel: a titled section with optional tools on the right of the title.
export function panel(title, body, { tools = null, id = null, cls = "" } = {}) {
  return h("section", { class: `panel ${cls}`.trim(), id },
    h("div", { class: "panel-head" }, h("h2", { text: title }), tools),
    body);
}

// columns: [{label, value: row => text|Node, num: bool, cls: row => class}]
export function table(columns, rows, { empty = "Nothing to show.", rowAttrs = null } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) =>
    h("th", { class: c.num ? "num" : null, title: c.title || null, text: c.label }))));
  const body = h("tbody");
  if (!rows.length) {
    body.append(h("tr", { class: "empty" }, h("td", { colspan: columns.length, text: empty })));
  }
  for (const row of rows) {
    const attrs = rowAttrs ? rowAttrs(row) : {};
    body.append(h("tr", attrs, columns.map((c) => {
      const shown = c.value(row);
      const cls = [c.num ? "num" : "", c.cls ? c.cls(row) : ""].join(" ").trim();
      return h("td", { class: cls || null }, shown === null || shown === undefined ? "—" : shown);
    })));
  }
  return h("table", { class: "grid" }, head, body);
}

// Replace the content of el with nodes.
export function fill(el, ...nodes) {
  clear(el);
  append(el, nodes);
  return el;
}

export function note(text, kind = "info") {
  return h("p", { class: `note ${kind}`, text });
}
