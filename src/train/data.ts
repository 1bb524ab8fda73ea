// What a training step reads: batches of token rows (ids and next-token targets, -1 where a row
// is padding), from one of two sources:
// - sentences (the template corpus of kne-facts): one sentence per row, padded to the batch's
//   longest, in a seeded order reshuffled every epoch;
// - packed text (the free-text corpus of kne-facts-base): each pass's documents encoded, each
//   followed by the end-of-text token, concatenated and cut into rows of exactly ctx + 1 tokens
//   (the last partial row dropped), as GPT-2 was trained. A pass's rows are built when the pass
//   starts, so the loop holds one pass at a time.

import { mulberry32, shuffled } from "../random/rng.ts";

export interface Batch {
  ids: number[];
  targets: number[];
  rows: number;
}

export interface BatchSource {
  /** Rows in epoch (pass) `epoch`. */
  size(epoch: number): number;
  /** Rows [from, to) of epoch `epoch`. */
  batch(epoch: number, from: number, to: number): Batch;
  /** What one row is, for the log and the card ("sentences", "128-token windows"). */
  readonly unit: string;
}

function toBatch(rows: ArrayLike<number>[]): Batch {
  const t = Math.max(...rows.map((s) => s.length)) - 1;
  const ids: number[] = [], targets: number[] = [];
  for (const s of rows) {
    for (let i = 0; i < t; i++) {
      ids.push(i < s.length - 1 ? s[i] : 0);
      targets.push(i < s.length - 1 ? s[i + 1] : -1);
    }
  }
  return { ids, targets, rows: rows.length };
}

export function sentenceSource(seqs: number[][], seed: number): BatchSource {
  let cached = -1;
  let order: number[] = [];
  const orderOf = (epoch: number) => {
    if (epoch !== cached) {
      order = shuffled(seqs.map((_, i) => i), mulberry32(seed * 1000 + epoch));
      cached = epoch;
    }
    return order;
  };
  return {
    unit: "sentences",
    size: () => seqs.length,
    batch: (epoch, from, to) => toBatch(orderOf(epoch).slice(from, to).map((i) => seqs[i])),
  };
}

/** Cut `docs` (encoded, each followed by `eot`) into rows of `ctx + 1` tokens. */
export function packRows(docs: readonly number[][], eot: number, ctx: number): Int32Array[] {
  const stream: number[] = [];
  for (const d of docs) stream.push(...d, eot);
  const rows: Int32Array[] = [];
  for (let i = 0; i + ctx + 1 <= stream.length; i += ctx + 1) {
    rows.push(Int32Array.from(stream.slice(i, i + ctx + 1)));
  }
  return rows;
}

export function packedSource(
  documents: (pass: number) => string[],
  encode: (text: string) => number[],
  eot: number,
  ctx: number,
): BatchSource {
  let cached = -1;
  let rows: Int32Array[] = [];
  const rowsOf = (pass: number) => {
    if (pass !== cached) {
      rows = packRows(documents(pass).map(encode), eot, ctx);
      cached = pass;
    }
    return rows;
  };
  return {
    unit: `${ctx}-token windows`,
    size: (pass) => rowsOf(pass).length,
    batch: (pass, from, to) => toBatch(rowsOf(pass).slice(from, to)),
  };
}
