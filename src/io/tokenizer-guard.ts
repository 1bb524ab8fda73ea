// Guards around a tokenizer.json that users download: patterns that could backtrack
// exponentially are refused before anything is encoded (checkTokenizerFile), and encoded ids are
// checked against the vocabulary (guardTokenizer), so a bad tokenizer is a TokenizerError, never
// a hang or an out-of-bounds embedding lookup.

import { join } from "node:path";
import { readRegularText } from "./files.ts";
import { type Tokenizer, TokenizerError } from "./tokenizer.ts";

/**
 * The tokenizer with encode() checked: every id must be an integer inside its vocabulary. A
 * tokenizer.json can load and still encode to ids that are undefined, fractional or far past
 * the vocabulary (e.g. a Unigram unk_id of 10^9, a BPE unk_token missing from the vocab), and
 * those ids would index the embedding table out of bounds; and some malformed ones only fail
 * inside the library when they encode (TypeError...). Both become a TokenizerError.
 */
export function guardTokenizer(tok: Tokenizer): Tokenizer {
  return {
    file: tok.file,
    vocabSize: tok.vocabSize,
    leadingIds: tok.leadingIds,
    addsPrefixSpace: tok.addsPrefixSpace,
    encode(text, options) {
      let ids: number[];
      try {
        ids = tok.encode(text, options);
      } catch (e) {
        if (e instanceof TokenizerError) throw e;
        // The library fails on some malformed tokenizers only when it encodes.
        throw new TokenizerError(
          tok.file,
          null,
          `cannot encode ${JSON.stringify(text.slice(0, 60))}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
          throw new TokenizerError(
            tok.file,
            null,
            `encodes ${JSON.stringify(text.slice(0, 60))} to token id ${
              String(id).slice(0, 40)
            }, outside [0, ${tok.vocabSize})`,
          );
        }
      }
      return ids;
    },
    decode(ids, options) {
      try {
        return tok.decode(ids, options);
      } catch (e) {
        if (e instanceof TokenizerError) throw e;
        throw new TokenizerError(tok.file, null, `cannot decode: ${(e as Error).message}`, {
          cause: e,
        });
      }
    },
    tokenToId: (token) => tok.tokenToId(token),
    idToToken: (id) => tok.idToToken(id),
  };
}

/** Most repeats in a row a pattern may hold (GPT-2's has 1, Llama 3's and Qwen2's 2). */
export const MAX_REPEATS_IN_A_ROW = 2;

/**
 * Why matching a regular expression could take time that grows fast with the text, or null:
 * - it repeats a group whose content can match in more than one way: a group quantified by a
 *   repeat (`*`, `+`, `{n,}`, `{n,m}` with m > 1) that holds a quantifier (`(a+)+`, `(\w+\s?)*`,
 *   `(a?){30}`, `(.*a){12}`) or an alternation (`(a|aa)+`, `(x|y)*`): exponential backtracking;
 * - or one alternative holds more than MAX_REPEATS_IN_A_ROW repeats in sequence (`a*a*a*$`,
 *   `.*x.*x.*x`), which backtracks with a polynomial of that degree (`a*a*a*a*a*a*a*a*$` took
 *   5.2 s on 41 letters).
 * What passes tries at most about n^2 ways per start position on a text of n characters. Real
 * tokenizer patterns (GPT-2, Llama 3, Qwen2) pass. Escapes and character classes are skipped;
 * lookarounds count like groups. The check is conservative: some safe patterns (`(ab|cd)+`,
 * `a*b*c*`) are refused too.
 */
export function backtrackingReason(re: string): string | null {
  // Per open group: does its content hold a quantifier, or an alternation at its own level; and
  // its repeats in a row: in the current alternative, and the most of the finished ones.
  type Frame = { quant: boolean; alt: boolean; row: number; most: number };
  const frame = (): Frame => ({ quant: false, alt: false, row: 0, most: 0 });
  const root = frame();
  const stack: Frame[] = [];
  const top = () => stack[stack.length - 1] ?? root;
  const quantAt = (k: number): { len: number; repeats: boolean } | null => {
    const c = re[k];
    if (c === "*" || c === "+") {
      return { len: re[k + 1] === "?" || re[k + 1] === "+" ? 2 : 1, repeats: true };
    }
    if (c === "?") return { len: re[k + 1] === "?" ? 2 : 1, repeats: false };
    const m = c === "{" ? /^\{(\d*)(,?)(\d*)\}/.exec(re.slice(k)) : null;
    if (!m) return null;
    const max = m[2] ? (m[3] === "" ? Infinity : Number(m[3])) : Number(m[1]);
    return { len: m[0].length, repeats: max > 1 };
  };
  const markQuant = () => {
    if (stack.length) stack[stack.length - 1].quant = true;
  };
  // An atom (or a group) that repeats, or the repeats in a row inside a group that does not.
  const addRow = (n: number) => {
    top().row += n;
  };
  const quantAfterAtom = (k: number): number => {
    const q = quantAt(k);
    if (q) markQuant();
    if (q?.repeats) addRow(1);
    return q ? q.len : 0;
  };
  let i = 0;
  while (i < re.length) {
    const c = re[i];
    if (c === "\\") {
      i += 2;
      i += quantAfterAtom(i);
    } else if (c === "[") {
      i++;
      if (re[i] === "^") i++;
      if (re[i] === "]") i++;
      while (i < re.length && re[i] !== "]") i += re[i] === "\\" ? 2 : 1;
      i++;
      i += quantAfterAtom(i);
    } else if (c === "(") {
      stack.push(frame());
      // Skip a group prefix: (?:  (?=  (?!  (?<=  (?<!  (?<name>  (?i:
      const prefix = /^\((\?(?:[:=!]|<[=!]|<[^>]*>|[a-zA-Z-]+:))?/.exec(re.slice(i))!;
      i += prefix[0].length;
    } else if (c === "|") {
      const f = top();
      f.alt = f !== root;
      f.most = Math.max(f.most, f.row);
      f.row = 0;
      i++;
    } else if (c === ")") {
      const inner = stack.pop() ?? frame();
      i++;
      const q = quantAt(i);
      if (q?.repeats && (inner.quant || inner.alt)) {
        return "it repeats a group that can match in several ways (a repeat or an alternation " +
          "inside): matching it can take exponential time";
      }
      if (q) i += q.len;
      if (inner.quant || q) markQuant();
      addRow(q?.repeats ? 1 : Math.max(inner.most, inner.row));
    } else {
      i++;
      i += quantAfterAtom(i);
    }
    // Repeats in a row on the path being read: the open groups' current alternatives.
    const rows = stack.reduce((a, f) => a + f.row, root.row);
    if (rows > MAX_REPEATS_IN_A_ROW) {
      return `it holds ${rows} or more repeats in a row (at most ${MAX_REPEATS_IN_A_ROW}): ` +
        `matching it can take time of degree ${rows} or more in the text's length`;
    }
  }
  return null;
}

/** Whether backtrackingReason finds a pattern that could make encoding take runaway time. */
export function backtrackingRisk(re: string): boolean {
  return backtrackingReason(re) !== null;
}

/**
 * Reads `<dir>/tokenizer.json` and refuses regular expressions (split and replace patterns,
 * anywhere in it) that backtrackingRisk flags, which could make encoding a prompt take
 * exponential time.
 */
export async function checkTokenizerFile(dir: string): Promise<void> {
  const file = join(dir, "tokenizer.json");
  let json: unknown;
  try {
    json = JSON.parse(await readRegularText(file));
  } catch {
    return; // loadTokenizer reports unreadable or invalid files
  }
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        const why = k === "Regex" && typeof x === "string" ? backtrackingReason(x) : null;
        if (why) {
          throw new TokenizerError(
            file,
            `${path}.Regex`.replace(/^\./, ""),
            `pattern ${JSON.stringify((x as string).slice(0, 60))}: ${why}, so this ` +
              `tokenizer is refused`,
          );
        }
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(json, "");
}
