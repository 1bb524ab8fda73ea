// bench/train.ts's rows as a table, one aligned line per shape (without --json, which prints each
// row as one JSON object): the step's figures, PyTorch's on the same shape ("torch") and the
// ratio of the tokens per second, and under the table what the peer was (its version and
// threads) or why it was not measured, each such line once.

/** One shape's figures, as bench/train.ts measures them and --json prints them. */
export interface TrainRow {
  shape: string;
  params: number;
  batch: number;
  rowTokens: number;
  secondsPerStep: number;
  tokensPerSecond: number;
  /** The peer's figures (secondsPerStep, tokensPerSecond, ratio, torch, threads), or a `note`. */
  pytorch: Record<string, unknown>;
  backend: string;
}

const NONE = "-";

/** Header, width (a minimum; cells wider push the line) and cell of each column. */
const COLUMNS: [string, number, (r: TrainRow) => string][] = [
  ["shape", 10, (r) => r.shape],
  ["params", 10, (r) => String(r.params)],
  ["batch", 5, (r) => String(r.batch)],
  ["tokens/row", 10, (r) => String(r.rowTokens)],
  ["s/step", 7, (r) => r.secondsPerStep.toFixed(3)],
  ["tokens/s", 9, (r) => String(r.tokensPerSecond)],
  ["torch s/step", 12, (r) => numberOr(r.pytorch.secondsPerStep, 3)],
  ["torch tokens/s", 14, (r) => numberOr(r.pytorch.tokensPerSecond, 0)],
  ["ratio", 5, (r) => numberOr(r.pytorch.ratio, 2)],
];

function numberOr(x: unknown, digits: number): string {
  return typeof x === "number" ? x.toFixed(digits) : NONE;
}

/** The first column left-aligned, the figures right-aligned, two spaces apart. */
function line(cells: string[]): string {
  return cells.map((c, i) => i === 0 ? c.padEnd(COLUMNS[i][1]) : c.padStart(COLUMNS[i][1]))
    .join("  ").trimEnd();
}

export function tableHeader(): string {
  return line(COLUMNS.map(([header]) => header));
}

export function tableRow(r: TrainRow): string {
  return line(COLUMNS.map(([, , cell]) => cell(r)));
}

/** What the peer of a row was, or why it was not measured (printed under the table). */
export function peerNote(r: TrainRow): string {
  const p = r.pytorch;
  if (typeof p.note === "string") return p.note;
  const threads = typeof p.threads === "number" ? `, ${p.threads} threads` : "";
  return `torch: PyTorch ${
    typeof p.torch === "string" ? p.torch : "(version unknown)"
  } CPU${threads}`;
}
