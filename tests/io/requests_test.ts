// Request-file and hparams parsing: normalisation, exact error messages, and fuzzing (any input
// either parses or throws the typed error, never anything else).

import {
  deepEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import fc from "fast-check";
import {
  type EditRequest,
  HparamsError,
  type HparamsSchema,
  loadRequests,
  parseHparams,
  parseRequests,
  RequestError,
  validateRequests,
} from "../../src/io/requests.ts";
import { errorOf, mutate, parsesOrRequestError, thrownBy } from "../helpers/request_errors.ts";

const FILE = "data/requests/x.json";

const EXAMPLE = {
  subject: "France",
  prompt: "The capital of France is",
  target_new: "Rome",
  ground_truth: "Paris",
  rephrase_prompt: "France's capital city is",
  portability: {
    Reasoning: [{
      prompt: "The capital of the country where Lyon is located is",
      ground_truth: "Rome",
    }],
  },
  locality: {
    Relation_Specificity: [{ prompt: "The currency of France is", ground_truth: "Euro" }],
  },
};

Deno.test("a byte order mark before the JSON is read past", () => {
  // It was refused as "Unexpected token", with the mark itself invisible in the message.
  const plain = parseRequests(JSON.stringify([EXAMPLE]), FILE);
  assertEquals(parseRequests("\uFEFF" + JSON.stringify([EXAMPLE]), FILE), plain);
});

Deno.test("the KNE.md example parses to a normalised EditRequest", () => {
  const [r] = parseRequests(JSON.stringify([EXAMPLE]), FILE);
  const want: EditRequest = {
    index: 0,
    subject: "France",
    prompt: "The capital of France is",
    targetNew: "Rome",
    groundTruth: "Paris",
    rephrasePrompts: ["France's capital city is"],
    portability: {
      Reasoning: [{
        prompt: "The capital of the country where Lyon is located is",
        answer: "Rome",
      }],
    },
    locality: { Relation_Specificity: [{ prompt: "The currency of France is", answer: "Euro" }] },
  };
  assertEquals(r, want);
});

Deno.test("answers: string, aliases, alias lists -> the first alias", () => {
  const probe = (gt: unknown) =>
    validateRequests(
      [{ ...EXAMPLE, locality: { L: [{ prompt: "p", ground_truth: gt }] } }],
      FILE,
    )[0]
      .locality.L[0].answer;
  assertEquals(probe("Euro"), "Euro");
  assertEquals(probe(["Euro", "EUR"]), "Euro");
  assertEquals(probe([["Euro", "EUR"], ["euro"]]), "Euro");
  assertEquals(probe(["Euro", ["mixed", "ok"]]), "Euro");
  const top = (gt: unknown) => validateRequests([{ ...EXAMPLE, ground_truth: gt }], FILE)[0];
  assertEquals(top([["Paris", "City of Light"]]).groundTruth, "Paris");
  assertEquals("groundTruth" in top(null), false);
  const { ground_truth: _, ...noGt } = EXAMPLE;
  assertEquals("groundTruth" in validateRequests([noGt], FILE)[0], false);
});

Deno.test("optional fields: synonyms, single probes, null and empty lists", () => {
  const r = (extra: Record<string, unknown>) =>
    validateRequests([{ ...EXAMPLE, ...extra }], FILE)[0];
  assertEquals(r({ rephrase_prompt: ["a", "b"] }).rephrasePrompts, ["a", "b"]);
  assertEquals(r({ rephrase_prompt: [] }).rephrasePrompts, []);
  assertEquals(r({ rephrase_prompt: null }).rephrasePrompts, []);
  const { rephrase_prompt: _, ...noRephrase } = EXAMPLE;
  assertEquals(
    validateRequests([{ ...noRephrase, rephrase: "KnowEdit name" }], FILE)[0].rephrasePrompts,
    ["KnowEdit name"],
  );
  const single = r({ portability: { Alias: { prompt: "p", target: ["t"] } } });
  assertEquals(single.portability, { Alias: [{ prompt: "p", answer: "t" }] });
  assertEquals(r({ portability: { A: [], B: null } }).portability, { A: [] });
  assertEquals(r({ locality: null }).locality, {});
  assertEquals(r({ case_id: 7, extra: { x: 1 } }).subject, "France"); // unknown fields ignored
  const proto = validateRequests(
    [JSON.parse(`{"subject":"s","prompt":"p","target_new":"t",
      "locality":{"__proto__":[{"prompt":"q","ground_truth":"a"}]}}`)],
    FILE,
  )[0];
  assertEquals(Object.keys(proto.locality), ["__proto__"]);
  assertEquals(proto.locality["__proto__"], [{ prompt: "q", answer: "a" }]);
});

Deno.test("errors name the file, the record and the field", () => {
  const records = Array.from({ length: 18 }, () => ({ ...EXAMPLE })) as Record<string, unknown>[];
  records[17] = { ...EXAMPLE, target_new: 5 };
  const e = errorOf(() => parseRequests(JSON.stringify(records), FILE));
  assertEquals(
    e.message,
    "data/requests/x.json: record 17: field target_new: expected a non-empty string, got number",
  );
  assertEquals([e.file, e.record, e.field], [FILE, 17, "target_new"]);

  const msg = (rec: unknown) => errorOf(() => validateRequests([rec], FILE)).message;
  const prefix = `${FILE}: record 0: `;
  assertEquals(
    msg({ ...EXAMPLE, subject: "  " }),
    prefix + "field subject: expected a non-empty string, got blank string",
  );
  const { prompt: _, ...noPrompt } = EXAMPLE;
  assertEquals(
    msg(noPrompt),
    prefix + "field prompt: expected a non-empty string, got nothing (the field is missing)",
  );
  assertEquals(msg([1]), prefix + "expected an object, got array");
  assertEquals(
    msg({ ...EXAMPLE, portability: { Reasoning: [{ prompt: "p", ground_truth: [] }] } }),
    prefix +
      "field portability.Reasoning[0].ground_truth: expected a non-empty string, an array of aliases or an array of alias lists, got empty array",
  );
  assertEquals(
    msg({ ...EXAMPLE, ground_truth: [["Paris", 3]] }),
    prefix + "field ground_truth[0][1]: expected a string, got number",
  );
  assertEquals(
    msg({ ...EXAMPLE, ground_truth: [[]] }),
    prefix + "field ground_truth[0]: expected a non-empty array of aliases, got empty array",
  );
  assertEquals(
    msg({ ...EXAMPLE, rephrase_prompt: ["ok", ""] }),
    prefix + "field rephrase_prompt[1]: expected a non-empty string, got empty string",
  );
  assertEquals(
    msg({ ...EXAMPLE, rephrase: "x" }),
    prefix + "field rephrase: both rephrase_prompt and its synonym rephrase are given",
  );
  assertEquals(
    msg({ ...EXAMPLE, locality: { L: [{ prompt: "p", ground_truth: "a", target: "b" }] } }),
    prefix + "field locality.L[0].target: both ground_truth and its synonym target are given",
  );
  assertEquals(
    msg({ ...EXAMPLE, locality: { L: "x" } }),
    prefix + "field locality.L: expected an array of {prompt, ground_truth} probes, got string",
  );
  assertEquals(
    msg({ ...EXAMPLE, locality: [1] }),
    prefix +
      "field locality: expected an object mapping probe kinds to arrays of probes, got array",
  );
  assertEquals(
    errorOf(() => parseRequests("{}", FILE)).message,
    `${FILE}: expected a JSON array of records, got object`,
  );
  const bad = errorOf(() => parseRequests("[{", FILE));
  assert(bad.message.startsWith(`${FILE}: invalid JSON: `), bad.message);
  assertEquals(bad.record, undefined);
  assertEquals(parseRequests("[]", FILE), []);
});

Deno.test("control characters in any text field are refused; tab and newline are text", () => {
  const msg = (rec: unknown) => errorOf(() => validateRequests([rec], FILE)).message;
  const prefix = `${FILE}: record 0: `;
  for (const c of ["\u0000", "\u0007", "\u001b", "\u007f", "\u009b"]) {
    assertEquals(
      msg({ ...EXAMPLE, subject: `Fra${c}nce` }),
      prefix +
        `field subject: expected text without control characters, got ${
          JSON.stringify(`Fra${c}nce`)
        }`,
    );
  }
  assert(msg({ ...EXAMPLE, target_new: "\u001b[31mRome" }).includes("field target_new: "));
  assert(
    msg({ ...EXAMPLE, rephrase_prompt: ["ok", "a\u0000b"] }).includes(
      "field rephrase_prompt[1]: ",
    ),
  );
  assert(
    msg({ ...EXAMPLE, locality: { L: [{ prompt: "p", ground_truth: "x\u0007" }] } }).includes(
      "field locality.L[0].ground_truth: ",
    ),
  );
  const [r] = validateRequests([{ ...EXAMPLE, prompt: "The capital\tof France\nis" }], FILE);
  assertEquals(r.prompt, "The capital\tof France\nis");
});

Deno.test("loadRequests reads a file and names it in errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/r.json`;
    await Deno.writeTextFile(path, JSON.stringify([EXAMPLE, { ...EXAMPLE, prompt: 1 }]));
    try {
      await loadRequests(path);
      throw new Error("no error");
    } catch (e) {
      assert(e instanceof RequestError);
      assertEquals(
        e.message,
        `${path}: record 1: field prompt: expected a non-empty string, got number`,
      );
    }
    await Deno.writeTextFile(path, JSON.stringify([EXAMPLE]));
    assertEquals((await loadRequests(path)).length, 1);
    try {
      await loadRequests(`${dir}/missing.json`);
      throw new Error("no error");
    } catch (e) {
      assert(e instanceof RequestError && e.message.includes("cannot read"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: random JSON values parse or throw RequestError", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      parsesOrRequestError(() => validateRequests(v, FILE));
      parsesOrRequestError(() => validateRequests([v], FILE));
      parsesOrRequestError(() => parseRequests(JSON.stringify(v) ?? "", FILE));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (v) => {
      parsesOrRequestError(() => validateRequests([v], FILE));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.string({ unit: "binary" }),
      (s) => parsesOrRequestError(() => parseRequests(s, FILE)),
    ),
    { numRuns: 200 },
  );
});

Deno.test("fuzz: mutations of a valid file parse or throw RequestError", () => {
  const valid = [
    EXAMPLE,
    { ...EXAMPLE, ground_truth: [["Paris", "Paname"]], rephrase_prompt: ["a", "b"] },
    {
      subject: "s",
      prompt: "p",
      target_new: "t",
      portability: { A: [{ prompt: "x", ground_truth: ["y"] }], B: [] },
    },
  ];
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 6 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.nat(),
      fc.nat(100),
      fc.string(),
      (path, replacement, op, cut, junk) => {
        const m = mutate(valid, path, replacement, op);
        parsesOrRequestError(() => validateRequests(m, FILE));
        const text = JSON.stringify(m) ?? "";
        parsesOrRequestError(() => parseRequests(text, FILE));
        // Text-level damage: truncation and spliced junk.
        const at = Math.floor((cut / 100) * text.length);
        parsesOrRequestError(() => parseRequests(text.slice(0, at), FILE));
        parsesOrRequestError(() => parseRequests(text.slice(0, at) + junk + text.slice(at), FILE));
      },
    ),
    { numRuns: 400 },
  );
});

// --- hparams ---------------------------------------------------------------------------------

const DEFAULTS = { lr: 0.01, steps: 20, topP: 0.01, mode: "all", verbose: false, name: "kne" };
const SCHEMA: HparamsSchema<typeof DEFAULTS> = {
  lr: { type: "number", min: 0, minExclusive: true, max: 1 },
  steps: { type: "integer", min: 1, max: 1000 },
  topP: { type: "number", min: 0, max: 1, maxExclusive: true },
  mode: { type: "string", choices: ["all", "ffn", "attn"] },
  verbose: { type: "boolean" },
  name: { type: "string" },
};

const hpError = (f: () => unknown): HparamsError => thrownBy(HparamsError, f);

Deno.test("parseHparams merges over defaults", () => {
  assertEquals(parseHparams({}, DEFAULTS, SCHEMA), DEFAULTS);
  assertEquals(parseHparams(null, DEFAULTS, SCHEMA), DEFAULTS);
  assertEquals(
    parseHparams('{"lr": 1, "steps": 5, "mode": "ffn", "verbose": true}', DEFAULTS, SCHEMA),
    { ...DEFAULTS, lr: 1, steps: 5, mode: "ffn", verbose: true },
  );
  const p = parseHparams({ steps: 7 }, DEFAULTS, SCHEMA);
  p.steps = 8;
  assertEquals(DEFAULTS.steps, 20); // a copy, defaults untouched
});

Deno.test("parseHparams errors name the key and what is allowed", () => {
  const m = (v: unknown) =>
    hpError(() => parseHparams(v, DEFAULTS, SCHEMA, "hparams/kne.json")).message;
  assertEquals(m({ lr: 0 }), "hparams/kne.json: key lr: expected a number in (0, 1], got 0");
  assertEquals(
    m({ lr: "0.1" }),
    'hparams/kne.json: key lr: expected a number in (0, 1], got "0.1"',
  );
  assertEquals(
    m({ steps: 2.5 }),
    "hparams/kne.json: key steps: expected an integer in [1, 1000], got 2.5",
  );
  assertEquals(m({ topP: 1 }), "hparams/kne.json: key topP: expected a number in [0, 1), got 1");
  assertEquals(
    m({ mode: "mlp" }),
    'hparams/kne.json: key mode: expected one of "all", "ffn", "attn", got "mlp"',
  );
  assertEquals(m({ verbose: 1 }), "hparams/kne.json: key verbose: expected a boolean, got 1");
  assertEquals(
    m({ steps: null }),
    "hparams/kne.json: key steps: expected an integer in [1, 1000], got null",
  );
  assertEquals(
    m({ stpes: 3 }),
    "hparams/kne.json: key stpes: unknown key (allowed: lr, steps, topP, mode, verbose, name)",
  );
  assertEquals(m([1]), "hparams/kne.json: expected an object of hyperparameters, got array");
  assert(m("{").startsWith("hparams/kne.json: invalid JSON"));
  const e = hpError(() => parseHparams({ lr: 5 }, DEFAULTS, SCHEMA));
  assertEquals([e.source, e.key], ["hparams", "lr"]);
  assertThrows(
    () => parseHparams({}, { ...DEFAULTS, steps: 0 }, SCHEMA),
    (err: unknown) =>
      err instanceof HparamsError &&
      err.message === "defaults: key steps: expected an integer in [1, 1000], got 0",
  );
  assertEquals(
    hpError(() => parseHparams({ x: 1 }, { a: 1 }, { a: { type: "number", min: 2 } })).message,
    "defaults: key a: expected a number >= 2, got 1",
  );
});

Deno.test("fuzz: parseHparams accepts or throws HparamsError", () => {
  const keys = fc.constantFrom(
    "lr",
    "steps",
    "topP",
    "mode",
    "verbose",
    "name",
    "other",
    "__proto__",
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.jsonValue(), fc.dictionary(keys, fc.jsonValue({ maxDepth: 1 }))),
      (v) => {
        for (const input of [v, JSON.stringify(v) ?? "x"]) {
          try {
            const out = parseHparams(input, DEFAULTS, SCHEMA);
            assertEquals(Object.keys(out).sort(), Object.keys(DEFAULTS).sort());
            assert(out.lr > 0 && out.lr <= 1 && Number.isInteger(out.steps));
          } catch (e) {
            if (!(e instanceof HparamsError)) throw e;
          }
        }
      },
    ),
    { numRuns: 400 },
  );
});
