// #/market: the indices (latest fixings, history charts, the audit trail of a fixing) and
// the futures curve of each product.

import { get } from "./api.js";
import { lineChart } from "./charts.js";
import { curvePanel } from "./curve.js";
import { clear, fill, h, note, panel, table } from "./dom.js";
import { daySeconds, num, shortHash, words } from "./format.js";

const RANGES = [["90 d", 90], ["1 y", 365], ["3 y", 1095]];
const TICKERS_MS = 5000;

export function mount(root) {
  const view = new MarketView(root);
  return () => view.stop();
}

class MarketView {
  constructor(root) {
    this.days = 365;
    this.selected = "TKN";
    this.indices = [];
    this.charts = new Map(); // token, gpu
    this.cards = h("div", { class: "cards", id: "index-cards" }, note("Loading the indices…"));
    this.tokenChart = h("div", { class: "chart", id: "token-chart" });
    this.gpuChart = h("div", { class: "chart", id: "gpu-chart" });
    this.fixing = h("div", { id: "fixing" });
    this.curve = curvePanel();
    this.rangeButtons = h("div", { class: "segmented" }, RANGES.map(([label, days]) =>
      h("button", { type: "button", class: days === this.days ? "on" : null, "data-days": days,
        onclick: () => this.setRange(days), text: label })));
    root.append(
      panel("Indices", this.cards, { cls: "wide" }),
      h("div", { class: "row" },
        panel("AI token indices (USD per million standard tokens)", this.tokenChart,
          { tools: this.rangeButtons }),
        panel("GPU-hour indices (USD per GPU-hour)", this.gpuChart)),
      this.curve.element,
      panel("Fixing and audit trail", this.fixing, { cls: "wide", id: "fixing-panel" }));
    this.load();
    this.curve.refresh();
    this.timer = setInterval(() => this.curve.refresh(), TICKERS_MS);
  }

  async load() {
    try {
      this.indices = await get("/v1/indices");
    } catch (error) {
      fill(this.cards, note(`Indices are not available: ${error.detail}`, "error"));
      return;
    }
    if (this.stopped) return;
    this.curve.setIndices(this.indices);
    this.curve.refresh();
    this.renderCards();
    this.loadHistory();
    this.showFixing(this.selected);
  }

  renderCards() {
    const group = (kind, title) => h("div", { class: "card-group" },
      h("h3", { text: title }),
      h("div", { class: "cards-row" }, this.indices.filter((i) => i.kind === kind).map((index) =>
        indexCard(index, index.index === this.selected, () => this.showFixing(index.index)))));
    fill(this.cards, group("token", "AI tokens · USD per million standard tokens"),
      group("gpu", "GPU-hours · USD per GPU-hour"));
  }

  setRange(days) {
    this.days = days;
    for (const button of this.rangeButtons.children) {
      button.classList.toggle("on", Number(button.dataset.days) === days);
    }
    this.loadHistory();
  }

  async loadHistory() {
    const token = this.indices.filter((i) => i.kind === "token").map((i) => i.index);
    const gpu = this.indices.filter((i) => i.kind === "gpu").map((i) => i.index);
    const days = this.days;
    const histories = await Promise.all([...token, ...gpu].map((code) =>
      get(`/v1/indices/${encodeURIComponent(code)}/history?days=${days}`).catch(() => null)));
    if (this.stopped || days !== this.days) return; // left, or another range was asked for
    const byCode = new Map(histories.filter(Boolean).map((found) => [found.index, found.points]));
    this.draw("token", this.tokenChart, token, byCode, 6);
    this.draw("gpu", this.gpuChart, gpu, byCode, 4);
  }

  draw(name, container, codes, byCode, digits) {
    const data = aligned(codes.map((code) => byCode.get(code) || []));
    if (!this.charts.has(name)) {
      clear(container);
      const series = codes.map((code, i) => ({ label: code, width: i === 0 ? 2.5 : 1.5 }));
      this.charts.set(name, lineChart(container, series, { digits, showPoints: data[0].length < 30 }));
    }
    this.charts.get(name).setData(data);
  }

  async showFixing(code) {
    this.selected = code;
    this.renderCards();
    const index = this.indices.find((i) => i.index === code);
    if (!index || !index.latest) {
      fill(this.fixing, note(`${code} has no published fixing yet.`));
      return;
    }
    fill(this.fixing, note(`Loading the ${code} fixing of ${index.latest.date}…`));
    try {
      const fixing = await get(`/v1/indices/${encodeURIComponent(code)}/fixings/${index.latest.date}`);
      if (this.selected === code && !this.stopped) fill(this.fixing, auditTrail(fixing));
    } catch (error) {
      fill(this.fixing, note(`The fixing could not be loaded: ${error.detail}`, "error"));
    }
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    this.curve.stop();
    for (const chart of this.charts.values()) chart.destroy();
  }
}

function qualityBadge(quality) {
  return h("span", { class: `badge ${quality === "ok" ? "ok" : "warn"}`, text: words(quality) });
}

function indexCard(index, selected, onSelect) {
  const latest = index.latest;
  return h("button", {
    type: "button",
    class: `card ${index.kind} ${index.index === "TKN" ? "lead" : ""} ${selected ? "selected" : ""}`,
    "data-index": index.index,
    onclick: onSelect,
    title: "Show this fixing's constituents and exclusions",
  },
  h("span", { class: "card-name", text: index.index }),
  h("span", { class: "card-value num", text: latest ? latest.value : "—" }),
  h("span", { class: "card-meta" },
    latest ? [latest.date, " ", qualityBadge(latest.quality)] : "not published"));
}

// Histories [[{date, value}], ...] on one time axis: [xs, ys1, ys2, ...] with nulls.
function aligned(histories) {
  const days = [...new Set(histories.flatMap((points) => points.map((p) => p.date)))].sort();
  const position = new Map(days.map((day, i) => [day, i]));
  const columns = histories.map((points) => {
    const column = new Array(days.length).fill(null);
    for (const p of points) column[position.get(p.date)] = num(p.value);
    return column;
  });
  return [days.map(daySeconds), ...columns];
}

function auditTrail(fixing) {
  const excluded = fixing.excluded || [];
  const summary = `${fixing.index} fixed at ${fixing.value} ${fixing.unit} on ${fixing.date} ` +
    `from ${fixing.constituents.length} constituents; coverage ${fixing.coverage} %, ` +
    `best data level ${words(fixing.data_level)}; ${excluded.length} inputs left out. ` +
    `Methodology ${fixing.methodology_version}, fixing version ${fixing.version}.`;
  const constituents = table([
    { label: "Constituent", value: (c) => c.name },
    { label: "Grade", value: (c) => c.grade },
    { label: "Price", num: true, value: (c) => c.price },
    { label: "Weight %", num: true, value: (c) => c.weight },
    { label: "Providers", num: true, value: (c) => String(c.providers.length),
      title: "Independent providers quoting it" },
    { label: "Inputs", num: true, value: (c) => String(c.inputs) },
    { label: "Data level", value: (c) => words(c.data_level) },
  ], fixing.constituents, { empty: "No constituent priced.",
    rowAttrs: (c) => ({ title: `providers: ${c.providers.join(", ")}` }) });
  const exclusions = excluded.length
    ? h("ul", { class: "exclusions" }, excluded.map((e) => h("li", {},
      h("b", { text: `${e.provider} · ${e.name}` }), ` left out: ${e.reason}`,
      h("span", { class: "muted", text: ` (reported by ${e.contributor}, ${e.source})` }))))
    : note("Nothing was left out.");
  const sources = table([
    { label: "Source read", value: (s) => s.name },
    { label: "Observations", num: true, value: (s) => String(s.observations) },
    { label: "Skipped", num: true, value: (s) => String(s.skipped.length),
      title: "Inputs the source could not use" },
    { label: "SHA-256", value: (s) => h("code", { title: s.sha256, text: shortHash(s.sha256) }) },
  ], fixing.sources || []);
  const skipped = (fixing.sources || []).flatMap((s) => s.skipped.map((k) => ({ ...k, source: s.name })));
  return h("div", { class: "audit" },
    h("p", { class: "summary", text: summary }),
    h("div", { class: "row" },
      h("div", {}, h("h3", { text: "Constituents" }), constituents),
      h("div", {}, h("h3", { text: `Exclusions (${excluded.length})` }), exclusions)),
    h("h3", { text: "Sources" }), sources,
    skipped.length ? h("ul", { class: "exclusions" }, skipped.map((k) =>
      h("li", {}, h("b", { text: k.item }), ` skipped by ${k.source}: ${k.reason}`))) : null,
    h("p", { class: "muted" }, "Inputs hash ", h("code", { text: fixing.inputs_sha256 })));
}
