// Heatmap SVG (e.g. rows = layers, columns = parameter groups, values = ensemble neurons or
// attribution mass): a self-contained SVG string with a title, row/column labels, a sequential
// colour scale with a legend, and every value as a <title> tooltip on its cell.

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
  textWidth,
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

/** Render a heatmap as an SVG document string. */
export function heatmapSvg(o: HeatmapOptions): string {
  const { rows, cols, values } = o;
  if (values.length !== rows.length) {
    throw new RangeError(`heatmap: ${values.length} value rows for ${rows.length} row labels`);
  }
  values.forEach((r, i) => {
    if (r.length !== cols.length) {
      throw new RangeError(`heatmap: row ${i} has ${r.length} values for ${cols.length} columns`);
    }
  });
  const scaleName = o.colorScale ?? "viridis";
  const log = o.scale === "log";
  const fmt = o.formatValue ?? formatNumber;
  const usable = (v: number) => Number.isFinite(v) && (!log || v > 0);
  const finite = values.flat().filter(usable);
  let lo = o.min ?? (finite.length ? Math.min(...finite) : 0);
  let hi = o.max ?? (finite.length ? Math.max(...finite) : 1);
  if (log && !(lo > 0)) lo = finite.length ? Math.min(...finite) : 1;
  if (log && !(hi > 0)) hi = lo;
  if (hi < lo) [lo, hi] = [hi, lo];
  const tr = (v: number) => (log ? Math.log10(v) : v);
  const tOf = (v: number) => fraction(tr(Math.min(hi, Math.max(lo, v))), tr(lo), tr(hi));
  const anyMissing = values.some((r) => r.some((v) => !usable(v)));

  // Layout.
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
  const tickLabels = legendTicks(lo, hi, log).map((v) => ({ v, s: fmt(v) }));
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
  const legendBelow = (o.legendLabel ? 22 : 0) + (anyMissing ? 24 : 0);
  const height = Math.ceil(Math.max(gridY + gridH, gridY + legendH + legendBelow) + 16);
  const id = "hm" +
    hashId(o.title + "\u0000" + rows.join("\u0001") + "\u0000" + cols.join("\u0001"));
  const showValues = o.showValues ??
    (rows.length * cols.length <= 400 && cellH >= 16 &&
      finite.every((v) => textWidth(fmt(v), 10) <= cellW - 4));

  const out = chartHeader(width, height, o.title, FS);
  // Column labels.
  if (o.colTitle) {
    out.push(
      `<text${
        attrs({ x: gridX + gridW / 2, y: titleH + 12, "text-anchor": "middle", fill: "#444444" })
      }>${escapeXml(o.colTitle)}</text>`,
    );
  }
  cols.forEach((c, j) => {
    const x = gridX + (j + 0.5) * cellW, y = gridY - 6;
    const a = rotate
      ? { x, y, transform: `rotate(-45 ${fmtCoord(x)} ${fmtCoord(y)})`, "text-anchor": "start" }
      : { x, y, "text-anchor": "middle" };
    out.push(`<text${attrs({ ...a, fill: "#222222" })}>${escapeXml(c)}</text>`);
  });
  // Row labels.
  if (o.rowTitle) {
    const x = 12 + FS, y = gridY + gridH / 2;
    out.push(
      `<text${
        attrs({
          x,
          y,
          transform: `rotate(-90 ${fmtCoord(x)} ${fmtCoord(y)})`,
          "text-anchor": "middle",
          fill: "#444444",
        })
      }>${escapeXml(o.rowTitle)}</text>`,
    );
  }
  rows.forEach((r, i) => {
    out.push(
      `<text${
        attrs({
          x: gridX - 6,
          y: gridY + (i + 0.5) * cellH,
          "text-anchor": "end",
          "dominant-baseline": "central",
          fill: "#222222",
        })
      }>${escapeXml(r)}</text>`,
    );
  });
  // Cells.
  out.push(`<g${attrs({ stroke: "#ffffff", "stroke-width": 1 })}>`);
  values.forEach((row, i) => {
    row.forEach((v, j) => {
      const ok = usable(v);
      const fill = ok ? colorAt(scaleName, tOf(v)) : "#d9d9d9";
      const tip = `${rows[i]} / ${cols[j]}: ${ok ? fmt(v) : `n/a (${formatNumber(v)})`}`;
      out.push(
        `<rect${
          attrs({
            x: gridX + j * cellW,
            y: gridY + i * cellH,
            width: cellW,
            height: cellH,
            fill,
            "data-value": ok ? String(v) : "n/a",
          })
        }><title>${escapeXml(tip)}</title></rect>`,
      );
    });
  });
  out.push(`</g>`);
  if (showValues) {
    out.push(
      `<g${
        attrs({
          "font-size": 10,
          "text-anchor": "middle",
          "dominant-baseline": "central",
          "pointer-events": "none",
        })
      }>`,
    );
    values.forEach((row, i) => {
      row.forEach((v, j) => {
        if (!usable(v)) return;
        const fill = textColorOn(colorAt(scaleName, tOf(v)));
        out.push(
          `<text${attrs({ x: gridX + (j + 0.5) * cellW, y: gridY + (i + 0.5) * cellH, fill })}>${
            escapeXml(fmt(v))
          }</text>`,
        );
      });
    });
    out.push(`</g>`);
  }
  // Legend: a vertical gradient, high at the top.
  const gid = `${id}-grad`;
  out.push(`<defs><linearGradient${attrs({ id: gid, x1: 0, y1: 1, x2: 0, y2: 0 })}>`);
  for (let k = 0; k <= 16; k++) {
    out.push(
      `<stop${attrs({ offset: `${(k / 16) * 100}%`, "stop-color": colorAt(scaleName, k / 16) })}/>`,
    );
  }
  out.push(`</linearGradient></defs>`);
  const ly = gridY;
  if (o.legendLabel) {
    out.push(
      `<text${attrs({ x: legendX, y: ly + legendH + 16, fill: "#444444" })}>${
        escapeXml(o.legendLabel)
      }</text>`,
    );
  }
  out.push(
    `<rect${
      attrs({
        x: legendX,
        y: ly,
        width: 14,
        height: legendH,
        fill: `url(#${gid})`,
        stroke: "#888888",
        "stroke-width": 0.5,
      })
    }/>`,
  );
  for (const t of tickLabels) {
    const y = ly + legendH - tOf(t.v) * legendH;
    out.push(
      `<line${attrs({ x1: legendX + 14, x2: legendX + 18, y1: y, y2: y, stroke: "#555555" })}/>`,
      `<text${attrs({ x: legendX + 21, y, "dominant-baseline": "central", fill: "#222222" })}>${
        escapeXml(t.s)
      }</text>`,
    );
  }
  if (anyMissing) {
    const y = ly + legendH + (o.legendLabel ? 28 : 10);
    out.push(
      `<rect${attrs({ x: legendX, y, width: 14, height: 12, fill: "#d9d9d9" })}/>`,
      `<text${
        attrs({ x: legendX + 21, y: y + 6, "dominant-baseline": "central", fill: "#222222" })
      }>n/a</text>`,
    );
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
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
