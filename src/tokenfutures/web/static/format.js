// Display formats. Prices and money arrive as decimal strings and are shown as they are
// (grouped by thousands); numbers are parsed only to draw charts and depth bars.

export const DASH = "—";

// "1234567.50" -> "1,234,567.50"; "-1234" -> "-1,234"
export function grouped(text) {
  if (text === null || text === undefined) return DASH;
  const str = String(text);
  const negative = str.startsWith("-");
  const [whole, fraction] = (negative ? str.slice(1) : str).split(".");
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + digits + (fraction === undefined ? "" : "." + fraction);
}

export const money = grouped;

export function price(text) {
  return text === null || text === undefined ? DASH : String(text);
}

export function qty(n) {
  return n === null || n === undefined ? DASH : grouped(String(n));
}

// A signed quantity for positions: "+5", "-3".
export function signedQty(n) {
  return n > 0 ? `+${grouped(String(n))}` : grouped(String(n));
}

// For charts only: a decimal string as a JS number (never used for money arithmetic).
export function num(text) {
  return text === null || text === undefined ? null : Number(text);
}

// "2026-11-22T03:01:22.018351Z" -> "03:01:22" (UTC)
export function clock(iso) {
  return iso ? iso.slice(11, 19) : DASH;
}

// "2026-11-22T03:01:22.018351Z" -> "2026-11-22 03:01:22"
export function stamp(iso) {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : DASH;
}

// "2026-11-22" -> Unix seconds at 00:00 UTC (chart x values)
export function daySeconds(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

export function isoSeconds(iso) {
  return Date.parse(iso) / 1000;
}

export function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

// Sign of a decimal string: -1, 0 or 1 (money columns are coloured by it).
export function sign(text) {
  if (text === null || text === undefined) return 0;
  const str = String(text);
  if (str.startsWith("-")) return /[1-9]/.test(str) ? -1 : 0;
  return /[1-9]/.test(str) ? 1 : 0;
}

export function signClass(text) {
  const s = sign(text);
  return s > 0 ? "up" : s < 0 ? "down" : "";
}

// Words for the engine's reason codes: "fok_not_fillable" -> "fok not fillable".
export function words(code) {
  return code ? String(code).replaceAll("_", " ") : "";
}

export function shortHash(hex) {
  return hex ? `${hex.slice(0, 12)}…` : DASH;
}

// Exact arithmetic on decimal strings of the same contract: "2.510" - "2.505" -> "0.005".
function scaled(text, decimals) {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
  const units = BigInt(whole + fraction.padEnd(decimals, "0").slice(0, decimals));
  return negative ? -units : units;
}

function unscaled(units, decimals) {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  const cut = digits.length - decimals;
  const text = decimals ? `${digits.slice(0, cut)}.${digits.slice(cut)}` : digits;
  return negative ? `-${text}` : text;
}

export function decimalsOf(text) {
  const dot = String(text).indexOf(".");
  return dot < 0 ? 0 : String(text).length - dot - 1;
}

export function subtract(a, b) {
  const decimals = Math.max(decimalsOf(a), decimalsOf(b));
  return unscaled(scaled(a, decimals) - scaled(b, decimals), decimals);
}
