// SVG charts: well-formed XML (a strict little checker below: one root, balanced tags, quoted
// attributes, no duplicate attributes, only legal characters and entity references), every label
// present (escaped), one tooltip per value, colours monotone with value, bar geometry.

import {
  deepEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import fc from "fast-check";
import { heatmapSvg } from "../../src/report/heatmap.ts";
import { barChartSvg } from "../../src/report/bars.ts";
import {
  colorAt,
  RAMP_DIRECTION,
  relativeLuminance,
  SEQUENTIAL_SCALES,
  seriesColor,
} from "../../src/report/colors.ts";
import { escapeXml, formatNumber, niceCeil, niceTicks } from "../../src/report/svg.ts";

const NAME = String.raw`[A-Za-z_:][-A-Za-z0-9_:.]*`;
const OPEN = new RegExp(
  String.raw`<(${NAME})((?:\s+${NAME}\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(/?)>`,
  "y",
);
const CLOSE = new RegExp(String.raw`</(${NAME})\s*>`, "y");
const ATTR = new RegExp(String.raw`(${NAME})\s*=\s*(?:"([^"]*)"|'([^']*)')`, "g");
const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/y;
const BAD_CHARS =
  // deno-lint-ignore no-control-regex -- these control characters are the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkEntities(text: string, where: string): void {
  for (let i = text.indexOf("&"); i !== -1; i = text.indexOf("&", i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(text)) {
      throw new Error(`${where}: bare & at ${JSON.stringify(text.slice(i, i + 12))}`);
    }
  }
}

/** Throws unless s is a well-formed XML document; returns the root name and element count. */
export function checkXml(s: string): { root: string; elements: number } {
  if (BAD_CHARS.test(s)) throw new Error("illegal XML character");
  const stack: string[] = [];
  let root = "", elements = 0, i = 0;
  while (i < s.length) {
    const lt = s.indexOf("<", i);
    const text = s.slice(i, lt === -1 ? s.length : lt);
    if (text.includes("]]>")) throw new Error("]]> in text");
    checkEntities(text, "text");
    if (stack.length === 0 && text.trim() !== "") {
      throw new Error(`text outside the root: ${text.slice(0, 20)}`);
    }
    if (lt === -1) break;
    if (s.startsWith("<!--", lt)) {
      const end = s.indexOf("-->", lt + 4);
      if (end === -1) throw new Error("unterminated comment");
      i = end + 3;
      continue;
    }
    if (s.startsWith("</", lt)) {
      CLOSE.lastIndex = lt;
      const m = CLOSE.exec(s);
      if (!m) throw new Error(`bad closing tag at ${lt}: ${s.slice(lt, lt + 30)}`);
      const top = stack.pop();
      if (top !== m[1]) throw new Error(`</${m[1]}> closes <${top}>`);
      i = CLOSE.lastIndex;
      continue;
    }
    OPEN.lastIndex = lt;
    const m = OPEN.exec(s);
    if (!m) throw new Error(`bad tag at ${lt}: ${s.slice(lt, lt + 40)}`);
    const seen = new Set<string>();
    for (const a of m[2].matchAll(ATTR)) {
      if (seen.has(a[1])) throw new Error(`duplicate attribute ${a[1]} on <${m[1]}>`);
      seen.add(a[1]);
      checkEntities(a[2] ?? a[3], `attribute ${a[1]}`);
    }
    if (stack.length === 0) {
      if (root) throw new Error("a second root element");
      root = m[1];
    }
    elements++;
    if (m[3] !== "/") stack.push(m[1]);
    i = OPEN.lastIndex;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join("> <")}>`);
  if (!root) throw new Error("no root element");
  return { root, elements };
}

/** Every geometric attribute is a finite number. */
function checkGeometry(svg: string): void {
  for (const m of svg.matchAll(/ (x|y|x1|x2|y1|y2|width|height)="([^"]*)"/g)) {
    assert(Number.isFinite(Number(m[2])), `${m[1]}="${m[2]}"`);
  }
  for (const m of svg.matchAll(/rotate\(([^)]*)\)/g)) {
    assert(m[1].split(" ").every((x) => Number.isFinite(Number(x))), m[0]);
  }
}

function unescapeXml(s: string): string {
  return s.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e as string]!,
  );
}

/** The <rect> cells/bars that carry a data-value, with their fill and tooltip. */
function valueRects(
  svg: string,
): { value: string; fill: string; tip: string; h: number; y: number }[] {
  const re = /<rect ([^>]*data-value="([^"]*)"[^>]*)><title>([^<]*)<\/title><\/rect>/g;
  return [...svg.matchAll(re)].map((m) => ({
    value: m[2],
    fill: /fill="([^"]*)"/.exec(m[1])![1],
    tip: unescapeXml(m[3]),
    h: Number(/height="([^"]*)"/.exec(m[1])![1]),
    y: Number(/ y="([^"]*)"/.exec(m[1])![1]),
  }));
}

Deno.test("the XML checker itself rejects broken documents", () => {
  checkXml(`<svg a="1"><g><t>x &amp; y</t></g><r/></svg>`);
  for (
    const bad of [
      `<svg><g></svg>`,
      `<svg></g>`,
      `<svg a=1></svg>`,
      `<svg a="1" a="2"></svg>`,
      `<svg>a & b</svg>`,
      `<svg>a < b</svg>`,
      `<svg/><svg/>`,
      `text<svg/>`,
      `<svg a="<"/>`,
      `<svg>\u0001</svg>`,
      `<svg>\uD800</svg>`,
      ``,
    ]
  ) {
    assertThrows(() => checkXml(bad), Error, bad);
  }
});

Deno.test("escapeXml escapes markup and replaces illegal characters", () => {
  assertEquals(
    escapeXml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
  assertEquals(escapeXml("a\u0000b\u001Fc\uFFFF"), "a\uFFFDb\uFFFDc\uFFFD");
  assertEquals(escapeXml("x\uD800y"), "x\uFFFDy");
  assertEquals(escapeXml("ok \uD83D\uDE00 \t\n"), "ok \uD83D\uDE00 \t\n");
});

Deno.test("colour scales are monotone in luminance and hit their ends", () => {
  for (const s of SEQUENTIAL_SCALES) {
    let prev = relativeLuminance(colorAt(s, 0));
    for (let k = 1; k <= 512; k++) {
      const l = relativeLuminance(colorAt(s, k / 512));
      assert(RAMP_DIRECTION[s] * (l - prev) >= -1e-3, `${s} not monotone at ${k / 512}`);
      prev = l;
    }
    assertEquals(colorAt(s, -3), colorAt(s, 0)); // clamped
    assertEquals(colorAt(s, 7), colorAt(s, 1));
  }
  assertEquals(colorAt("viridis", 0), "#440154");
  assertEquals(colorAt("viridis", 1), "#fde725");
  assertEquals(new Set(Array.from({ length: 20 }, (_, i) => seriesColor(i))).size, 20);
});

Deno.test("axis helpers: nice ticks and ceilings, number formatting", () => {
  assertEquals(niceTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  assertEquals(niceTicks(0, 1, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assertEquals(niceTicks(-3, 7, 5), [-2, 0, 2, 4, 6]);
  assertEquals(niceTicks(5, 5), [5]);
  // Subnormal spans have no representable nice step (10^-324 is 0): the endpoints, at once.
  assertEquals(niceTicks(-5e-324, 5e-324), [-5e-324, 5e-324]);
  assertEquals(niceTicks(0, Number.MIN_VALUE * 3), [0, Number.MIN_VALUE * 3]);
  // A span of one ulp at 1e17 has tick indices past 2^53 (i + 1 === i): the endpoints, not a loop
  // that never ends (the heatmap property found it in CI).
  assertEquals(niceTicks(1e17, 1e17 + 16), [1e17, 1e17 + 16]);
  assertEquals([niceCeil(99.98), niceCeil(100), niceCeil(0.37), niceCeil(0), niceCeil(2.2)], [
    100,
    100,
    0.5,
    1,
    2.5,
  ]);
  assertEquals(
    [
      formatNumber(0),
      formatNumber(1234),
      formatNumber(0.12345),
      formatNumber(1e-5),
      formatNumber(NaN),
    ],
    ["0", "1234", "0.123", "1e-5", "n/a"],
  );
});

/** The double k representable steps above x (k ulps; x finite, the result may be infinite). */
function ulpsAbove(x: number, k: number): number {
  const f = new Float64Array([x]), b = new BigInt64Array(f.buffer);
  if (x === 0) f[0] = 0; // -0 and 0 step up alike
  b[0] += x < 0 ? -BigInt(k) : BigInt(k);
  return f[0];
}

Deno.test("niceTicks property: any finite span, however narrow, gives few increasing ticks inside it", () => {
  fc.assert(
    fc.property(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 65, max: 2 ** 30 })),
      fc.integer({ min: 1, max: 10 }),
      (lo, ulps, count) => {
        const hi = ulpsAbove(lo, ulps);
        fc.pre(Number.isFinite(hi) && hi > lo);
        const t = niceTicks(lo, hi, count);
        assert(t.length <= 10 * count + 1, `${t.length} ticks`);
        for (let i = 1; i < t.length; i++) assert(t[i] > t[i - 1], `${t[i - 1]} then ${t[i]}`);
        const slack = (hi - lo) * 1e-9;
        assert(t.every((v) => v >= lo - slack && v <= hi + slack), `${t[0]}..${t.at(-1)}`);
      },
    ),
    { numRuns: 500 },
  );
});

const ROWS = ["layer 0", "layer 1", "layer 2"];
const COLS = ["attn.q", "attn.k", "mlp.fc_in", "mlp.fc_out"];

Deno.test("heatmap: well-formed, labelled, one tooltip per cell, legend", () => {
  const values = [[1, 2, 3, 4], [5, NaN, 7, 8], [9, 10, 11, 0]];
  const svg = heatmapSvg({
    rows: ROWS,
    cols: COLS,
    values,
    title: "Ensemble <p=1%> & more",
    legendLabel: "neurons",
    rowTitle: "layer",
    colTitle: "group",
  });
  assertEquals(checkXml(svg).root, "svg");
  assert(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  for (const l of [...ROWS, ...COLS, "neurons", "layer", "group"]) {
    assert(svg.includes(`>${escapeXml(l)}<`), l);
  }
  assert(svg.includes("Ensemble &lt;p=1%&gt; &amp; more"));
  const cells = valueRects(svg);
  assertEquals(cells.length, 12);
  assertEquals(cells[0].tip, "layer 0 / attn.q: 1");
  assertEquals(cells[5].tip, "layer 1 / attn.k: n/a (n/a)");
  assertEquals(cells[5].value, "n/a");
  assert(svg.includes(">n/a</text>")); // legend swatch for missing cells
  assert(svg.includes("<linearGradient"));
  assertThrows(() => heatmapSvg({ rows: ROWS, cols: COLS, values: [[1]], title: "t" }), RangeError);
  assertThrows(
    () => heatmapSvg({ rows: ["a"], cols: COLS, values: [[1, 2]], title: "t" }),
    RangeError,
  );
});

function checkMonotone(svg: string, scale: keyof typeof RAMP_DIRECTION): void {
  const cells = valueRects(svg).filter((c) => c.value !== "n/a").map((c) => ({
    v: Number(c.value),
    l: relativeLuminance(c.fill),
  }));
  cells.sort((a, b) => a.v - b.v);
  for (let k = 1; k < cells.length; k++) {
    const d = RAMP_DIRECTION[scale] * (cells[k].l - cells[k - 1].l);
    assert(
      d >= -2e-3,
      `${scale}: luminance not monotone between ${cells[k - 1].v} and ${cells[k].v}`,
    );
    if (cells[k].v === cells[k - 1].v) assertEquals(cells[k].l, cells[k - 1].l);
  }
}

Deno.test("heatmap property: any labels and values give well-formed, monotone SVG", () => {
  const label = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 8 }));
  const value = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
    { weight: 2, arbitrary: fc.double({ noNaN: true }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        NaN,
        Infinity,
        -Infinity,
        0,
        Number.MAX_VALUE,
        -Number.MAX_VALUE,
        Number.MIN_VALUE,
        -Number.MIN_VALUE,
      ),
    },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 6 }),
      fc.array(label, { minLength: 12, maxLength: 12 }),
      fc.array(value, { minLength: 36, maxLength: 36 }),
      fc.constantFrom(...SEQUENTIAL_SCALES),
      fc.constantFrom("linear" as const, "log" as const),
      label,
      (nr, nc, labels, flat, colorScale, scale, title) => {
        const rows = labels.slice(0, nr), cols = labels.slice(6, 6 + nc);
        const values = rows.map((_, i) => cols.map((_, j) => flat[i * 6 + j]));
        const svg = heatmapSvg({ rows, cols, values, title, colorScale, scale });
        checkXml(svg);
        checkGeometry(svg);
        for (const l of [...rows, ...cols, title]) {
          assert(svg.includes(`>${escapeXml(l)}<`), JSON.stringify(l));
        }
        assertEquals(valueRects(svg).length, nr * nc);
        checkMonotone(svg, colorScale);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("heatmap: log scale and explicit domain", () => {
  const svg = heatmapSvg({
    rows: ["a"],
    cols: ["x", "y", "z", "w"],
    values: [[1, 10, 100, -5]],
    title: "log",
    scale: "log",
  });
  const cells = valueRects(svg);
  assertEquals(cells[3].value, "n/a"); // non-positive on a log scale
  // Evenly spaced in log10: 1, 10, 100 -> t = 0, 0.5, 1.
  assertEquals(cells.slice(0, 3).map((c) => c.fill), [0, 0.5, 1].map((t) => colorAt("viridis", t)));
  const clamped = heatmapSvg({
    rows: ["a"],
    cols: ["x", "y"],
    values: [[-4, 50]],
    title: "c",
    min: 0,
    max: 10,
  });
  assertEquals(valueRects(clamped).map((c) => c.fill), [
    colorAt("viridis", 0),
    colorAt("viridis", 1),
  ]);
});

const GROUPS = ["Edit Succ.", "Generalization", "Portability", "Locality", "Fluency"];

Deno.test("bar chart: well-formed, labelled, bar heights proportional to values", () => {
  const series = [
    { name: "KNE", values: [100, 96.3, 61.2, 91, 58.1] },
    { name: "ROME & <co>", values: [96.77, 92, null, 53.67, 57.3] },
  ];
  const svg = barChartSvg({ groups: GROUPS, series, title: "ZsRE", yMax: 100, yLabel: "x100" });
  checkXml(svg);
  for (const l of [...GROUPS, "KNE", "ROME & <co>", "ZsRE", "x100"]) {
    assert(svg.includes(`>${escapeXml(l)}<`), l);
  }
  const bars = valueRects(svg);
  assertEquals(bars.length, 9); // one missing value
  assertEquals(bars[0].tip, "KNE / Edit Succ.: 100");
  assert(svg.includes("ROME &amp; &lt;co&gt; / Portability: n/a"));
  const perUnit = bars[0].h / 100;
  for (const b of bars) {
    assert(Math.abs(b.h - Number(b.value) * perUnit) < 0.02, `${b.tip}: ${b.h}`);
  }
  // All bars of the first series share its colour, the second series another.
  const fills = (prefix: string) =>
    new Set(bars.filter((b) => b.tip.startsWith(prefix)).map((b) => b.fill));
  assertEquals(fills("KNE /").size, 1);
  assertEquals(fills("ROME").size, 1);
  assert(!fills("ROME").has([...fills("KNE /")][0]));
  assertThrows(
    () => barChartSvg({ groups: GROUPS, series: [{ name: "a", values: [1] }], title: "t" }),
    RangeError,
  );
});

Deno.test("bar chart: default axis, clipping at yMax, negative values", () => {
  const auto = barChartSvg({
    groups: ["a", "b"],
    series: [{ name: "s", values: [0.37, 0.1] }],
    title: "t",
  });
  assert(auto.includes(">0.5</text>")); // nice ceiling of 0.37
  const clipped = barChartSvg({
    groups: ["a", "b"],
    series: [{ name: "s", values: [150, 50] }],
    title: "t",
    yMax: 100,
  });
  const [big, half] = valueRects(clipped);
  assert(Math.abs(big.h - 2 * half.h) < 0.02);
  assert(big.tip.endsWith("(off scale)"));
  const neg = barChartSvg({
    groups: ["a", "b"],
    series: [{ name: "s", values: [-2, 4] }],
    title: "t",
  });
  checkXml(neg);
  const [down, up] = valueRects(neg);
  assert(Math.abs(down.h * 2 - up.h) < 0.02);
  assert(down.y >= up.y + up.h - 0.01); // the negative bar hangs below the zero line
});

Deno.test("bar chart property: any labels and values give well-formed SVG", () => {
  const label = fc.oneof(fc.string({ maxLength: 16 }), fc.string({ unit: "binary", maxLength: 8 }));
  const value = fc.oneof(
    fc.double({ min: -1e4, max: 1e4, noNaN: true }),
    fc.double(),
    fc.constantFrom(null, undefined, NaN, Infinity, Number.MAX_VALUE, -Number.MAX_VALUE),
  );
  fc.assert(
    fc.property(
      fc.array(label, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(label, fc.array(value, { minLength: 6, maxLength: 6 })), {
        minLength: 1,
        maxLength: 9,
      }),
      label,
      fc.option(fc.double({ min: 1, max: 1e4, noNaN: true }), { nil: undefined }),
      (groups, ser, title, yMax) => {
        const series = ser.map(([name, vs]) => ({ name, values: vs.slice(0, groups.length) }));
        const svg = barChartSvg({ groups, series, title, yMax });
        checkXml(svg);
        checkGeometry(svg);
        for (const l of [...groups, ...series.map((s) => s.name), title]) {
          assert(svg.includes(`>${escapeXml(l)}<`), JSON.stringify(l));
        }
        const finite = series.flatMap((s) =>
          s.values.filter((v) => typeof v === "number" && Number.isFinite(v))
        );
        assertEquals(valueRects(svg).length, finite.length);
      },
    ),
    { numRuns: 150 },
  );
});

// Writes example charts for a person to look at; it checks nothing, so it runs only when asked:
// KNE_SVG_OUT=/tmp/x deno test -A tests/report/svg_test.ts
Deno.test({
  name: "example charts render to files (for viewing; KNE_SVG_OUT=DIR)",
  ignore: !Deno.env.get("KNE_SVG_OUT"),
  fn: async () => {
    const dir = Deno.env.get("KNE_SVG_OUT")!;
    const values = Array.from(
      { length: 12 },
      (_, i) => COLS.map((_, j) => Math.round(100 * Math.exp(-((i - 6) ** 2) / 8) * (j + 1) / 4)),
    );
    await Deno.writeTextFile(
      `${dir}/heatmap.svg`,
      heatmapSvg({
        rows: values.map((_, i) => `layer ${i}`),
        cols: COLS,
        values,
        title: "Ensemble neurons per layer",
        legendLabel: "neurons",
      }),
    );
    await Deno.writeTextFile(
      `${dir}/bars.svg`,
      barChartSvg({
        groups: GROUPS,
        series: [{ name: "KNE", values: [100, 96, 61, 91, 58] }, {
          name: "ROME",
          values: [97, 92, 53, 54, 57],
        }],
        title: "Methods",
        yMax: 100,
      }),
    );
  },
});
