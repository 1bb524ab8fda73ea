// Small helpers shared by the SVG charts: escaping, number formatting, nice ticks, text width,
// and the chart's opening lines.

/** Characters XML 1.0 does not allow, and lone UTF-16 surrogates: replaced by U+FFFD. */
const INVALID_XML =
  // deno-lint-ignore no-control-regex -- these control characters are the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escape text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(INVALID_XML, "\uFFFD").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Attribute list from an object (values escaped; undefined skipped). */
export function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === "number" ? fmtCoord(v) : v!)}"`)
    .join("");
}

/** A text element: `a`'s attributes around `content`, escaped. */
export function textEl(a: Record<string, string | number | undefined>, content: string): string {
  return `<text${attrs(a)}>${escapeXml(content)}</text>`;
}

/** An axis caption turned 90 degrees anticlockwise, centred on (x, y). */
export function verticalCaption(x: number, y: number, caption: string): string {
  return textEl({
    x,
    y,
    transform: `rotate(-90 ${fmtCoord(x)} ${fmtCoord(y)})`,
    "text-anchor": "middle",
    fill: "#444444",
  }, caption);
}

/** Coordinates with at most 2 decimals. */
export function fmtCoord(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A compact human number: 3 significant digits, exponent form for very large/small. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "n/a" : v > 0 ? "∞" : "-∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(a >= 100 ? Math.max(3, Math.ceil(Math.log10(a + 1))) : 3)));
}

/** Rough rendered width of text in a sans-serif font, erring wide (DejaVu Sans ~0.6 em). */
export function textWidth(s: string, fontSize: number): number {
  let w = 0;
  for (const ch of s) {
    if (
      /[\u1100-\u11FF\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\u{1F300}-\u{1FAFF}]/u
        .test(ch)
    ) w += 1;
    else if (/[MWmw@%]/.test(ch)) w += 0.9;
    else if (/[ilj.,:;'|!I ]/.test(ch)) w += 0.33;
    else if (/[A-Z]/.test(ch)) w += 0.72;
    else w += 0.62;
  }
  return w * fontSize;
}

/** "Nice" tick values covering [lo, hi] with about count ticks (1, 2, 5 x 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  if (!Number.isFinite(hi - lo)) return [lo, hi];
  const step = niceStep((hi - lo) / Math.max(1, count));
  const start = Math.ceil(lo / step - 1e-9), end = Math.floor(hi / step + 1e-9);
  // A tick is i x step with |i| <= 1e11, so its value has at most 12 significant digits and the
  // rounding below is exact. A span narrow against its magnitude (a few ulps at 1e17, where i + 1
  // rounds back to i) or of subnormal numbers (10^-324 underflows to 0) has no such ticks: the
  // endpoints are the ticks then.
  const MAX_INDEX = 1e11;
  if (
    !(step > 0) || !(Math.abs(start) <= MAX_INDEX) || !(Math.abs(end) <= MAX_INDEX) ||
    end - start > 10 * count
  ) {
    return [lo, hi];
  }
  const out: number[] = [];
  for (let i = start; i <= end; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/** The 1/2/5 x 10^k step nearest to a raw step. */
export function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const e = raw / p;
  return (e >= 7.07 ? 10 : e >= 3.16 ? 5 : e >= 1.41 ? 2 : 1) * p;
}

/** The smallest "nice" number (1, 2, 2.5, 5 x 10^k) >= v, for axis maxima. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= v * (1 - 1e-12)) {
      return Number.isFinite(m * p) ? m * p : v;
    }
  }
  return v;
}

/** A short stable id fragment from text (FNV-1a), for gradient ids. */
export function hashId(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

export const FONT =
  "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";

/**
 * A chart's first lines: the svg element (width x height, FONT at `fontSize`), its accessible
 * title, a white background and the title drawn at the top left.
 */
export function chartHeader(
  width: number,
  height: number,
  title: string,
  fontSize: number,
): string[] {
  const svg = attrs({
    xmlns: "http://www.w3.org/2000/svg",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    "font-family": FONT,
    "font-size": fontSize,
    role: "img",
  });
  const heading = attrs({ x: 12, y: 22, "font-size": 15, "font-weight": "bold", fill: "#222222" });
  return [
    `<svg${svg}>`,
    `<title>${escapeXml(title)}</title>`,
    `<rect${attrs({ width, height, fill: "#ffffff" })}/>`,
    `<text${heading}>${escapeXml(title)}</text>`,
  ];
}

/** (v - lo) / (hi - lo) without overflow for any finite inputs (halves are exact). */
export function fraction(v: number, lo: number, hi: number): number {
  const d = hi / 2 - lo / 2;
  return d > 0 ? (v / 2 - lo / 2) / d : 0.5;
}
