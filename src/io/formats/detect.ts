// Which reader a request file needs: named explicitly (`--format`), or "auto", told by the keys of
// its FIRST record (every record is then read with that one reader, so a record of another shape
// later in the file fails on its own fields):
//   requested_rewrite an array        mquake
//   requested_rewrite anything else   counterfact
//   prompt or target_new              knowedit
//   src or alt                        zsre
// A first record that matches none is a RequestError naming its keys and the formats.

import { counterfactRequest } from "./counterfact.ts";
import { validateRequest } from "./knowedit.ts";
import { mquakeRequest } from "./mquake.ts";
import { describeValue, type EditRequest, has, RequestError } from "./record.ts";
import { isPlainObject } from "../json.ts";
import { zsreRequest } from "./zsre.ts";

/** The request file shapes read (RequestOptions.format), "auto" telling them apart. */
export const REQUEST_FORMATS = ["auto", "knowedit", "counterfact", "zsre", "mquake"] as const;
/** A request file shape (REQUEST_FORMATS). */
export type RequestFormat = typeof REQUEST_FORMATS[number];
export type RecordFormat = Exclude<RequestFormat, "auto">;

/** The reader of one record of each format. */
export const RECORD_READERS: Record<
  RecordFormat,
  (value: unknown, file: string, index: number) => EditRequest
> = {
  knowedit: validateRequest,
  counterfact: counterfactRequest,
  zsre: zsreRequest,
  mquake: mquakeRequest,
};

export function isRequestFormat(name: string): name is RequestFormat {
  return (REQUEST_FORMATS as readonly string[]).includes(name);
}

/** "auto, knowedit, counterfact, zsre or mquake" */
export const FORMAT_NAMES = `${REQUEST_FORMATS.slice(0, -1).join(", ")} or ${
  REQUEST_FORMATS[REQUEST_FORMATS.length - 1]
}`;

/** The format of `records` (a parsed file's array) by its first record's keys. */
export function detectFormat(records: readonly unknown[], file: string): RecordFormat {
  // An empty file reads the same in every format.
  if (records.length === 0) return "knowedit";
  const r = records[0];
  if (!isPlainObject(r)) {
    throw new RequestError(file, 0, undefined, `expected an object, got ${describeValue(r)}`);
  }
  if (has(r, "requested_rewrite")) {
    return Array.isArray(r.requested_rewrite) ? "mquake" : "counterfact";
  }
  if (has(r, "prompt") || has(r, "target_new")) return "knowedit";
  if (has(r, "src") || has(r, "alt")) return "zsre";
  const keys = Object.keys(r);
  const shown = keys.slice(0, 8).map((k) => JSON.stringify(k)).join(", ") +
    (keys.length > 8 ? `, ... (${keys.length} keys)` : "");
  throw new RequestError(
    file,
    0,
    undefined,
    `matches no request format (KnowEdit: prompt, subject, target_new; CounterFact: ` +
      `requested_rewrite object; MQuAKE: requested_rewrite array; ZsRE: src, alt, answers), ` +
      `got keys ${keys.length === 0 ? "none" : shown}; name the format with --format`,
  );
}
