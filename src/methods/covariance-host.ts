// Where ROME's and MEMIT's covariance statistics (./covariance.ts) get what lies outside the
// model: the fact corpus's training texts, a covTexts file, and a store that keeps computed key
// moments across runs. Deno (the default, ./covariance-host-deno.ts) builds the corpus and reads
// and writes files under .cache/kne; a page sets a host that fetches the corpus and covTexts
// files by URL and keeps moments in the browser's Cache Storage (./covariance-host-web.ts).

import type { denoCovarianceHost as DenoCovarianceHost } from "./covariance-host-deno.ts";

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

/**
 * Deno's host, under Deno. It is imported by a computed specifier so that a page's bundle, whose
 * worker sets its own host first, does not carry Deno's file reads and writes.
 */
async function defaultHost(): Promise<CovarianceHost | null> {
  if (typeof Deno === "undefined") return null;
  const url = new URL("./covariance-host-deno.ts", import.meta.url).href;
  const { denoCovarianceHost }: { denoCovarianceHost: typeof DenoCovarianceHost } = await import(
    url
  );
  return denoCovarianceHost;
}

let current: CovarianceHost | null = await defaultHost();

/** The host the covariance statistics use now. */
export function covarianceHost(): CovarianceHost {
  if (!current) {
    throw new Error(
      "no covariance host: a page sets one (webCovarianceHost) with setCovarianceHost",
    );
  }
  return current;
}

/** Replaces the host (a page does this once, before the first ROME or MEMIT edit). */
export function setCovarianceHost(host: CovarianceHost): void {
  current = host;
}
