import assert from "node:assert/strict";
import { buildCorpus } from "../../src/facts/corpus.ts";
import { requestTexts } from "../../src/facts/requests.ts";
import {
  BOS_ID,
  buildTokenizerJson,
  corpusTexts,
  decode,
  encode,
  encodeProbe,
  EOS_ID,
  loadTokenizer,
  makeTokenizer,
  PAD_ID,
  pieceTokens,
  UNK_ID,
  wordPieces,
  writeTokenizer,
} from "../../src/facts/tokenizer.ts";
import type { EditRequest } from "../../src/facts/requests.ts";

const root = new URL("../../", import.meta.url).pathname;
const corpus = buildCorpus();
const tok = loadTokenizer();
const readReqs = (name: string): EditRequest[] =>
  JSON.parse(Deno.readTextFileSync(`${root}data/requests/${name}.json`));

Deno.test("tokenizer: committed tokenizer.json is what the corpus builds", () => {
  const committed = JSON.parse(Deno.readTextFileSync(`${root}data/tokenizer/tokenizer.json`));
  const reqs = [...readReqs("test"), ...readReqs("dev")];
  const built = buildTokenizerJson([...corpusTexts(corpus), ...requestTexts(reqs)]);
  assert.deepEqual(committed, JSON.parse(JSON.stringify(built)));
  const size = Object.keys(built.model.vocab).length;
  assert.ok(size > 1000 && size <= 4000, `${size}`);
});

Deno.test("tokenizer: special tokens", () => {
  assert.equal(tok.token_to_id("[PAD]"), PAD_ID);
  assert.equal(tok.token_to_id("[UNK]"), UNK_ID);
  assert.equal(tok.token_to_id("[BOS]"), BOS_ID);
  assert.equal(tok.token_to_id("[EOS]"), EOS_ID);
  assert.equal(PAD_ID, 0);
  assert.deepEqual(encode(tok, "Paris"), encode(tok, "Paris")); // no special tokens added
  assert.equal(decode(tok, [BOS_ID, ...encode(tok, "Paris ."), EOS_ID]), "Paris .");
});

Deno.test("tokenizer: whole words and exact round trip", () => {
  const text = "The capital of France is Paris";
  const enc = tok.encode(text, { add_special_tokens: false });
  assert.deepEqual(enc.tokens, ["The", "capital", "of", "France", "is", "Paris"]);
  assert.equal(enc.ids.length, 6);
  assert.ok(!enc.ids.includes(UNK_ID));
  assert.equal(decode(tok, enc.ids), text);
  // The subject keeps its id before "'s" and before a comma.
  const poss = tok.encode("France's capital is Paris .", { add_special_tokens: false });
  assert.deepEqual(poss.tokens, ["France", "##'", "##s", "capital", "is", "Paris", "."]);
  assert.equal(poss.ids[0], enc.ids[3]);
  assert.equal(decode(tok, poss.ids), "France's capital is Paris .");
  assert.equal(encode(tok, "In France, the capital is")[1], enc.ids[3]);
  assert.deepEqual(wordPieces("Guinea-Bissau"), ["Guinea", "##-", "##Bissau"]);
  // Unseen words fall back to characters and still round-trip.
  for (const t of ["Zyxwvut Qqq's !?", "naïve Lyon-Marseille 12,5"]) {
    const ids = encode(tok, t);
    assert.ok(!ids.includes(UNK_ID), t);
    assert.equal(decode(tok, ids), t);
  }
});

Deno.test("tokenizer: every corpus and request text encodes without [UNK] and round-trips", () => {
  const reqs = [...readReqs("test"), ...readReqs("dev")];
  let n = 0;
  for (const t of [...corpusTexts(corpus), ...requestTexts(reqs)]) {
    const enc = tok.encode(t, { add_special_tokens: false });
    assert.ok(!enc.ids.includes(UNK_ID), t);
    assert.deepEqual(enc.tokens, pieceTokens(t), t);
    assert.equal(decode(tok, enc.ids), t);
    n++;
  }
  assert.ok(n > 10000);
  for (const s of corpus.train) assert.ok(encode(tok, s).length <= 31, s); // fits with [BOS]
});

Deno.test("tokenizer: prompt and answer tokens align", () => {
  const reqs = readReqs("test");
  const pairs: [string, string][] = [];
  for (const set of Object.values(corpus.evalSets)) {
    for (const p of set) pairs.push([p.prompt, p.answer]);
  }
  for (const q of reqs) {
    pairs.push([q.prompt, q.target_new], [q.rephrase_prompt, q.target_new]);
    for (const p of q.portability.Reasoning) pairs.push([p.prompt, p.ground_truth]);
  }
  for (const [prompt, answer] of pairs) {
    const { prompt: p, answer: a } = encodeProbe(tok, prompt, answer);
    assert.ok(a.length > 0);
    assert.deepEqual([...p, ...a], encode(tok, `${prompt} ${answer}`), prompt);
  }
});

Deno.test("tokenizer: writeTokenizer writes a loadable pair of files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const json = writeTokenizer(`${dir}/tok/tokenizer.json`, ["Hello world .", "Lyon's"]);
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/tok/tokenizer_config.json`));
    assert.equal(cfg.clean_up_tokenization_spaces, false);
    const t = loadTokenizer(`${dir}/tok/tokenizer.json`);
    assert.deepEqual(t.encode("Hello world .").tokens, ["Hello", "world", "."]);
    assert.equal(decode(t, encode(t, "Lyon's world .")), "Lyon's world .");
    assert.deepEqual(makeTokenizer(json).encode("Hello").ids, t.encode("Hello").ids);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
