// The covariance statistics through the page's host (src/methods/covariance-host-web.ts), served
// over HTTP: covTexts fetched by URL give the key moment that the same texts give through the Deno
// host, the corpus comes from its JSON file, and a second model with the same weights takes the
// moment from Cache Storage, bit for bit.

import { keyCovariance } from "../../src/methods/covariance.ts";
import { setCovarianceHost } from "../../src/methods/covariance-host.ts";
import { denoCovarianceHost } from "../../src/methods/covariance-host-deno.ts";
import { webCovarianceHost } from "../../src/methods/covariance-host-web.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { disposeModel } from "../../src/model/build.ts";
import { testBackends } from "../helpers/backends.ts";
import { assert, TINY } from "../helpers/tiny.ts";

const TEXTS = ["The capital of France is Paris .", "The capital of Spain is Madrid ."];

/** Serves `files` (path -> text) on a free port; other paths answer 404. */
function serveFiles(files: Record<string, string>) {
  let resolve!: (url: string) => void;
  const url = new Promise<string>((r) => (resolve = r));
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: (a) => resolve(`http://127.0.0.1:${a.port}/`),
  }, (req) => {
    const text = files[new URL(req.url).pathname];
    return new Response(text ?? "not found", { status: text === undefined ? 404 : 200 });
  });
  return { server, url };
}

testBackends(
  "key moments through the page's host: fetched texts and corpus, Cache Storage",
  async (be) => {
    const { server, url } = serveFiles({
      "/texts.txt": TEXTS.join("\n"),
      "/corpus.json": JSON.stringify(TEXTS),
    });
    const dir = await Deno.makeTempDir({ prefix: "kne-cov-web-" });
    const prev = Deno.env.get("KNE_CACHE_DIR");
    Deno.env.set("KNE_CACHE_DIR", dir);
    const cacheName = `kne-covariance-test-${crypto.randomUUID()}`;
    const m1 = await loadModel(TINY, be);
    const m2 = await loadModel(TINY, be);
    const m3 = await loadModel(TINY, be);
    try {
      const base = await url;
      const opts = { texts: "texts.txt", maxTexts: 100, prompts: [] };
      // The reference: the same texts as a file, through the Deno host (the default).
      await Deno.writeTextFile(`${dir}/texts.txt`, TEXTS.join("\n"));
      const want = (await keyCovariance(m1.model, m1.tokenizer!, [1], {
        ...opts,
        texts: `${dir}/texts.txt`,
      })).get(1)!;
      setCovarianceHost(webCovarianceHost({ corpus: "corpus.json", base, cacheName }));
      const a = (await keyCovariance(m2.model, m2.tokenizer!, [1], opts)).get(1)!;
      assert(!a.cached && a.texts === 2, `first: cached ${a.cached}, ${a.texts} texts`);
      assert(a.moment.every((x, i) => x === want.moment[i]), "fetched texts: another moment");
      assert(a.file?.includes(cacheName), `stored at ${a.file}`);
      const b = (await keyCovariance(m3.model, m3.tokenizer!, [1], opts)).get(1)!;
      assert(b.cached, "a second model with the same weights did not hit Cache Storage");
      assert(b.moment.every((x, i) => x === a.moment[i]), "the stored moment differs");
      const corpus = (await keyCovariance(m3.model, m3.tokenizer!, [0], {
        ...opts,
        texts: "corpus",
      })).get(0)!;
      assert(corpus.source === "corpus" && corpus.texts === 2, `corpus: ${corpus.texts} texts`);
    } finally {
      setCovarianceHost(denoCovarianceHost);
      for (const m of [m1, m2, m3]) disposeModel(m.model);
      await caches.delete(cacheName);
      if (prev === undefined) Deno.env.delete("KNE_CACHE_DIR");
      else Deno.env.set("KNE_CACHE_DIR", prev);
      await Deno.remove(dir, { recursive: true });
      await server.shutdown();
    }
  },
);
