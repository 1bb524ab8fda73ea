// The page in a real browser (Debian's chromium, headless, driven by puppeteer-core): it edits
// "The capital of France is" -> "Rome" on models/kne-facts on the WASM backend (KNE with the
// model's hyperparameters and anchor split) and on WebGPU (SwiftShader; without the KL term), and
// the after-completion and Edit Succ. it shows must be those of the same edit run in Deno through
// the library (mod.ts); on WASM, reverting restores the unedited completion, and
// the downloaded patch.safetensors, applied, restores the edit. Screenshots go to a temporary
// folder. Without a chromium the test is ignored, except under CI=true, where it fails.

/// <reference lib="dom" />

import { strict as assert } from "node:assert";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import {
  complete,
  createBackend,
  edit,
  loadModelFromDir,
  revertChanges,
  SHIPPED_SPLITS,
  simpleRequest,
} from "../../mod.ts";
import { loadRequests } from "../../src/io/requests.ts";
import { serve } from "../../scripts/serve.ts";

const CHROMIUM = "/usr/bin/chromium";
const PROMPT = "The capital of France is";
const TARGET = "Rome";
const MODEL = "models/kne-facts";
const NO_KL = { klWeight: 0 };

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const present = hasChromium();
if (!present && Deno.env.get("CI") === "true") {
  throw new Error(`${CHROMIUM} is missing: CI must install chromium (.ci/run does)`);
}

async function buildWeb(): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/build-web.ts"],
    cwd: new URL("../../", import.meta.url),
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0, "scripts/build-web.ts failed");
}

/** Runs the edit in the page on `backend`; returns what the page shows. */
/**
 * Runs the edit in the page on `backend` with `hparams` (the page's own, over the model's file);
 * `full` also reverts, completes, edits again and applies the downloaded patch.
 */
async function editInPage(
  page: Page,
  url: string,
  backend: string,
  hparams: string,
  full: boolean,
) {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${url}?backend=${backend}&model=kne-facts`);
  const state = () => page.$eval("#status", (el) => (el as HTMLElement).dataset.state ?? "");
  const waitState = async (want: string) => {
    await page.waitForFunction(
      (w) => ["error", w].includes(document.getElementById("status")!.dataset.state ?? ""),
      { timeout: 240_000 },
      want,
    );
    const s = await state();
    if (s !== want) {
      const text = await page.$eval("#status", (el) => el.textContent);
      throw new Error(`page (${backend}): ${text} ${errors.join("; ")}`);
    }
  };
  await waitState("ready");
  const backendName = await page.$eval(
    "#backend-note",
    (el) => (el as HTMLElement).dataset.backend ?? "",
  );
  await page.$eval("#prompt", (el, v) => ((el as HTMLInputElement).value = v), PROMPT);
  await page.$eval("#target", (el, v) => ((el as HTMLInputElement).value = v), TARGET);
  await page.$eval("#hparams", (el, v) => ((el as HTMLInputElement).value = v), hparams);
  const text = (sel: string) => page.$eval(sel, (el) => el.textContent ?? "");
  await page.click("#edit");
  await waitState("edited");
  const first = {
    after: await text("#after"),
    editSucc: await text("#edit-succ"),
    seconds: Number(await text("#edit-seconds")),
  };
  await page.waitForFunction(() =>
    !(document.getElementById("download") as HTMLAnchorElement).hidden
  );
  const patchHref = await page.$eval("#download", (el) => (el as HTMLAnchorElement).href);
  const note = await text("#backend-note");
  if (!full) return { backend: backendName, note, first, patchHref };
  // Revert, complete the prompt (as before the edit), and edit again (warm timing).
  await page.click("#revert");
  await waitState("reverted");
  await page.$eval("#completion", (el) => (el.textContent = ""));
  await page.click("#complete");
  await waitState("ready");
  const reverted = await text("#completion");
  await page.click("#edit");
  await waitState("edited");
  const again = { after: await text("#after"), seconds: Number(await text("#edit-seconds")) };
  // Download the patch, revert, and apply the downloaded file: the edit is back.
  await page.waitForFunction(() =>
    !(document.getElementById("download") as HTMLAnchorElement).hidden
  );
  const bytes = await page.$eval("#download", async (el) => {
    const res = await fetch((el as HTMLAnchorElement).href);
    return Array.from(new Uint8Array(await res.arrayBuffer()));
  });
  const patchFile = `${await Deno.makeTempDir({ prefix: "kne-patch-" })}/patch.safetensors`;
  await Deno.writeFile(patchFile, new Uint8Array(bytes));
  await page.click("#revert");
  await waitState("reverted");
  const input = await page.$("#patch-file");
  await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(patchFile);
  await waitState("patched");
  await page.click("#complete");
  await waitState("ready");
  const patched = await text("#completion");
  return {
    backend: backendName,
    note,
    first,
    patchHref,
    reverted,
    again,
    patched,
  };
}

Deno.test({
  name: "the page edits France -> Rome on WASM and WebGPU as Deno does",
  ignore: !present,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await buildWeb();
    // The same edit in Deno, through the library, on WASM; then reverted and made again.
    const backend = await createBackend("wasm");
    const m = await loadModelFromDir(MODEL, backend);
    // The anchors the page takes: the model's anchor split, as `deno task edit` does.
    const splits = SHIPPED_SPLITS["kne-facts"];
    const anchorPool = await loadRequests(splits.anchors ?? splits.dev);
    const want = await edit(m, simpleRequest(PROMPT, TARGET), { anchorPool });
    assert.ok(want.anchors > 0, "the KL term has anchors");
    assert.equal(want.after.completion, await complete(m, PROMPT));
    assert.ok(want.after.completion.startsWith(`${PROMPT} ${TARGET}`), want.after.completion);
    assert.equal(want.metrics.editSucc, 1);
    revertChanges(m, want.changes);
    assert.equal(await complete(m, PROMPT), want.before.completion);
    const again = await edit(m, simpleRequest(PROMPT, TARGET), { anchorPool });
    assert.equal(again.after.completion, want.after.completion);
    revertChanges(m, again.changes);
    // WebGPU in headless Chromium is SwiftShader (a CPU emulation): the KL term over the anchors
    // would take minutes there, so that edit runs without it, here as in the page.
    const noKl = await edit(m, simpleRequest(PROMPT, TARGET), { hparams: NO_KL, anchorPool });
    assert.equal(noKl.anchors, 0);
    backend.dispose();

    const { server, url } = serve(0);
    const shots = await Deno.makeTempDir({ prefix: "kne-browser-" });
    let browser: Browser | null = null;
    try {
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu"],
      });
      const page = await browser.newPage();
      await page.setViewport({ width: 1000, height: 900 });
      const got = await editInPage(page, await url, "wasm", "{}", true);
      await page.screenshot({ path: `${shots}/page-wasm.png`, fullPage: true });
      assert.equal(got.backend, "wasm", `backend note: ${got.note}`);
      assert.equal(got.first.after, want.after.completion, "wasm: after-completion");
      assert.equal(got.first.editSucc, (100 * want.metrics.editSucc).toFixed(1), "Edit Succ.");
      assert.match(got.patchHref, /^blob:/, "patch download link");
      assert.equal(got.reverted, want.before.completion, "completion after revert");
      assert.equal(got.again!.after, want.after.completion, "the edit made again");
      assert.equal(got.patched, want.after.completion, "the downloaded patch applied");
      console.log(
        `wasm: edit in the page ${got.first.seconds.toFixed(3)} s, again ` +
          `${got.again!.seconds.toFixed(3)} s; in Deno (WASM) ${want.seconds.toFixed(3)} s, ` +
          `again ${again.seconds.toFixed(3)} s; screenshot ${shots}/page-wasm.png`,
      );
      const gpu = await editInPage(page, await url, "webgpu", JSON.stringify(NO_KL), false);
      await page.screenshot({ path: `${shots}/page-webgpu.png`, fullPage: true });
      assert.equal(gpu.backend, "webgpu", `backend note: ${gpu.note}`);
      assert.equal(gpu.first.after, noKl.after.completion, "webgpu: after-completion");
      assert.equal(gpu.first.editSucc, (100 * noKl.metrics.editSucc).toFixed(1), "Edit Succ.");
      assert.match(gpu.patchHref, /^blob:/, "webgpu: patch download link");
      console.log(
        `webgpu (no KL term): edit in the page ${gpu.first.seconds.toFixed(3)} s; in Deno ` +
          `(WASM) ${noKl.seconds.toFixed(3)} s; screenshot ${shots}/page-webgpu.png`,
      );
    } finally {
      await browser?.close();
      await server.shutdown();
    }
  },
});
