// The errors the library's calls throw are exported from mod.ts, so that a caller can tell them
// apart with instanceof (none was: HparamsError, RequestError, EditInputError, SafetensorsError,
// ConfigError, TokenizerError and BackendError could only be matched by name or message); an
// unknown method name and a model folder that is missing or lacks a file throw them too (a plain
// Error before).

import { strict as assert } from "node:assert";
import {
  BackendError,
  ConfigError,
  createBackend,
  decodePatch,
  edit,
  EditInputError,
  freeModel,
  HparamsError,
  loadModelFromDir,
  loadModelFromFileMap,
  loadModelFromUrl,
  methodByName,
  ModelFileError,
  parseHparams,
  parseRequests,
  RequestError,
  SafetensorsError,
  simpleRequest,
  TokenizerError,
  TorchCheckpointError,
} from "../../mod.ts";

const MODEL = "models/kne-facts";

Deno.test("the errors the library throws are exported from mod.ts", async () => {
  const is = (cls: new (...a: never[]) => Error) => (e: unknown) => e instanceof cls;
  await assert.rejects(() => createBackend("gpu" as "wasm"), is(BackendError));
  const rome = methodByName("rome");
  assert.throws(() => parseHparams({ layers: 1 }, rome.defaults, rome.schema), is(HparamsError));
  assert.throws(() => parseRequests("[{}]", "requests.json"), is(RequestError));
  await assert.rejects(() => decodePatch("patch", new Uint8Array(3)), is(SafetensorsError));
  for (const cls of [SafetensorsError, ConfigError, TokenizerError, TorchCheckpointError]) {
    assert.ok(new cls("f", null, "x") instanceof ModelFileError, cls.name);
  }
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    await assert.rejects(() => edit(m, simpleRequest("", "Rome")), is(EditInputError));
    const files = async (config: unknown, tokenizer: unknown) =>
      new Map([
        ["config.json", new TextEncoder().encode(JSON.stringify(config))],
        ["tokenizer.json", new TextEncoder().encode(JSON.stringify(tokenizer))],
        ["model.safetensors", await Deno.readFile(`${MODEL}/model.safetensors`)],
      ]);
    const config = JSON.parse(await Deno.readTextFile(`${MODEL}/config.json`));
    const tokenizer = JSON.parse(await Deno.readTextFile(`${MODEL}/tokenizer.json`));
    await assert.rejects(
      async () =>
        loadModelFromFileMap("picked", await files({ ...config, n_layer: -1 }, tokenizer), backend),
      is(ConfigError),
    );
    await assert.rejects(
      async () => loadModelFromFileMap("picked", await files(config, { model: 1 }), backend),
      is(TokenizerError),
    );
  } finally {
    await backend.dispose();
  }
});

Deno.test("an unknown method and a broken model folder throw the library's named errors", async () => {
  /** `e` is exactly `cls` (not a subclass, not a plain Error) and its message matches `re`. */
  const exactly = (cls: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => {
    assert.ok(e instanceof Error && e.constructor === cls, `${e} is not a ${cls.name}`);
    assert.match(e.message, re);
    return true;
  };
  // A bad method name, with the accepted ones (a plain Error, as in edit() with "rome2").
  const names = /"rome2".*kne, kne-paper, ft-l, ft-m, kn, rome, memit/;
  assert.throws(() => methodByName("rome2"), exactly(EditInputError, names));
  const tmp = await Deno.makeTempDir({ prefix: "kne-folder-errors-" });
  const backend = await createBackend("wasm");
  try {
    const m = await loadModelFromDir(MODEL, backend);
    await assert.rejects(
      () => edit(m, simpleRequest("The capital of France is", "Rome"), { method: "rome2" }),
      exactly(EditInputError, names),
    );
    await freeModel(m);
    // A folder on disk: missing, without config.json, with a config.json that is no JSON, without
    // weights (each a plain Error before but the last).
    const dir = (name: string) => `${tmp}/${name}`;
    await Deno.mkdir(dir("empty"));
    await Deno.mkdir(dir("bad-config"));
    await Deno.writeTextFile(`${dir("bad-config")}/config.json`, "{");
    await Deno.mkdir(dir("no-weights"));
    for (const f of ["config.json", "tokenizer.json"]) {
      await Deno.copyFile(`${MODEL}/${f}`, `${dir("no-weights")}/${f}`);
    }
    const onDisk: [string, new (...a: never[]) => Error, RegExp][] = [
      [dir("missing"), ModelFileError, /missing: no such folder/],
      [dir("empty"), ConfigError, /empty\/config\.json: cannot read/],
      [dir("bad-config"), ConfigError, /bad-config\/config\.json: not valid JSON/],
      [dir("no-weights"), ModelFileError, /no-weights\/model\.safetensors.*file not found/],
    ];
    for (const [path, cls, re] of onDisk) {
      await assert.rejects(() => loadModelFromDir(path, backend), exactly(cls, re));
      // The same folder by URL: each file's own error.
      const url = new URL(`file://${path}/`);
      const byUrl = cls === ModelFileError && path.endsWith("missing") ? ConfigError : cls;
      await assert.rejects(() => loadModelFromUrl(url, backend), (e) => e instanceof byUrl);
    }
    // A folder given as its files, one of them left out: the missing file's error.
    const all = async () =>
      new Map<string, Uint8Array>(
        await Promise.all(
          ["config.json", "tokenizer.json", "model.safetensors"].map(async (f) =>
            [f, await Deno.readFile(`${MODEL}/${f}`)] as [string, Uint8Array]
          ),
        ),
      );
    const left: [string, new (...a: never[]) => Error][] = [
      ["config.json", ConfigError],
      ["tokenizer.json", TokenizerError],
      ["model.safetensors", ModelFileError],
    ];
    for (const [name, cls] of left) {
      const files = await all();
      files.delete(name);
      await assert.rejects(
        () => loadModelFromFileMap("picked", files, backend),
        exactly(cls, new RegExp(`^picked/${name.replace(".", "\\.")}: not found`)),
      );
    }
    const files = await all();
    files.set("config.json", new TextEncoder().encode("{"));
    await assert.rejects(
      () => loadModelFromFileMap("picked", files, backend),
      exactly(ConfigError, /^picked\/config\.json: not valid JSON/),
    );
  } finally {
    await backend.dispose();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("outside Deno, mod.ts loads and loadModelFromDir throws a ModelFileError saying why", async () => {
  // As a browser has it: no Deno global before mod.ts is imported. The call failed with
  // "ReferenceError: Deno is not defined".
  const script = `
    delete globalThis.Deno;
    const mod = await import("./mod.ts");
    await mod.loadModelFromDir("${MODEL}", null).then(
      () => console.log("loaded"),
      (e) => console.log(JSON.stringify([e instanceof mod.ModelFileError, e.message])),
    );
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, text + new TextDecoder().decode(out.stderr));
  const [isModelFileError, message] = JSON.parse(text);
  assert.ok(isModelFileError, message);
  assert.match(message, /^models\/kne-facts: loadModelFromDir reads a folder on disk, which only/);
  assert.match(message, /loadModelFromUrl .* loadModelFromFileMap/);
});
