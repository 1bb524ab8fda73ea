// The page's server (scripts/serve.ts): every answer carries the cross-origin isolation headers,
// every shipped model and request file is served with its type, and nothing outside the mounts is.
// A HEAD request is answered with GET's headers, its content-length included, and no body.

import { strict as assert } from "node:assert";
import { fileFor, handle, serve } from "../../scripts/serve.ts";
import { SHIPPED_SPLITS } from "../../src/pipeline/models.ts";

const get = (path: string) => handle(new Request(`http://127.0.0.1${path}`));

Deno.test("served files carry COOP/COEP and their content type", async () => {
  const res = await get("/models/kne-facts/config.json");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cross-origin-opener-policy"), "same-origin");
  assert.equal(res.headers.get("cross-origin-embedder-policy"), "require-corp");
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(JSON.parse(await res.text()).n_layer > 0, true);
  const missing = await get("/models/kne-facts/nothing.json");
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("cross-origin-embedder-policy"), "require-corp");
  await missing.body?.cancel();
});

Deno.test("every shipped model is served with its request files", async () => {
  for (const [name, splits] of Object.entries(SHIPPED_SPLITS)) {
    for (const path of [`/models/${name}/config.json`, `/${splits.demo}`, `/${splits.test}`]) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
  }
});

Deno.test("paths outside the mounts or climbing out of them are refused", async () => {
  for (const path of ["/../deno.json", "/models/kne-facts/../../deno.json", "/%2e%2e/deno.json"]) {
    assert.equal(fileFor(path), null, path);
  }
  assert.equal(fileFor("/models/other/config.json")?.pathname.includes("build/web/"), true);
  // A malformed percent-encoding is a 404, not a URIError (a 500 with a stack in the log).
  for (const path of ["/models/kne-facts/%2e%2e/%2e%2e/deno.json", "/.git/config", "/%", "/a%zz"]) {
    const res = await get(path);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
  const post = await handle(new Request("http://127.0.0.1/", { method: "POST" }));
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("a backslash or a twice-encoded dot never climbs out of a mount", async () => {
  // A file: URL reads "\" as "/" and a "%2e%2e" segment as "..": these paths served README.md,
  // .git/config and /etc/passwd.
  for (
    const path of [
      "/x%5C..%5C..%5C..%5CREADME.md",
      "/x%5C..%5C..%5C..%5C..%5C..%5C..%5Cetc%5Cpasswd",
      "/models/kne-facts/x%5C..%5C..%5C..%5Cdeno.json",
      "/%252e%252e/%252e%252e/README.md",
      "/%252E%252E/%252E%252E/deno.json",
      "/models/kne-facts/%252e%252e/%252e%252e/deno.json",
      "/data/requests/%252e%252e/%252e%252e/deno.json",
    ]
  ) {
    // Refused, or the file of that odd name inside the mount it asked for (which is not there).
    const file = fileFor(path);
    const mount = path.startsWith("/models/")
      ? "models/kne-facts/"
      : path.startsWith("/data/")
      ? "data/requests/"
      : "build/web/";
    assert.ok(
      file === null || file.href.startsWith(new URL(`../../${mount}`, import.meta.url).href),
    );
    const res = await get(path);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
  // A file whose name merely holds a percent sign stays inside its mount.
  const inside = fileFor("/models/kne-facts/a%2541.json");
  assert.ok(inside === null || inside.pathname.includes("/models/kne-facts/"));
});

Deno.test("HEAD answers with GET's headers, the body's length included, and no body", async () => {
  // Through the server, which sets what a handler leaves out: HEAD for / used to say
  // content-length 0 (and GET sent its files chunked, without a length).
  const { server, url } = serve(0);
  try {
    const page = await url;
    const got = await fetch(page);
    const body = new Uint8Array(await got.arrayBuffer());
    const head = await fetch(page, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal(got.headers.get("content-length"), String(body.length));
    const fields = (r: Response) => [...r.headers].filter(([k]) => k !== "date");
    assert.deepEqual(fields(head), fields(got));
    assert.ok(body.length > 0);
  } finally {
    await server.shutdown();
  }
});
