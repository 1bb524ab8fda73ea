// safetensors reader/writer: round trips with reference rounding, every validation error on a
// hand-made bad file, and a mutation fuzz test (open either succeeds consistently or throws
// SafetensorsError, never anything else, never hangs).

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  f16BitsToF32Bits,
  f32ToBf16Bits,
  f32ToF16Bits,
  openSafetensors,
  SafetensorsError,
  safetensorsFromBytes,
  type TensorToWrite,
  writeSafetensors,
} from "../../src/io/safetensors.ts";

const dir = await Deno.makeTempDir({ prefix: "kne-st-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
let fileNo = 0;
const tmpPath = () => `${dir}/f${fileNo++}.safetensors`;

// ---- float64 reference roundings (independent of the bit tricks under test) ----

/** Nearest value with `mbits` explicit mantissa bits and minimum exponent `emin`, ties to even. */
function roundRef(x: number, mbits: number, emin: number, overflow: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  e = Math.max(e, emin);
  const ulp = 2 ** (e - mbits);
  const q = a / ulp; // exact: a power-of-two scaling
  const fl = Math.floor(q);
  const r = q - fl;
  const m = r > 0.5 ? fl + 1 : r < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  const v = m * ulp;
  return Math.sign(x) * (v >= overflow ? Infinity : v);
}
const bf16Ref = (x: number) => roundRef(Math.fround(x), 7, -126, 2 ** 128);
const f16Ref = (x: number) => roundRef(Math.fround(x), 10, -14, 2 ** 16);

function sameFloat(a: number, b: number): boolean {
  return Number.isNaN(a) ? Number.isNaN(b) : Object.is(a, b);
}

function assertSameFloats(got: Float32Array, want: ArrayLike<number>, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!sameFloat(got[i], want[i])) {
      assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
    }
  }
}

Deno.test("reference roundings agree with Math.f16round (sanity of the test itself)", () => {
  const f16round = (Math as unknown as { f16round: (x: number) => number }).f16round;
  fc.assert(
    fc.property(fc.float(), (x) => sameFloat(f16Ref(x), f16round(x))),
    { numRuns: 20000 },
  );
});

Deno.test("f32 -> f16 / bf16 rounding matches the float64 reference on random bit patterns", () => {
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const h = new Uint32Array(1), hf = new Float32Array(h.buffer);
  // Random patterns, plus patterns built to sit exactly on (or one step off) a rounding tie
  // for every possible shift, with exponents around float16's range.
  const tieBits = fc.tuple(
    fc.boolean(),
    fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 98, max: 146 })),
    fc.integer({ min: 0, max: 0x7fffff }),
    fc.integer({ min: 0, max: 22 }),
    fc.constantFrom(0, 1, -1),
  ).map(([neg, exp, rand, k, delta]) => {
    const lowMask = (2 << k) - 1;
    const man = (rand & ~lowMask & 0x7fffff) | (((1 << k) + delta) & lowMask);
    return ((neg ? 0x80000000 : 0) | (exp << 23) | man) >>> 0;
  });
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), tieBits), (bits) => {
      u[0] = bits;
      const x = f[0];
      h[0] = f16BitsToF32Bits(f32ToF16Bits(x));
      if (!sameFloat(hf[0], f16Ref(x))) throw new Error(`f16 of ${x}: ${hf[0]} != ${f16Ref(x)}`);
      h[0] = f32ToBf16Bits(x) << 16;
      if (!sameFloat(hf[0], bf16Ref(x))) {
        throw new Error(`bf16 of ${x}: ${hf[0]} != ${bf16Ref(x)}`);
      }
    }),
    { numRuns: 50000 },
  );
});

Deno.test("reading F16 and BF16 is exact for all 65536 bit patterns", async () => {
  const n = 65536;
  const bytes = new Uint8Array(2 * n);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) dv.setUint16(2 * i, i, true);
  for (const dtype of ["F16", "BF16"] as const) {
    const path = rawFile({ x: { dtype, shape: [256, 256], data_offsets: [0, 2 * n] } }, bytes);
    const st = await openSafetensors(path);
    const got = await st.read("x");
    st.close();
    const want = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const sign = i & 0x8000 ? -1 : 1;
      if (dtype === "F16") {
        const e = (i >> 10) & 31, m = i & 1023;
        want[i] = e === 31
          ? (m ? NaN : sign * Infinity)
          : sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
      } else {
        const e = (i >> 7) & 255, m = i & 127;
        want[i] = e === 255
          ? (m ? NaN : sign * Infinity)
          : sign * (e === 0 ? m * 2 ** -133 : (1 + m / 128) * 2 ** (e - 127));
      }
    }
    assertSameFloats(got, want, dtype);
    // NaN payloads survive (bit-exact widening).
    const bits = new Uint32Array(got.buffer);
    for (let i = 0; i < n; i++) {
      const expectBits = dtype === "BF16" ? (i << 16) >>> 0 : f16BitsToF32Bits(i);
      if (bits[i] !== expectBits) assert.fail(`${dtype} pattern ${i}: bits ${bits[i]}`);
    }
  }
});

// ---- round trips ----

const dtypeArb = fc.constantFrom<"F32" | "F16" | "BF16">("F32", "F16", "BF16");
const shapeArb = fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 0, maxLength: 3 });
const tensorArb = fc.record({ dtype: dtypeArb, shape: shapeArb }).chain(({ dtype, shape }) => {
  const n = shape.reduce((p, d) => p * d, 1);
  return fc.array(fc.float(), { minLength: n, maxLength: n }).map((vals) => ({
    dtype,
    shape,
    data: Float32Array.from(vals),
  }));
});

Deno.test("round trip F32/F16/BF16 on random shapes and values, with metadata", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.string({ minLength: 0, maxLength: 6 }), { minLength: 0, maxLength: 5 }),
      fc.array(tensorArb, { minLength: 5, maxLength: 5 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
      async (names, specs, metadata) => {
        const tensors = names.filter((n) => n !== "__metadata__").map((
          name,
          i,
        ) => ({ name, ...specs[i] }));
        const path = tmpPath();
        await writeSafetensors(path, tensors, metadata);
        const st = await openSafetensors(path);
        try {
          assert.equal(st.dataOffset % 8, 0, "data region aligned to 8 bytes");
          assert.deepEqual({ ...st.metadata }, { ...metadata });
          // Order kept: offsets decide it, except among empty tensors at one offset, whose
          // order the file cannot record (JSON.parse puts integer-like keys first).
          const at = (n: string) => st.tensors.get(n)!;
          const settled = (names: string[]) =>
            names.map((n) => [at(n).begin, at(n).end, n] as const).sort((a, b) =>
              a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0)
            );
          const read = [...st.tensors.keys()];
          assert.deepEqual(settled(read), settled(tensors.map((t) => t.name)), "order kept");
          for (let i = 1; i < read.length; i++) {
            const [p, q] = [at(read[i - 1]), at(read[i])];
            assert.ok(p.begin < q.begin || (p.begin === q.begin && p.end <= q.end), "data order");
          }
          let expectBegin = 0;
          for (const t of tensors) {
            const info = st.tensors.get(t.name)!;
            assert.equal(info.dtype, t.dtype);
            assert.deepEqual([...info.shape], t.shape);
            assert.equal(info.begin, expectBegin, "tensors packed in the given order");
            expectBegin = info.end;
            const ref = t.dtype === "F32"
              ? t.data
              : Array.from(t.data, t.dtype === "F16" ? f16Ref : bf16Ref);
            assertSameFloats(await st.read(t.name), ref, `${t.name} ${t.dtype}`);
            const raw = await st.readRaw(t.name);
            assert.equal(raw.length, info.end - info.begin);
          }
        } finally {
          st.close();
        }
        await Deno.remove(path);
      },
    ),
    { numRuns: 60 },
  );
  // Atomic writes leave no temporary files behind.
  assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);
});

Deno.test("I32 tensors (from Int32Array) round trip through readRaw; F32 data cannot be I32", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), async (v) => {
      const path = tmpPath();
      await writeSafetensors(path, [
        { name: "f", shape: [1], data: new Float32Array([0.5]) },
        { name: "i", shape: [v.length], data: Int32Array.from(v), dtype: "I32" },
      ]);
      const st = await openSafetensors(path);
      assert.equal(st.tensors.get("i")!.dtype, "I32");
      const raw = await st.readRaw("i");
      assert.deepEqual(Array.from(new Int32Array(raw.buffer, raw.byteOffset, v.length)), v);
      await assert.rejects(st.read("i"), SafetensorsError);
      st.close();
      await Deno.remove(path);
    }),
    { numRuns: 30 },
  );
  const bad = [{ name: "x", shape: [1], data: new Float32Array(1), dtype: "I32" }];
  await assert.rejects(writeSafetensors(tmpPath(), bad as TensorToWrite[]), SafetensorsError);
  const bad2 = [{ name: "x", shape: [1], data: new Int32Array(1), dtype: "F32" }];
  await assert.rejects(writeSafetensors(tmpPath(), bad2 as TensorToWrite[]), SafetensorsError);
});

Deno.test("concurrent reads of one open file each get their own tensor", async () => {
  const tensors = Array.from({ length: 8 }, (_, i) => ({
    name: `t${i}`,
    shape: [1000 + i],
    data: Float32Array.from({ length: 1000 + i }, (_, j) => i * 10000 + j),
  }));
  const path = tmpPath();
  await writeSafetensors(path, tensors);
  const st = await openSafetensors(path);
  const got = await Promise.all(tensors.map((t) => st.read(t.name)));
  got.forEach((g, i) => assertSameFloats(g, tensors[i].data, `t${i}`));
  st.close();
});

Deno.test("tensors read at their turn are written like eager ones, one at a time", async () => {
  const values = [new Float32Array([1.5, -2, 3e-8]), new Float32Array([65504, 7, 0.1, -0])];
  const shapes = [[3], [2, 2]];
  const eager = tmpPath(), lazy = tmpPath();
  await writeSafetensors(
    eager,
    values.map((data, i) => ({ name: `t${i}`, shape: shapes[i], data, dtype: "F16" })),
  );
  const order: string[] = [];
  await writeSafetensors(
    lazy,
    values.map((data, i) => ({
      name: `t${i}`,
      shape: shapes[i],
      data: () => {
        order.push(`read t${i}`);
        return Promise.resolve(data);
      },
      dtype: "F16",
    })),
  );
  assert.deepEqual(order, ["read t0", "read t1"]);
  assert.deepEqual(Deno.readFileSync(lazy), Deno.readFileSync(eager));
});

Deno.test("write replaces an existing file atomically and rejects bad input", async () => {
  const path = tmpPath();
  await writeSafetensors(path, [{ name: "a", shape: [2], data: new Float32Array([1, 2]) }]);
  await writeSafetensors(path, [{ name: "b", shape: [1], data: new Float32Array([3]) }]);
  const st = await openSafetensors(path);
  assert.deepEqual([...st.tensors.keys()], ["b"]);
  st.close();
  const bad: [string, TensorToWrite[]][] = [
    ["shape [2, 2] has 4 elements", [{ name: "x", shape: [2, 2], data: new Float32Array(3) }]],
    ["duplicate", [{ name: "x", shape: [0], data: new Float32Array(0) }, {
      name: "x",
      shape: [0],
      data: new Float32Array(0),
    }]],
    ["reserved", [{ name: "__metadata__", shape: [0], data: new Float32Array(0) }]],
    ["bad shape", [{ name: "x", shape: [-1], data: new Float32Array(0) }]],
    // Read when its turn comes: the length is checked then, and the partial file is removed.
    ["shape [3] has 3 elements", [
      { name: "a", shape: [2], data: () => Promise.resolve(new Float32Array(2)) },
      { name: "b", shape: [3], data: () => Promise.resolve(new Float32Array(4)) },
    ]],
  ];
  for (const [msg, tensors] of bad) {
    const p = tmpPath();
    await assert.rejects(writeSafetensors(p, tensors), (e: Error) => {
      assert.ok(e instanceof SafetensorsError, String(e));
      assert.ok(e.message.includes(msg) && e.message.includes(p), e.message);
      return true;
    });
    assert.throws(() => Deno.statSync(p), Deno.errors.NotFound);
  }
  await assert.rejects(
    writeSafetensors(`${dir}/no/such/dir/x.safetensors`, []),
    SafetensorsError,
  );
});

// ---- validation errors on hand-made files ----

/** A file from a header (object or raw string) and data bytes; `len` overrides the length. */
function rawFile(header: unknown, data = new Uint8Array(0), len?: bigint): string {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  const path = tmpPath();
  Deno.writeFileSync(path, out);
  return path;
}

/** openSafetensors refuses the file, and safetensorsFromBytes its bytes with the same message. */
async function expectError(path: string, ...fragments: string[]) {
  let message = "";
  await assert.rejects(openSafetensors(path), (e: Error) => {
    assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${e}`);
    for (const f of [path, ...fragments]) {
      assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    }
    message = e.message;
    return true;
  });
  const bytes = await Deno.readFile(path).catch(() => null);
  if (bytes === null) return;
  assert.throws(() => safetensorsFromBytes(path, bytes), (e: Error) => {
    assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${e}`);
    assert.equal(e.message, message);
    return true;
  });
}

const f32 = (name: string, shape: number[], offsets: number[]) => ({
  [name]: { dtype: "F32", shape, data_offsets: offsets },
});

Deno.test("validation errors name the file and the tensor or field", async () => {
  const d16 = new Uint8Array(16);
  // Missing file, too-short file.
  await expectError(`${dir}/missing.safetensors`, "cannot open");
  const short = tmpPath();
  Deno.writeFileSync(short, new Uint8Array(5));
  await expectError(short, "too short");
  // Header length past the end of the file, and absurd lengths (never allocated).
  await expectError(rawFile(f32("a", [4], [0, 16]), d16, 10_000n), "header length", "past the end");
  await expectError(rawFile("{}", d16, 1n << 63n), "header length", "cap");
  await expectError(rawFile("{}", d16, 0xffffffffffffffffn), "header length", "cap");
  // Header content.
  await expectError(rawFile("{not json"), "header", "not valid JSON");
  await expectError(rawFile("[1,2]"), "header", "not an object");
  await expectError(rawFile("null"), "header", "not an object");
  const badUtf8 = tmpPath();
  Deno.writeFileSync(badUtf8, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]));
  await expectError(badUtf8, "header", "UTF-8");
  await expectError(rawFile({ __metadata__: { a: 1 } }), "__metadata__.a", "not a string");
  await expectError(rawFile({ __metadata__: [] }), "__metadata__");
  await expectError(rawFile({ w: 3 }), "[w]", "not an object");
  // dtype, shape, offsets.
  await expectError(
    rawFile({ w: { dtype: "F48", shape: [4], data_offsets: [0, 16] } }, d16),
    "[w]",
    "unknown dtype",
  );
  await expectError(
    rawFile({ w: { shape: [4], data_offsets: [0, 16] } }, d16),
    "[w]",
    "unknown dtype",
  );
  await expectError(rawFile(f32("w", [-4], [0, 16]), d16), "[w]", "shape");
  await expectError(rawFile(f32("w", [1.5], [0, 16]), d16), "[w]", "shape");
  await expectError(
    rawFile({ w: { dtype: "F32", shape: "4", data_offsets: [0, 16] } }, d16),
    "[w]",
  );
  await expectError(rawFile(f32("w", [4], [0, 16, 32]), d16), "[w]", "data_offsets");
  await expectError(rawFile(f32("w", [4], [-16, 0]), d16), "[w]", "data_offsets");
  await expectError(rawFile(f32("w", [4], [0, 32]), d16), "[w]", "outside");
  await expectError(rawFile(f32("w", [0], [16, 0]), d16), "[w]", "outside");
  await expectError(rawFile(f32("w", [3], [0, 16]), d16), "[w]", "needs 12 bytes");
  await expectError(rawFile(f32("w", [2, 3], [0, 16]), d16), "[w]", "needs 24 bytes");
  // Overlap.
  await expectError(
    rawFile({ ...f32("a", [3], [0, 12]), ...f32("b", [2], [8, 16]) }, d16),
    "[b]",
    "overlap",
    '"a"',
  );
  await expectError(
    rawFile({ ...f32("a", [4], [0, 16]), ...f32("b", [4], [0, 16]) }, d16),
    "overlap",
  );
  // Huge declared sizes: rejected from the header, never allocated.
  await expectError(rawFile(f32("w", [2 ** 40, 2 ** 40], [0, 16]), d16), "[w]", "needs");
  await expectError(rawFile(f32("w", [2 ** 50], [0, 2 ** 52]), d16), "[w]", "outside");
  await expectError(rawFile(f32("w", [2 ** 50], [0, 2 ** 62]), d16), "[w]", "data_offsets");
  await expectError(rawFile(f32("w", [2 ** 60], [0, 2 ** 62]), d16), "[w]", "shape");
  await expectError(rawFile(f32("w", [1e300], [0, 16]), d16), "[w]", "shape");
  // Zero-sized tensors are fine anywhere, and an empty header is a valid empty file.
  const ok = await openSafetensors(
    rawFile(
      { ...f32("a", [4], [0, 16]), ...f32("z", [0, 3], [16, 16]), ...f32("y", [0], [8, 8]) },
      d16,
    ),
  );
  assert.equal((await ok.read("z")).length, 0);
  ok.close();
  (await openSafetensors(rawFile("{}"))).close();
});

Deno.test("read errors: unknown tensor, non-float dtype, closed file, truncated file", async () => {
  const d = new Uint8Array(24);
  const path = rawFile({
    ...f32("a", [2], [0, 8]),
    i: { dtype: "I32", shape: [2], data_offsets: [8, 16] },
    l: { dtype: "I64", shape: [1], data_offsets: [16, 24] },
  }, d);
  const st = await openSafetensors(path);
  const check = (fragment: string) => (e: Error) => {
    assert.ok(e instanceof SafetensorsError, String(e));
    assert.ok(e.message.includes(fragment) && e.message.includes(path), e.message);
    return true;
  };
  await assert.rejects(st.read("nope"), check("[nope]"));
  await assert.rejects(st.read("i"), check("I32 cannot be read as float32"));
  assert.equal((await st.readRaw("i")).length, 8);
  // The file shrinks under an open reader.
  Deno.truncateSync(path, st.dataOffset + 4);
  await assert.rejects(st.read("a"), check("bytes early"));
  st.close();
  await assert.rejects(st.read("a"), check("closed"));
  st.close(); // idempotent
});

// ---- mutation fuzzing ----

const validBytes = await (async () => {
  const p = tmpPath();
  await writeSafetensors(p, [
    { name: "emb", shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => i / 7) },
    { name: "h", shape: [4], data: new Float32Array([1, -2, 3e-5, 7e4]), dtype: "F16" },
    { name: "b", shape: [2, 1, 3], data: new Float32Array(6).fill(0.1), dtype: "BF16" },
    { name: "empty", shape: [0], data: new Float32Array(0) },
  ], { format: "pt" });
  return Deno.readFileSync(p);
})();
const headerEnd = 8 + Number(new DataView(validBytes.buffer).getBigUint64(0, true));

const mutationArb = fc.oneof(
  // Flip bytes anywhere, biased to the header.
  fc.array(
    fc.record({ pos: fc.nat({ max: headerEnd + 8 }), val: fc.integer({ min: 0, max: 255 }) }),
    { minLength: 1, maxLength: 4 },
  ).map((flips) => (b: Uint8Array) => {
    const c = b.slice();
    for (const { pos, val } of flips) if (pos < c.length) c[pos] = val;
    return c;
  }),
  // Truncate.
  fc.nat({ max: validBytes.length }).map((n) => (b: Uint8Array) => b.slice(0, n)),
  // Rewrite the header length.
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((len) => (b: Uint8Array) => {
    const c = b.slice();
    new DataView(c.buffer).setBigUint64(0, len, true);
    return c;
  }),
  // Replace one number or one word in the header JSON (same byte length kept or not).
  fc.tuple(
    fc.nat(),
    fc.oneof(
      fc.integer({ min: -5, max: 300 }).map(String),
      fc.constantFrom("1e308", "-0", "0.5", "null", '"F16"', '"U8"', '"x"', "[]", "{}", "true"),
    ),
  ).map(([which, repl]) => (b: Uint8Array) => {
    const text = new TextDecoder().decode(b.subarray(8, headerEnd));
    const tokens = [...text.matchAll(/-?\d+|"[A-Z0-9_]+"/g)];
    const m = tokens[which % tokens.length];
    const newText = text.slice(0, m.index) + repl + text.slice(m.index! + m[0].length);
    const h = new TextEncoder().encode(newText);
    const c = new Uint8Array(8 + h.length + (b.length - headerEnd));
    new DataView(c.buffer).setBigUint64(0, BigInt(h.length), true);
    c.set(h, 8);
    c.set(b.subarray(headerEnd), 8 + h.length);
    return c;
  }),
);

async function outcome(path: string): Promise<string> {
  let st;
  try {
    st = await openSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) return `error: ${e.message}`;
    throw new Error(`open threw a non-SafetensorsError: ${e}`);
  }
  const parts: string[] = [];
  for (const [name, info] of st.tensors) {
    try {
      const x = await st.read(name);
      assert.equal(x.length, info.numel);
      assert.equal((await st.readRaw(name)).length, info.end - info.begin);
      parts.push(`${name}:${info.dtype}:${info.shape}:${Array.from(x).join(",")}`);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw new Error(`read threw ${e}`);
      parts.push(`${name}: error ${e.message}`);
    }
  }
  st.close();
  return parts.join("\n");
}

Deno.test("fuzz: mutated files open consistently or throw SafetensorsError", async () => {
  const path = `${dir}/fuzz.safetensors`;
  await fc.assert(
    fc.asyncProperty(mutationArb, async (mutate) => {
      Deno.writeFileSync(path, mutate(validBytes));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        // Only a hang trips this: opening takes milliseconds even on a loaded machine.
        timer = setTimeout(() => reject(new Error("openSafetensors hung")), 120_000);
      });
      try {
        const first = await Promise.race([outcome(path), timeout]);
        const second = await Promise.race([outcome(path), timeout]);
        assert.equal(second, first, "same file, same outcome");
      } finally {
        clearTimeout(timer);
      }
    }),
    { numRuns: 400 },
  );
});
