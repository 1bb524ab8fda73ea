// Colour scales: sequential ramps for heatmaps (lightness monotone in the value) and a
// colour-blind-safe categorical palette for bar series.

export type SequentialScale = "viridis" | "magma" | "blues";

/** Anchor colours at t = 0, 1/8, ..., 1 (matplotlib viridis/magma, ColorBrewer Blues). */
const RAMPS: Record<SequentialScale, string[]> = {
  viridis: [
    "#440154",
    "#472d7b",
    "#3b528b",
    "#2c728e",
    "#21918c",
    "#28ae80",
    "#5ec962",
    "#addc30",
    "#fde725",
  ],
  magma: [
    "#000004",
    "#1c1044",
    "#4f127b",
    "#812581",
    "#b5367a",
    "#e55064",
    "#fb8761",
    "#fec287",
    "#fcfdbf",
  ],
  blues: [
    "#f7fbff",
    "#deebf7",
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#4292c6",
    "#2171b5",
    "#08519c",
    "#08306b",
  ],
};

/** Whether luminance rises (viridis, magma: dark = low) or falls (blues: light = low) with t. */
export const RAMP_DIRECTION: Record<SequentialScale, 1 | -1> = { viridis: 1, magma: 1, blues: -1 };

export const SEQUENTIAL_SCALES = Object.keys(RAMPS) as SequentialScale[];

function parseHex(h: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
}

function toHex(rgb: number[]): string {
  return "#" +
    rgb.map((c) => Math.round(Math.min(255, Math.max(0, c))).toString(16).padStart(2, "0")).join(
      "",
    );
}

/** Colour of t in [0, 1] (clamped) on a sequential scale, linear between the anchors. */
export function colorAt(scale: SequentialScale, t: number): string {
  const ramp = RAMPS[scale];
  if (!ramp) throw new RangeError(`unknown colour scale ${JSON.stringify(scale)}`);
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (ramp.length - 1);
  const i = Math.min(ramp.length - 2, Math.floor(x));
  const f = x - i;
  const a = parseHex(ramp[i]), b = parseHex(ramp[i + 1]);
  return toHex(a.map((c, k) => c + (b[k] - c) * f));
}

/** WCAG relative luminance of a #rrggbb colour, in [0, 1]. */
export function relativeLuminance(hex: string): number {
  const [r, g, b] = parseHex(hex).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Black or white, whichever reads better on the given background. */
export function textColorOn(hex: string): string {
  return relativeLuminance(hex) > 0.33 ? "#111111" : "#ffffff";
}

/** Okabe-Ito colour-blind-safe palette (yellow last: weak on white). */
const CATEGORICAL = [
  "#0072b2",
  "#e69f00",
  "#009e73",
  "#d55e00",
  "#cc79a7",
  "#56b4e9",
  "#7f7f7f",
  "#f0e442",
];

/** Colour of series i; beyond the palette, evenly spaced hues. */
export function seriesColor(i: number): string {
  if (i < CATEGORICAL.length) return CATEGORICAL[i];
  const h = ((i - CATEGORICAL.length) * 137.508) % 360;
  return hslToHex(h, 0.55, 0.45);
}

function hslToHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return toHex([f(0), f(8), f(4)]);
}
