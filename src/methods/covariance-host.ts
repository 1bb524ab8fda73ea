// Where ROME's and MEMIT's covariance statistics (./covariance.ts) get what lies outside the
// model: the fact corpus's training texts, a covTexts file, and a store that keeps computed key
// moments across runs. Deno (the default, ./covariance-host-deno.ts) builds the corpus and reads
// and writes files under .cache/kne; a page sets a host that fetches the corpus and covTexts
// files by URL and keeps moments in the browser's Cache Storage (./covariance-host-web.ts).

import { hostSlot } from "../../engine/host-slot.ts";

/**
 * What ROME's and MEMIT's covariance statistics read from outside the model: the corpus, covTexts
 * files, and a store for computed key moments. Deno's (the default) reads files; a page sets
 * webCovarianceHost's with setCovarianceHost.
 */
export interface CovarianceHost {
  /** The fact corpus's training texts (src/facts/corpus.ts buildCorpus().train). */
  corpusTexts(): Promise<string[]>;
  /** The text of a covTexts file (a path under Deno, a URL relative to the page). */
  readText(path: string): Promise<string>;
  /** Where the store keeps the entry `name`, for messages and KeyMoment.file. */
  cacheLocation(name: string): string;
  /** The stored bytes of entry `name`, or null when there are none. */
  readCache(name: string): Promise<Uint8Array | null>;
  /** Stores `bytes` as entry `name` (a store that cannot keep it may drop it). */
  writeCache(name: string, bytes: Uint8Array): Promise<void>;
}

const slot = hostSlot<CovarianceHost>(
  new URL("./covariance-host-deno.ts", import.meta.url),
  "denoCovarianceHost",
  "no covariance host: a page sets one (webCovarianceHost) with setCovarianceHost",
);

/** The host the covariance statistics use: the one set, else under Deno Deno's. */
export function covarianceHost(): Promise<CovarianceHost> {
  return slot.ready();
}

/** Replaces the host (a page does this once, before the first ROME or MEMIT edit). */
export function setCovarianceHost(host: CovarianceHost): void {
  slot.set(host);
}
