// The covariance statistics' host in a browser: the fact corpus's training texts come as one JSON
// array by URL (scripts/build-web.ts writes it), covTexts files are fetched relative to a base URL,
// and key moments are kept in the browser's Cache Storage, so a ROME or MEMIT edit after a reload
// skips the pass over the corpus as a second Deno run does. Without Cache Storage (an insecure
// origin) nothing is kept.

import type { CovarianceHost } from "./covariance-host.ts";

/** Where webCovarianceHost fetches the corpus and covTexts files and keeps key moments. */
export interface CovarianceAssets {
  /** URL of a JSON array of strings: the fact corpus's training texts. */
  corpus: string | URL;
  /** Base URL that covTexts file names are resolved against. */
  base: string | URL;
  /** Cache Storage name (default "kne-covariance"). */
  cacheName?: string;
}

async function fetchOk(url: URL): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url}: HTTP ${res.status}`);
  }
  return res;
}

/** A host over the page's URLs (pass it to setCovarianceHost). */
export function webCovarianceHost(assets: CovarianceAssets): CovarianceHost {
  const cacheName = assets.cacheName ?? "kne-covariance";
  const base = new URL(assets.base);
  // Cache Storage keys are requests: one URL per entry, under the page's origin.
  const keyOf = (name: string) => new URL(`kne-covariance/${encodeURIComponent(name)}`, base);
  const store = () => "caches" in globalThis ? caches.open(cacheName) : Promise.resolve(null);
  let corpus: Promise<string[]> | null = null;
  return {
    corpusTexts: () =>
      corpus ??= fetchOk(new URL(assets.corpus, base)).then(async (r) => {
        const v: unknown = await r.json();
        if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
          throw new Error(`${assets.corpus}: expected a JSON array of strings`);
        }
        return v;
      }),
    readText: async (path) => await (await fetchOk(new URL(path, base))).text(),
    cacheLocation: (name) => `Cache Storage "${cacheName}": ${name}`,
    async readCache(name) {
      const hit = await (await store())?.match(keyOf(name));
      return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
    },
    async writeCache(name, bytes) {
      const body = new Uint8Array(bytes);
      await (await store())?.put(keyOf(name), new Response(body));
    },
  };
}
