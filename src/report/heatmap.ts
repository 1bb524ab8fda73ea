// Heatmap SVG (e.g. rows = layers, columns = parameter groups, values = ensemble neurons or
// attribution mass): a self-contained SVG string with a title, row/column labels, a sequential
// colour scale with a legend, and every value as a <title> tooltip on its cell. heatmapSvg reads
// as its steps: the colour domain, the layout, then labels, cells, values and legend drawn.

import { colorAt, type SequentialScale, textColorOn } from "./colors.ts";
import {
  attrs,
  chartHeader,
  escapeXml,
  fmtCoord,
  formatNumber,
  fraction,
  hashId,
  niceTicks,
  textEl,
  textWidth,
  verticalCaption,
} from "./svg.ts";

export interface HeatmapOptions {
  /** Row labels (top to bottom), e.g. layer names. */
  rows: string[];
  /** Column labels (left to right), e.g. parameter groups. */
  cols: string[];
  /** values[r][c]; NaN / non-finite (or <= 0 on a log scale) is drawn as "n/a". */
  values: number[][];
  title: string;
  /** Sequential colour scale (default viridis: dark = low, bright = high). */
  colorScale?: SequentialScale;
  /** Value-to-colour mapping (default linear). */
  scale?: "linear" | "log";
  /** Colour domain; defaults to the finite values' range. Values outside are clamped. */
  min?: number;
  max?: number;
  /** Legend caption, e.g. "neurons in ensemble". */
  legendLabel?: string;
  /** Axis captions. */
  rowTitle?: string;
  colTitle?: string;
  /** Print values in the cells (default: when cells are big enough and there are <= 400). */
  showValues?: boolean;
  formatValue?: (v: number) => string;
  cellWidth?: number;
  cellHeight?: number;
}

const FS = 12;
const MISSING_FILL = "#d9d9d9";

/** Which values get a colour, and where in [0, 1] of the scale each falls. */
interface ColorDomain {
  lo: number;
  hi: number;
  log: boolean;
  usable: (v: number) => boolean;
  /** The value's place on the colour scale, clamped to [lo, hi]. */
  t: (v: number) => number;
  /** The usable values. */
  finite: number[];
  anyMissing: boolean;
}

/** Positions and sizes of the chart's parts, in px. */
interface Layout {
  gridX: number;
  gridY: number;
  gridW: number;
  gridH: number;
  cellW: number;
  cellH: number;
  /** Column labels turned 45 degrees because they are wider than a cell. */
  rotate: boolean;
  titleH: number;
  legendX: number;
  legendH: number;
  tickLabels: { v: number; s: string }[];
  width: number;
  height: number;
  showValues: boolean;
}

/** Render a heatmap as an SVG document string. */
export function heatmapSvg(o: HeatmapOptions): string {
  checkShape(o);
  const scaleName = o.colorScale ?? "viridis";
  const fmt = o.formatValue ?? formatNumber;
  const dom = colorDomain(o);
  const lay = layout(o, dom, fmt);
  const id = "hm" +
    hashId(o.title + "\u0000" + o.rows.join("\u0001") + "\u0000" + o.cols.join("\u0001"));
  const colorOf = (v: number) => colorAt(scaleName, dom.t(v));
  return [
    ...chartHeader(lay.width, lay.height, o.title, FS),
    ...axisLabels(o, lay),
    ...cells(o, dom, lay, fmt, colorOf),
    ...(lay.showValues ? cellValues(o, dom, lay, fmt, colorOf) : []),
    ...legend(o, dom, lay, scaleName, `${id}-grad`),
    `</svg>`,
  ].join("\n") + "\n";
}

function checkShape({ rows, cols, values }: HeatmapOptions): void {
  if (values.length !== rows.length) {
    throw new RangeError(`heatmap: ${values.length} value rows for ${rows.length} row labels`);
  }
  values.forEach((r, i) => {
    if (r.length !== cols.length) {
      throw new RangeError(`heatmap: row ${i} has ${r.length} values for ${cols.length} columns`);
    }
  });
}

function colorDomain(o: HeatmapOptions): ColorDomain {
  const log = o.scale === "log";
  const usable = (v: number) => Number.isFinite(v) && (!log || v > 0);
  const finite = o.values.flat().filter(usable);
  let lo = o.min ?? (finite.length ? Math.min(...finite) : 0);
  let hi = o.max ?? (finite.length ? Math.max(...finite) : 1);
  if (log && !(lo > 0)) lo = finite.length ? Math.min(...finite) : 1;
  if (log && !(hi > 0)) hi = lo;
  if (hi < lo) [lo, hi] = [hi, lo];
  const tr = (v: number) => (log ? Math.log10(v) : v);
  return {
    lo,
    hi,
    log,
    usable,
    t: (v) => fraction(tr(Math.min(hi, Math.max(lo, v))), tr(lo), tr(hi)),
    finite,
    anyMissing: o.values.some((r) => r.some((v) => !usable(v))),
  };
}

function layout(o: HeatmapOptions, dom: ColorDomain, fmt: (v: number) => string): Layout {
  const { rows, cols } = o;
  const rowLabelW = Math.max(0, ...rows.map((r) => textWidth(r, FS))) + 10;
  const maxColW = Math.max(0, ...cols.map((c) => textWidth(c, FS)));
  const cellW = o.cellWidth ?? Math.max(34, Math.min(72, maxColW + 10));
  const cellH = o.cellHeight ?? (rows.length > 40 ? 12 : 20);
  const rotate = maxColW > cellW - 4;
  const colLabelH = rotate ? maxColW * Math.SQRT1_2 + FS + 6 : FS + 10;
  const titleH = 34;
  const colTitleH = o.colTitle ? 18 : 0;
  const rowTitleW = o.rowTitle ? 20 : 0;
  const gridX = 12 + rowTitleW + rowLabelW;
  const gridY = titleH + colTitleH + colLabelH;
  const gridW = cols.length * cellW, gridH = rows.length * cellH;
  const legendH = Math.max(120, Math.min(gridH, 260));
  const legendX = gridX + gridW + 24;
  const tickLabels = legendTicks(dom.lo, dom.hi, dom.log).map((v) => ({ v, s: fmt(v) }));
  const legendW = 14 + 8 +
    Math.max(textWidth("n/a", FS), ...tickLabels.map((t) => textWidth(t.s, FS)));
  const legendCapW = o.legendLabel ? textWidth(o.legendLabel, FS) : 0;
  // Rotated column labels run up and to the right of their column.
  const colLabelRight = gridX + (cols.length - 0.5) * cellW +
    (rotate ? maxColW * Math.SQRT1_2 : maxColW / 2);
  const width = Math.ceil(
    Math.max(
      legendX + Math.max(legendW, legendCapW) + 12,
      12 + textWidth(o.title, 15) + 12,
      colLabelRight + 12,
    ),
  );
  const legendBelow = (o.legendLabel ? 22 : 0) + (dom.anyMissing ? 24 : 0);
  const height = Math.ceil(Math.max(gridY + gridH, gridY + legendH + legendBelow) + 16);
  const showValues = o.showValues ??
    (rows.length * cols.length <= 400 && cellH >= 16 &&
      dom.finite.every((v) => textWidth(fmt(v), 10) <= cellW - 4));
  return {
    gridX,
    gridY,
    gridW,
    gridH,
    cellW,
    cellH,
    rotate,
    titleH,
    legendX,
    legendH,
    tickLabels,
    width,
    height,
    showValues,
  };
}

/** The column caption and labels above the grid, the row caption and labels left of it. */
function axisLabels(o: HeatmapOptions, lay: Layout): string[] {
  const { gridX, gridY, gridW, gridH, cellW, cellH } = lay;
  const out: string[] = [];
  if (o.colTitle) {
    out.push(textEl({
      x: gridX + gridW / 2,
      y: lay.titleH + 12,
      "text-anchor": "middle",
      fill: "#444444",
    }, o.colTitle));
  }
  o.cols.forEach((c, j) => {
    const x = gridX + (j + 0.5) * cellW, y = gridY - 6;
    const a = lay.rotate
      ? { x, y, transform: `rotate(-45 ${fmtCoord(x)} ${fmtCoord(y)})`, "text-anchor": "start" }
      : { x, y, "text-anchor": "middle" };
    out.push(textEl({ ...a, fill: "#222222" }, c));
  });
  if (o.rowTitle) out.push(verticalCaption(12 + FS, gridY + gridH / 2, o.rowTitle));
  o.rows.forEach((r, i) => {
    out.push(textEl({
      x: gridX - 6,
      y: gridY + (i + 0.5) * cellH,
      "text-anchor": "end",
      "dominant-baseline": "central",
      fill: "#222222",
    }, r));
  });
  return out;
}

/** One rectangle per value, with its tooltip; grey where the value has no colour. */
function cells(
  o: HeatmapOptions,
  dom: ColorDomain,
  lay: Layout,
  fmt: (v: number) => string,
  colorOf: (v: number) => string,
): string[] {
  const out = [`<g${attrs({ stroke: "#ffffff", "stroke-width": 1 })}>`];
  o.values.forEach((row, i) => {
    row.forEach((v, j) => {
      const ok = dom.usable(v);
      const tip = `${o.rows[i]} / ${o.cols[j]}: ${ok ? fmt(v) : `n/a (${formatNumber(v)})`}`;
      out.push(
        `<rect${
          attrs({
            x: lay.gridX + j * lay.cellW,
            y: lay.gridY + i * lay.cellH,
            width: lay.cellW,
            height: lay.cellH,
            fill: ok ? colorOf(v) : MISSING_FILL,
            "data-value": ok ? String(v) : "n/a",
          })
        }><title>${escapeXml(tip)}</title></rect>`,
      );
    });
  });
  out.push(`</g>`);
  return out;
}

/** The values printed in their cells, in a colour readable on the cell's. */
function cellValues(
  o: HeatmapOptions,
  dom: ColorDomain,
  lay: Layout,
  fmt: (v: number) => string,
  colorOf: (v: number) => string,
): string[] {
  const out = [
    `<g${
      attrs({
        "font-size": 10,
        "text-anchor": "middle",
        "dominant-baseline": "central",
        "pointer-events": "none",
      })
    }>`,
  ];
  o.values.forEach((row, i) => {
    row.forEach((v, j) => {
      if (!dom.usable(v)) return;
      out.push(textEl({
        x: lay.gridX + (j + 0.5) * lay.cellW,
        y: lay.gridY + (i + 0.5) * lay.cellH,
        fill: textColorOn(colorOf(v)),
      }, fmt(v)));
    });
  });
  out.push(`</g>`);
  return out;
}

/** The colour legend right of the grid: a vertical gradient, high at the top, with ticks. */
function legend(
  o: HeatmapOptions,
  dom: ColorDomain,
  lay: Layout,
  scaleName: SequentialScale,
  gradientId: string,
): string[] {
  const { legendX: x, gridY: y, legendH: h } = lay;
  const out = [`<defs><linearGradient${attrs({ id: gradientId, x1: 0, y1: 1, x2: 0, y2: 0 })}>`];
  for (let k = 0; k <= 16; k++) {
    out.push(
      `<stop${attrs({ offset: `${(k / 16) * 100}%`, "stop-color": colorAt(scaleName, k / 16) })}/>`,
    );
  }
  out.push(`</linearGradient></defs>`);
  if (o.legendLabel) out.push(textEl({ x, y: y + h + 16, fill: "#444444" }, o.legendLabel));
  out.push(
    `<rect${
      attrs({
        x,
        y,
        width: 14,
        height: h,
        fill: `url(#${gradientId})`,
        stroke: "#888888",
        "stroke-width": 0.5,
      })
    }/>`,
  );
  for (const t of lay.tickLabels) {
    const ty = y + h - dom.t(t.v) * h;
    out.push(
      `<line${attrs({ x1: x + 14, x2: x + 18, y1: ty, y2: ty, stroke: "#555555" })}/>`,
      textEl({ x: x + 21, y: ty, "dominant-baseline": "central", fill: "#222222" }, t.s),
    );
  }
  if (dom.anyMissing) {
    const my = y + h + (o.legendLabel ? 28 : 10);
    out.push(
      `<rect${attrs({ x, y: my, width: 14, height: 12, fill: MISSING_FILL })}/>`,
      textEl({ x: x + 21, y: my + 6, "dominant-baseline": "central", fill: "#222222" }, "n/a"),
    );
  }
  return out;
}

/** Legend tick values inside [lo, hi]: nice linear ticks, or powers of ten on a log scale. */
function legendTicks(lo: number, hi: number, log: boolean): number[] {
  if (!(hi > lo)) return [lo];
  if (log) {
    const a = Math.ceil(Math.log10(lo) - 1e-9), b = Math.floor(Math.log10(hi) + 1e-9);
    const p: number[] = [];
    for (let k = a; k <= b; k++) p.push(10 ** k);
    if (p.length >= 2) return p;
    return [lo, hi];
  }
  const t = niceTicks(lo, hi, 5);
  return t.length >= 2 ? t : [lo, hi];
}
