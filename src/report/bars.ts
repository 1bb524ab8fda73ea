// Grouped bar chart SVG (e.g. groups = metrics, series = editing methods): a self-contained SVG
// string with a title, y axis with grid lines, group labels, a legend, and every value as a
// <title> tooltip on its bar.

import { seriesColor } from "./colors.ts";
import {
  attrs,
  chartHeader,
  escapeXml,
  fmtCoord,
  formatNumber,
  fraction,
  niceCeil,
  niceTicks,
  textWidth,
} from "./svg.ts";

export interface BarSeries {
  name: string;
  /** One value per group; null / undefined / NaN draws no bar ("n/a"). */
  values: (number | null | undefined)[];
}

export interface BarChartOptions {
  /** Group labels along the x axis, e.g. metric names. */
  groups: string[];
  series: BarSeries[];
  title: string;
  /** Top of the y axis; default a nice ceiling of the largest value (e.g. 100 for percents). */
  yMax?: number;
  /** Bottom of the y axis; default min(0, nice floor of the smallest value). */
  yMin?: number;
  yLabel?: string;
  /** Print values above the bars (default: when bars are at least 18 px wide). */
  showValues?: boolean;
  formatValue?: (v: number) => string;
  /** Plot area height in px (default 260). */
  plotHeight?: number;
  /** Bar width in px (default from the number of series, 14..40). */
  barWidth?: number;
}

const FS = 12;

function valueOk(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** Render a grouped bar chart as an SVG document string. */
export function barChartSvg(o: BarChartOptions): string {
  const { groups, series } = o;
  series.forEach((s, i) => {
    if (s.values.length !== groups.length) {
      throw new RangeError(
        `bar chart: series ${i} (${s.name}) has ${s.values.length} values for ${groups.length} groups`,
      );
    }
  });
  const fmt = o.formatValue ?? ((v: number) => formatNumber(Math.round(v * 10) / 10));
  const finite = series.flatMap((s) => s.values.filter(valueOk));
  const dataMax = finite.length ? Math.max(...finite) : 0;
  const dataMin = finite.length ? Math.min(...finite) : 0;
  let yMax = o.yMax ?? niceCeil(Math.max(dataMax, 0));
  let yMin = o.yMin ?? (dataMin < 0 ? -niceCeil(-dataMin) : 0);
  if (!(yMax > yMin)) {
    yMin = Math.min(yMin, yMax);
    yMax = yMin + 1;
  }
  const nS = Math.max(1, series.length);
  const barW = o.barWidth ?? Math.max(14, Math.min(40, Math.floor(160 / nS)));
  const groupPad = Math.max(16, barW);
  const groupW = nS * barW + groupPad;
  const plotH = o.plotHeight ?? 260;
  const showValues = o.showValues ?? barW >= 18;

  const ticks = niceTicks(yMin, yMax, 5);
  const tickW = Math.max(...ticks.map((t) => textWidth(formatNumber(t), FS)), 0);
  const yLabelW = o.yLabel ? 20 : 0;
  const maxGroupW = Math.max(0, ...groups.map((g) => textWidth(g, FS)));
  const rotate = maxGroupW > groupW - 4;
  // Rotated (-30 deg, anchored at their end) group labels run down and to the left.
  const COS30 = Math.cos(Math.PI / 6);
  const plotX = Math.max(
    12 + yLabelW + tickW + 10,
    rotate ? 12 + maxGroupW * COS30 - groupW / 2 : 0,
  );
  const titleH = 34;
  const plotY = titleH + (showValues ? 14 : 6);
  const plotW = Math.max(groups.length, 1) * groupW;
  const groupLabelH = rotate ? maxGroupW / 2 + FS + 10 : FS + 12;
  const legendX = plotX + plotW + 20;
  const legendW = 22 + Math.max(0, ...series.map((s) => textWidth(s.name, FS)));
  const legendH = series.length * 18;
  const width = Math.ceil(Math.max(legendX + legendW + 12, 12 + textWidth(o.title, 15) + 12));
  const height = Math.ceil(Math.max(plotY + plotH + groupLabelH, plotY + legendH) + 12);
  const y = (v: number) =>
    plotY + plotH - fraction(Math.min(yMax, Math.max(yMin, v)), yMin, yMax) * plotH;
  const y0 = y(Math.max(yMin, Math.min(yMax, 0)));

  const out = chartHeader(width, height, o.title, FS);
  // Y axis: grid lines and tick labels.
  for (const t of ticks) {
    const ty = y(t);
    out.push(
      `<line${
        attrs({
          x1: plotX,
          x2: plotX + plotW,
          y1: ty,
          y2: ty,
          stroke: t === 0 ? "#999999" : "#e5e5e5",
        })
      }/>`,
      `<text${
        attrs({
          x: plotX - 6,
          y: ty,
          "text-anchor": "end",
          "dominant-baseline": "central",
          fill: "#444444",
        })
      }>${escapeXml(formatNumber(t))}</text>`,
    );
  }
  if (o.yLabel) {
    const x = 12 + FS, cy = plotY + plotH / 2;
    out.push(
      `<text${
        attrs({
          x,
          y: cy,
          transform: `rotate(-90 ${fmtCoord(x)} ${fmtCoord(cy)})`,
          "text-anchor": "middle",
          fill: "#444444",
        })
      }>${escapeXml(o.yLabel)}</text>`,
    );
  }
  out.push(
    `<line${attrs({ x1: plotX, x2: plotX, y1: plotY, y2: plotY + plotH, stroke: "#999999" })}/>`,
  );
  // Bars.
  groups.forEach((g, gi) => {
    const gx = plotX + gi * groupW + groupPad / 2;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const x = gx + si * barW;
      if (!valueOk(v)) {
        out.push(
          `<text${
            attrs({
              x: x + barW / 2,
              y: y0 - 4,
              "text-anchor": "middle",
              "font-size": 9,
              fill: "#999999",
            })
          }>n/a<title>${escapeXml(`${s.name} / ${g}: n/a`)}</title></text>`,
        );
        return;
      }
      const top = Math.min(y(v), y0), h = Math.abs(y(v) - y0);
      const clipped = v > yMax || v < yMin;
      out.push(
        `<rect${
          attrs({
            x: x + 1,
            y: top,
            width: barW - 2,
            height: h,
            fill: seriesColor(si),
            "data-value": String(v),
          })
        }><title>${
          escapeXml(`${s.name} / ${g}: ${fmt(v)}${clipped ? " (off scale)" : ""}`)
        }</title></rect>`,
      );
      if (showValues) {
        const ly = v >= 0 ? top - 3 : top + h + 10;
        out.push(
          `<text${
            attrs({
              x: x + barW / 2,
              y: ly,
              "text-anchor": "middle",
              "font-size": 9,
              fill: "#333333",
            })
          }>${escapeXml(fmt(v))}</text>`,
        );
      }
    });
    // Group label.
    const cx = plotX + (gi + 0.5) * groupW, ly = plotY + plotH + 16;
    const a = rotate
      ? {
        x: cx,
        y: ly,
        transform: `rotate(-30 ${fmtCoord(cx)} ${fmtCoord(ly)})`,
        "text-anchor": "end",
      }
      : { x: cx, y: ly, "text-anchor": "middle" };
    out.push(`<text${attrs({ ...a, fill: "#222222" })}>${escapeXml(g)}</text>`);
  });
  // Legend.
  series.forEach((s, si) => {
    const ly = plotY + si * 18;
    out.push(
      `<rect${attrs({ x: legendX, y: ly, width: 12, height: 12, fill: seriesColor(si) })}/>`,
      `<text${
        attrs({ x: legendX + 18, y: ly + 6, "dominant-baseline": "central", fill: "#222222" })
      }>${escapeXml(s.name)}</text>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
