// Charts on uPlot (vendored, loaded as the global `uPlot`): time lines and candles.
// Each chart fills its container's width, follows its resizing, and writes the number of
// points it shows into the container's data-points attribute.

const uPlot = window.uPlot;
const AXIS = { stroke: "#8b98a9", grid: { stroke: "#1e2935", width: 1 }, ticks: { stroke: "#1e2935" } };
const UTC = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n) => String(n).padStart(2, "0");

// Time axis labels in UTC and 24-hour time, as coarse as the spacing of the ticks.
function timeTicks(u, splits, axis, space, increment) {
  return splits.map((ts) => {
    const d = new Date(ts * 1000);
    if (increment >= 28 * 86400) return `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
    if (increment >= 86400) return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
    return `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
  });
}
export const COLORS = ["#e6edf3", "#58a6ff", "#3fb950", "#d29922", "#bc8cff", "#f778ba", "#39c5cf"];
export const UP = "#3fb950";
export const DOWN = "#f85149";

// A y range with a little air, never flat (one price or one candle still reads).
function padded(u, min, max) {
  if (min === null || max === null) return [0, 1];
  const span = Math.max(max - min, Math.abs(max) * 0.004, 1e-6);
  return [min - span * 0.15, max + span * 0.15];
}

class Chart {
  constructor(container, options, height) {
    this.container = container;
    this.options = options;
    this.height = height;
    this.plot = null;
    this.data = null;
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
  }

  width() {
    return Math.max(240, Math.floor(this.container.clientWidth));
  }

  setData(data) {
    this.data = data;
    this.container.dataset.points = String(data[0].length);
    if (!this.plot) {
      const size = { width: this.width(), height: this.height };
      this.plot = new uPlot({ ...this.options, ...size }, data, this.container);
    } else {
      this.plot.setData(data);
    }
  }

  resize() {
    if (this.plot && this.container.clientWidth > 0) {
      this.plot.setSize({ width: this.width(), height: this.height });
    }
  }

  destroy() {
    this.resizer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

// series: [{label, color, width, dash, points}]; data: [xs (Unix s), ys1, ys2, ...]
export function lineChart(container, series, { height = 260, digits = 3, showPoints = false } = {}) {
  const options = {
    tzDate: UTC,
    scales: { x: { time: true }, y: { range: padded } },
    cursor: { drag: { x: true, y: false } },
    series: [
      { value: "{YYYY}-{MM}-{DD}" },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color || COLORS[i % COLORS.length],
        width: s.width || 1.5,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.points ?? showPoints, size: 6 },
        value: (u, v) => (v === null || v === undefined ? "—" : v.toFixed(digits)),
      })),
    ],
    axes: [{ ...AXIS, space: 80, values: timeTicks }, { ...AXIS, size: 60 }],
  };
  return new Chart(container, options, height);
}

// Candles: data [xs (Unix s of each start), open, high, low, close, volume]
export function candleChart(container, { height = 280, digits = 3, interval = 60 } = {}) {
  const hidden = (label) => ({
    label,
    paths: () => null,
    points: { show: false },
    value: (u, v) => (v === null || v === undefined ? "—" : v.toFixed(digits)),
  });
  const chart = new Chart(container, {
    tzDate: UTC,
    scales: {
      // at least 60 candles wide, so a few candles keep their shape
      x: { time: true, range: (u) => candleSpan(u.data[0], chart.interval) },
      y: { range: padded },
    },
    cursor: { drag: { x: true, y: false } },
    series: [
      { value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
      hidden("Open"), hidden("High"), hidden("Low"), hidden("Close"),
      { label: "Volume", scale: "volume", paths: () => null, points: { show: false } },
    ],
    axes: [{ ...AXIS, space: 80, values: timeTicks }, { ...AXIS, size: 60 }],
    hooks: { draw: [(u) => drawCandles(u, chart.interval)] },
  }, height);
  chart.interval = interval;
  return chart;
}

// From the data, not uPlot's guess (one candle would otherwise span a thousand days).
function candleSpan(xs, interval) {
  const last = xs.length ? xs[xs.length - 1] : Math.floor(Date.now() / 1000);
  const first = xs.length ? xs[0] : last;
  return [Math.min(first, last - 60 * interval), last + interval];
}

function drawCandles(u, interval) {
  const [xs, open, high, low, close] = u.data;
  if (!xs.length) return;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const span = Math.abs(u.valToPos(xs[0] + interval, "x", true) - u.valToPos(xs[0], "x", true));
  const body = Math.max(1, Math.min(span * 0.7, 24 * devicePixelRatio));
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  for (let i = 0; i < xs.length; i++) {
    const x = Math.round(u.valToPos(xs[i], "x", true));
    const y = (v) => Math.round(u.valToPos(v, "y", true));
    const color = close[i] >= open[i] ? UP : DOWN;
    ctx.fillStyle = color;
    ctx.fillRect(x - devicePixelRatio / 2, y(high[i]), devicePixelRatio, Math.max(1, y(low[i]) - y(high[i])));
    const yTop = y(Math.max(open[i], close[i]));
    const yBottom = y(Math.min(open[i], close[i]));
    const bodyHeight = Math.max(devicePixelRatio, yBottom - yTop);
    ctx.fillRect(Math.round(x - body / 2), yTop, Math.round(body), bodyHeight);
  }
  ctx.restore();
}
