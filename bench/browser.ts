// The page's edit time against Deno's, on WASM: KNE on a shipped model's demo request (default:
// the default model, models/kne-facts-base: "The capital of France is" -> "Rome") with the model's
// KNE hyperparameter file and anchor split, N edits each (reverted in between), in rounds that
// alternate Deno (the library in this process) and the page (Debian's chromium, headless, through
// its buttons), since two-core timings drift. Prints the first edit and the median of the later
// ones, the method's apply alone (what the page shows as seconds).
// `deno run -A bench/browser.ts [--model NAME] [--edits N] [--rounds R]`, after
// `deno task build:web`; NAME is a shipped model's folder name, N and R at least 1.

/// <reference lib="dom" />

import puppeteer from "puppeteer-core";
import {
  createBackend,
  DEFAULT_MODEL,
  edit,
  loadModelFromDir,
  methodByName,
  revertChanges,
  SHIPPED_SPLITS,
} from "../mod.ts";
import { loadRequests, shippedHparams } from "../deno.ts";
import { serve } from "../scripts/serve.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { benchFlags } from "./flags.ts";

const args = benchFlags(["model", "edits", "rounds"], Deno.args, {
  values: ["model", "edits", "rounds"],
});
const MODEL = args.get("model") ?? DEFAULT_MODEL.split("/").pop()!;
const EDITS = args.int("edits", 8, 1);
const ROUNDS = args.int("rounds", 2, 1);
if (!SHIPPED_SPLITS[MODEL]) {
  exitWithError(
    `--model ${MODEL}: not a shipped model (${Object.keys(SHIPPED_SPLITS).join(", ")})`,
    2,
  );
}

function summary(xs: number[]): string {
  const warm = xs.slice(1).sort((a, b) => a - b);
  const first = `first ${xs[0].toFixed(3)} s`;
  if (warm.length === 0) return `${first} (no later edit to time)`;
  return `${first}, later median ${warm[Math.floor(warm.length / 2)].toFixed(3)} s`;
}

async function inDeno(): Promise<number[]> {
  const backend = await createBackend("wasm");
  const dir = `models/${MODEL}`;
  const m = await loadModelFromDir(dir, backend);
  const splits = SHIPPED_SPLITS[MODEL];
  const [demo] = await loadRequests(splits.demo);
  const anchorPool = await loadRequests(splits.anchors);
  const hparams = (await shippedHparams(methodByName("kne"), dir))?.hparams;
  const xs: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const out = await edit(m, demo, { hparams, anchorPool });
    xs.push(out.seconds);
    revertChanges(m, out.changes);
  }
  await backend.dispose();
  return xs;
}

async function inPage(url: string): Promise<number[]> {
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox"],
  });
  try {
    const page = await browser.newPage();
    // The page preselects the model's demo request and takes its hyperparameter file.
    await page.goto(`${url}?backend=wasm&model=${MODEL}`);
    const state = (want: string) =>
      page.waitForFunction(
        (w) => [w, "error"].includes(document.getElementById("status")!.dataset.state ?? ""),
        { timeout: 120_000 },
        want,
      );
    await state("ready");
    const xs: number[] = [];
    for (let i = 0; i < EDITS; i++) {
      await page.click("#edit");
      await state("edited");
      xs.push(Number(await page.$eval("#edit-seconds", (el) => el.textContent)));
      await page.click("#revert");
      await state("reverted");
    }
    return xs;
  } finally {
    await browser.close();
  }
}

const { server, url } = serve(0);
try {
  for (let r = 1; r <= ROUNDS; r++) {
    console.log(`round ${r}: Deno, WASM: ${summary(await inDeno())}`);
    console.log(`round ${r}: page, WASM: ${summary(await inPage(await url))}`);
  }
} finally {
  await server.shutdown();
}
