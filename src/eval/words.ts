// Word tokenisation for the fluency metric: a port of nltk.word_tokenize (nltk 3.8), which
// EasyEdit's n-gram entropy uses: Punkt sentence splitting, then NLTKWordTokenizer (the improved
// Treebank rules) on each sentence.
//
// One documented difference: nltk loads a TRAINED English Punkt model (abbreviations such as
// "Mr." or "e.g.", collocations, frequent sentence starters); those data files are not
// available here, so the splitter below is Punkt with empty parameters (what nltk's
// PunktSentenceTokenizer() does untrained). Where the trained model would keep "Mr." inside a
// sentence, this one may end the sentence there, and the Treebank rules then split the final
// period ("Mr" "."). Everything else follows the nltk source rule by rule; the tests compare
// against fixtures produced by nltk 3.8 itself (tests/eval/nltk_fixtures.py).
//
// Python's \w, \d, \b, isupper and islower are Unicode-aware on str; JavaScript's \w, \d and \b
// are ASCII even with the u flag, so they are spelled out with Unicode properties here.

const WORD = String.raw`[\p{L}\p{Nd}\p{Nl}\p{No}_]`; // Python \w
const NOT_WORD_AFTER = String.raw`(?!${WORD})`; // \b after a word character
const NOT_WORD_BEFORE = String.raw`(?<!${WORD})`; // \b before a word character

// ---------------------------------------------------------------------------------------------
// Punkt with empty parameters (nltk/tokenize/punkt.py).

const NON_WORD = String.raw`(?:[)";}\]*:@'({\[?!])`;
const MULTI_CHAR = String.raw`(?:-{2,}|\.{2,}|(?:\.\s){2,}\.)`;
const WORD_START = '[^("`{\\[:;&#*@)}\\]\\-,]';
const PUNKT_WORD = new RegExp(
  String
    .raw`${MULTI_CHAR}|(?=${WORD_START})\S+?(?=\s|$|${NON_WORD}|${MULTI_CHAR}|,(?=$|\s|${NON_WORD}|${MULTI_CHAR}))|\S`,
  "gu",
);
const PERIOD_CONTEXT = new RegExp(
  String.raw`[.?!](?=(?<after>${NON_WORD}|\s+(?<next>\S+)))`,
  "gu",
);
const REALIGN = /["')\]}]+?(?:\s+|(?=--)|$)/muy;
const RE_NUMERIC = /^-?[.,]?\p{Nd}[\p{Nd},.-]*\.?$/u;
const RE_INITIAL = /^[\p{L}\p{Nl}\p{No}_]\.$/u;
const RE_ELLIPSIS = /^\.\.+$/u;
const ORTHO_PUNCT = new Set([";", ":", ",", ".", "!", "?"]);
const PY_WHITESPACE = new Set([" ", "\t", "\n", "\r", "\x0b", "\x0c"]);

interface PunktTok {
  tok: string;
  sentbreak: boolean;
}

function punktWords(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim().length === 0) continue;
    for (const m of line.matchAll(PUNKT_WORD)) out.push(m[0]);
  }
  return out;
}

/** Punkt's first and second annotation passes with empty parameters: does text hold a break? */
function containsSentBreak(text: string): boolean {
  const toks: PunktTok[] = punktWords(text).map((tok) => ({
    tok,
    sentbreak: tok === "." || tok === "?" || tok === "!" ||
      (!RE_ELLIPSIS.test(tok) && tok.endsWith(".") && !tok.endsWith("..")),
  }));
  for (let i = 0; i + 1 < toks.length; i++) {
    const t1 = toks[i], t2 = toks[i + 1];
    if (!t1.tok.endsWith(".")) continue;
    const initial = RE_INITIAL.test(t1.tok);
    const number = RE_NUMERIC.test(t1.tok.toLowerCase());
    if (!initial && !number) continue;
    // The orthographic heuristic with no orthographic context: false for punctuation and
    // lowercase starts, "unknown" otherwise (never true).
    const first = String.fromCodePoint(t2.tok.codePointAt(0)!);
    const lower = /\p{Lowercase}/u.test(first), upper = /\p{Uppercase}/u.test(first);
    const starter = ORTHO_PUNCT.has(t2.tok) || lower ? false : "unknown";
    if (starter === false || (initial && upper)) t1.sentbreak = false;
  }
  for (let i = 0; i + 1 < toks.length; i++) if (toks[i].sentbreak) return true;
  return false;
}

function lastWhitespaceIndex(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) if (PY_WHITESPACE.has(text[i])) return i;
  return 0;
}

/** Candidate sentence ends with their context (Punkt's _match_potential_end_contexts). */
function* potentialEnds(text: string): Generator<[RegExpMatchArray, string]> {
  let prevStart = 0, prevStop = 0;
  let prev: RegExpMatchArray | undefined;
  for (const m of text.matchAll(PERIOD_CONTEXT)) {
    const before = text.slice(prevStop, m.index);
    let after = lastWhitespaceIndex(before);
    if (after) after += prevStop + 1;
    else after = prevStart;
    if (prev && prevStop <= after) {
      yield [prev, text.slice(prevStart, prevStop) + prev[0] + prev.groups!.after];
    }
    prev = m;
    prevStart = after;
    prevStop = m.index!;
  }
  if (prev) yield [prev, text.slice(prevStart, prevStop) + prev[0] + prev.groups!.after];
}

/** Sentence spans of text, as nltk's PunktSentenceTokenizer().tokenize(text). */
export function punktSentences(text: string): string[] {
  const slices: [number, number][] = [];
  let lastBreak = 0;
  for (const [m, context] of potentialEnds(text)) {
    if (!containsSentBreak(context)) continue;
    const end = m.index! + m[0].length;
    slices.push([lastBreak, end]);
    lastBreak = m.groups!.next !== undefined ? end + m.groups!.after.indexOf(m.groups!.next) : end;
  }
  slices.push([lastBreak, text.trimEnd().length]);
  // Realign closing punctuation that follows a break into the sentence it closes.
  const out: string[] = [];
  let realign = 0;
  for (let i = 0; i < slices.length; i++) {
    const s1: [number, number] = [slices[i][0] + realign, slices[i][1]];
    const s2 = slices[i + 1];
    if (!s2) {
      if (s1[1] > s1[0]) out.push(text.slice(s1[0], s1[1]));
      continue;
    }
    const tail = text.slice(s2[0], s2[1]);
    REALIGN.lastIndex = 0;
    const m = REALIGN.exec(tail);
    if (m) {
      out.push(text.slice(s1[0], s2[0] + m[0].trimEnd().length));
      realign = m[0].length;
    } else {
      realign = 0;
      if (s1[1] > s1[0]) out.push(text.slice(s1[0], s1[1]));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// NLTKWordTokenizer (nltk/tokenize/destructive.py), rules in nltk's order.

const CONTRACTIONS2 = [
  ["can", "not"],
  ["d", "'ye"],
  ["gim", "me"],
  ["gon", "na"],
  ["got", "ta"],
  ["lem", "me"],
  ["more", "'n"],
].map(([a, b]) => new RegExp(`${NOT_WORD_BEFORE}(${a})(${b})${NOT_WORD_AFTER}`, "giu"));
const WANNA = new RegExp(String.raw`${NOT_WORD_BEFORE}(wan)(na)(?=\s)`, "giu");
const CONTRACTIONS3 = [
  new RegExp(` ('t)(is)${NOT_WORD_AFTER}`, "giu"),
  new RegExp(` ('t)(was)${NOT_WORD_AFTER}`, "giu"),
];
const QUOTE_SINGLE_CHAR = new RegExp(
  String.raw`(')(?!re|ve|ll|m|t|s|d|n)(${WORD})${NOT_WORD_AFTER}`,
  "giu",
);
const COLON_COMMA = /([:,])([^\p{Nd}])/gu;

/** NLTKWordTokenizer().tokenize(sentence). */
export function treebankTokens(sentence: string): string[] {
  let t = sentence;
  // Starting quotes.
  t = t.replace(/([«“‘„]|`+)/gu, " $1 ");
  t = t.replace(/^"/, "``");
  t = t.replace(/(``)/g, " $1 ");
  t = t.replace(/([ ([{<])("|'{2})/g, "$1 `` ");
  t = t.replace(QUOTE_SINGLE_CHAR, "$1 $2");
  // Punctuation.
  t = t.replace(/([^.])(\.)([\])}>"'»”’ ]*)\s*$/u, "$1 $2 $3 ");
  t = t.replace(COLON_COMMA, " $1 $2");
  t = t.replace(/([:,])$/, " $1 ");
  t = t.replace(/\.{2,}/g, " $& ");
  t = t.replace(/[;@#$%&]/g, " $& ");
  t = t.replace(/([^.])(\.)([\])}>"']*)\s*$/u, "$1 $2$3 ");
  t = t.replace(/[?!]/g, " $& ");
  t = t.replace(/([^'])' /g, "$1 ' ");
  t = t.replace(/[*]/g, " $& ");
  // Brackets and dashes.
  t = t.replace(/[\][(){}<>]/g, " $& ");
  t = t.replace(/--/g, " -- ");
  // Ending quotes and clitics.
  t = " " + t + " ";
  t = t.replace(/([»”’])/gu, " $1 ");
  t = t.replace(/''/g, " '' ");
  t = t.replace(/"/g, " '' ");
  t = t.replace(/([^' ])('[sSmMdD]|') /g, "$1 $2 ");
  t = t.replace(/([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) /g, "$1 $2 ");
  for (const re of CONTRACTIONS2) t = t.replace(re, " $1 $2 ");
  t = t.replace(WANNA, " $1 $2 ");
  for (const re of CONTRACTIONS3) t = t.replace(re, " $1 $2 ");
  return t.split(/\s+/u).filter((w) => w.length > 0);
}

/** nltk.word_tokenize(text) with an untrained Punkt (see the file comment). */
export function wordTokenize(text: string): string[] {
  const out: string[] = [];
  for (const s of punktSentences(text)) for (const w of treebankTokens(s)) out.push(w);
  return out;
}
