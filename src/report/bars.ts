// Grouped bar chart SVG (e.g. groups = metrics, series = editing methods): a self-contained SVG
// string with a title, y axis with grid lines, group labels, a legend, and every value as a
// <title> tooltip on its bar. barChartSvg reads as its steps: the y scale, the layout, then the
// axis, each group's bars and label, and the legend drawn.

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
  textEl,
  textWidth,
  verticalCaption,
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

/** Positions and sizes of the chart's parts, in px, and the y scale. */
interface Layout {
  yMin: number;
  yMax: number;
  ticks: number[];
  barW: number;
  groupW: number;
  groupPad: number;
  plotX: number;
  plotY: number;
  plotW: number;
  plotH: number;
  /** Group labels turned 30 degrees because they are wider than a group. */
  rotate: boolean;
  legendX: number;
  width: number;
  height: number;
  showValues: boolean;
  /** The y coordinate of a value, clamped to the axis. */
  y: (v: number) => number;
}

/** Render a grouped bar chart as an SVG document string. */
export function barChartSvg(o: BarChartOptions): string {
  o.series.forEach((s, i) => {
    if (s.values.length !== o.groups.length) {
      throw new RangeError(
        `bar chart: series ${i} (${s.name}) has ${s.values.length} values for ${o.groups.length} groups`,
      );
    }
  });
  const fmt = o.formatValue ?? ((v: number) => formatNumber(Math.round(v * 10) / 10));
  const lay = layout(o);
  return [
    ...chartHeader(lay.width, lay.height, o.title, FS),
    ...yAxis(o, lay),
    ...o.groups.flatMap((g, gi) => group(o, lay, fmt, g, gi)),
    ...legend(o, lay),
    `</svg>`,
  ].join("\n") + "\n";
}

/** The y axis's range: the options', or nice bounds of the values that always include 0. */
function yRange(o: BarChartOptions): [number, number] {
  const finite = o.series.flatMap((s) => s.values.filter(valueOk));
  const dataMax = finite.length ? Math.max(...finite) : 0;
  const dataMin = finite.length ? Math.min(...finite) : 0;
  let yMax = o.yMax ?? niceCeil(Math.max(dataMax, 0));
  let yMin = o.yMin ?? (dataMin < 0 ? -niceCeil(-dataMin) : 0);
  if (!(yMax > yMin)) {
    yMin = Math.min(yMin, yMax);
    yMax = yMin + 1;
  }
  return [yMin, yMax];
}

function layout(o: BarChartOptions): Layout {
  const { groups, series } = o;
  const [yMin, yMax] = yRange(o);
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
  return {
    yMin,
    yMax,
    ticks,
    barW,
    groupW,
    groupPad,
    plotX,
    plotY,
    plotW,
    plotH,
    rotate,
    legendX,
    width: Math.ceil(Math.max(legendX + legendW + 12, 12 + textWidth(o.title, 15) + 12)),
    height: Math.ceil(Math.max(plotY + plotH + groupLabelH, plotY + legendH) + 12),
    showValues,
    y: (v) => plotY + plotH - fraction(Math.min(yMax, Math.max(yMin, v)), yMin, yMax) * plotH,
  };
}

/** Grid lines with their tick labels, the axis caption and the axis line. */
function yAxis(o: BarChartOptions, lay: Layout): string[] {
  const { plotX, plotY, plotW, plotH } = lay;
  const out: string[] = [];
  for (const t of lay.ticks) {
    const ty = lay.y(t);
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
      textEl({
        x: plotX - 6,
        y: ty,
        "text-anchor": "end",
        "dominant-baseline": "central",
        fill: "#444444",
      }, formatNumber(t)),
    );
  }
  if (o.yLabel) out.push(verticalCaption(12 + FS, plotY + plotH / 2, o.yLabel));
  out.push(
    `<line${attrs({ x1: plotX, x2: plotX, y1: plotY, y2: plotY + plotH, stroke: "#999999" })}/>`,
  );
  return out;
}

/** One group: a bar per series (or "n/a"), its value above it, and the group's label. */
function group(
  o: BarChartOptions,
  lay: Layout,
  fmt: (v: number) => string,
  g: string,
  gi: number,
): string[] {
  const { barW, plotX, groupW } = lay;
  const y0 = lay.y(Math.max(lay.yMin, Math.min(lay.yMax, 0)));
  const gx = plotX + gi * groupW + lay.groupPad / 2;
  const out: string[] = [];
  o.series.forEach((s, si) => {
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
    const top = Math.min(lay.y(v), y0), h = Math.abs(lay.y(v) - y0);
    const clipped = v > lay.yMax || v < lay.yMin;
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
    if (lay.showValues) {
      out.push(textEl({
        x: x + barW / 2,
        y: v >= 0 ? top - 3 : top + h + 10,
        "text-anchor": "middle",
        "font-size": 9,
        fill: "#333333",
      }, fmt(v)));
    }
  });
  const cx = plotX + (gi + 0.5) * groupW, ly = lay.plotY + lay.plotH + 16;
  const a = lay.rotate
    ? {
      x: cx,
      y: ly,
      transform: `rotate(-30 ${fmtCoord(cx)} ${fmtCoord(ly)})`,
      "text-anchor": "end",
    }
    : { x: cx, y: ly, "text-anchor": "middle" };
  out.push(textEl({ ...a, fill: "#222222" }, g));
  return out;
}

/** One swatch and name per series, right of the plot. */
function legend(o: BarChartOptions, lay: Layout): string[] {
  return o.series.flatMap((s, si) => {
    const ly = lay.plotY + si * 18;
    return [
      `<rect${attrs({ x: lay.legendX, y: ly, width: 12, height: 12, fill: seriesColor(si) })}/>`,
      textEl({
        x: lay.legendX + 18,
        y: ly + 6,
        "dominant-baseline": "central",
        fill: "#222222",
      }, s.name),
    ];
  });
}
