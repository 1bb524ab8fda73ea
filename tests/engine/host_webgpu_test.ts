// The Deno host's preparation for WebGPU (engine/host-deno.ts), in a fresh process each: on Linux
// wgpu is asked for its Vulkan backend alone unless DENO_WEBGPU_BACKEND says otherwise, so the GL
// stack (EGL and Mesa's GL rasterizer, with threads of its own that once aborted processes at exit)
// is never loaded; and the Vulkan loader gets a private XDG_RUNTIME_DIR when none is set. When no
// adapter is found under a DENO_WEBGPU_BACKEND the user set, the message names it and its value.

import assert from "node:assert/strict";
import { hasWebGpu } from "../helpers/backends.ts";

const BACKEND_URL = new URL("../../engine/webgpu/backend.ts", import.meta.url).href;

/** Requests an adapter in a new process with `env`; reports what the process then holds. */
async function probe(env: Record<string, string>, clear: string[]) {
  const script = `
    import { requestAdapter } from "${BACKEND_URL}";
    const adapter = await requestAdapter(true);
    const maps = Deno.readTextFileSync("/proc/self/maps");
    console.log(JSON.stringify({
      adapter: adapter !== null,
      backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
      xdg: Deno.env.get("XDG_RUNTIME_DIR") ?? null,
      egl: maps.includes("libEGL"),
    }));
  `;
  const childEnv = { ...Deno.env.toObject(), ...env };
  for (const k of clear) delete childEnv[k];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    env: childEnv,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    // Only a hang trips this (the probe takes a second or two even on a loaded machine).
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(text) as {
    adapter: boolean;
    backend: string | null;
    xdg: string | null;
    egl: boolean;
  };
}

Deno.test({
  name:
    "on Linux an adapter request starts wgpu's Vulkan backend alone, with a private runtime folder",
  ignore: Deno.build.os !== "linux" || !hasWebGpu,
  fn: async () => {
    const got = await probe({}, ["DENO_WEBGPU_BACKEND", "XDG_RUNTIME_DIR"]);
    assert.equal(got.backend, "vulkan");
    assert.equal(got.adapter, true, "lavapipe is a Vulkan adapter");
    assert.equal(got.egl, false, "the GL stack (libEGL) was loaded");
    assert.ok(got.xdg !== null && got.xdg.includes("kne-xdg-"), `XDG_RUNTIME_DIR ${got.xdg}`);
  },
});

Deno.test({
  name: "a DENO_WEBGPU_BACKEND or XDG_RUNTIME_DIR the user set is left alone",
  ignore: Deno.build.os !== "linux" || !hasWebGpu,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const got = await probe({ DENO_WEBGPU_BACKEND: "gl", XDG_RUNTIME_DIR: dir }, []);
      assert.equal(got.backend, "gl");
      assert.equal(got.xdg, dir);
      assert.equal(got.egl, true, "the GL backend the user asked for was not started");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "no adapter under a DENO_WEBGPU_BACKEND the user set: the message names it and its value",
  fn: async () => {
    // "bogus" names no backend wgpu knows, so no adapter is found on any machine; the message
    // said only "no WebGPU adapter found", as if the machine had no GPU.
    const script = `
      import { createBackend } from "${new URL("../../engine/select.ts", import.meta.url).href}";
      try {
        await createBackend("webgpu");
        console.log("an adapter");
      } catch (e) {
        console.log((e as Error).message);
      }
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", script],
      env: { DENO_WEBGPU_BACKEND: "bogus" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      text,
      /^--backend webgpu: no WebGPU adapter found; DENO_WEBGPU_BACKEND is "bogus"/,
    );
    assert.match(text, /unset it, or name one this machine has$/);
  },
});
