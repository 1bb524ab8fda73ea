// The covariance statistics' host under Deno: the fact corpus is built in-process, covTexts are
// file paths, and key moments are cached as files in .cache/kne/ at the repository root (override
// with KNE_CACHE_DIR), written atomically into a git-ignored folder.

import type { CovarianceHost } from "./covariance-host.ts";

export function cacheDir(): string {
  const env = Deno.env.get("KNE_CACHE_DIR");
  if (env) return env;
  return new URL("../../.cache/kne", import.meta.url).pathname;
}

/**
 * The fact world, imported when first needed: it pulls in sizeable npm data packages, one of
 * which reads its data file with node:fs.
 */
async function corpusTexts(): Promise<string[]> {
  const { buildCorpus } = await import("../facts/corpus.ts");
  return buildCorpus().train;
}

async function readCache(name: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(`${cacheDir()}/${name}`);
  } catch {
    return null;
  }
}

async function writeCache(name: string, bytes: Uint8Array): Promise<void> {
  const dir = cacheDir();
  await Deno.mkdir(dir, { recursive: true });
  // Keep the cache out of git even where .gitignore does not list it.
  await Deno.writeTextFile(`${dir}/.gitignore`, "*\n", { createNew: true }).catch(() => {});
  const file = `${dir}/${name}`;
  const tmp = `${file}.${Deno.pid}.tmp`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, file);
}

export const denoCovarianceHost: CovarianceHost = {
  corpusTexts,
  readText: (path) => Deno.readTextFile(path),
  cacheLocation: (name) => `${cacheDir()}/${name}`,
  readCache,
  writeCache,
};
