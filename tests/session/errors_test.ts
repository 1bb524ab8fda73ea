// The errors the library's calls throw are exported from mod.ts, so that a caller can tell them
// apart with instanceof (none was: HparamsError, RequestError, EditInputError, SafetensorsError,
// ConfigError, TokenizerError and BackendError could only be matched by name or message).

import { strict as assert } from "node:assert";
import {
  BackendError,
  ConfigError,
  createBackend,
  decodePatch,
  edit,
  EditInputError,
  HparamsError,
  loadModelFromDir,
  loadModelFromFileMap,
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
