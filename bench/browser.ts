// The page's edit time against Deno's, on WASM: "The capital of France is" -> "Rome" on
// models/kne-facts with the model's KNE hyperparameters and anchor split, N edits each (reverted in between), in
// rounds that alternate Deno (the library in this process) and the page (Debian's chromium,
// headless, through its buttons), since two-core timings drift. Prints the first edit and the
// median of the later ones, the method's apply alone (what the page shows as seconds).
// `deno run -A bench/browser.ts [--edits N] [--rounds R]`, after `deno task build:web`.

/// <reference lib="dom" />

import puppeteer from "puppeteer-core";
import {
  createBackend,
  edit,
  loadModelFromDir,
  revertChanges,
  SHIPPED_SPLITS,
  simpleRequest,
} from "../mod.ts";
import { loadRequests } from "../src/io/requests.ts";
import { serve } from "../scripts/serve.ts";

const PROMPT = "The capital of France is";
const TARGET = "Rome";

function flag(name: string, def: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}
const EDITS = flag("edits", 8);
const ROUNDS = flag("rounds", 2);

function summary(xs: number[]): string {
  const warm = xs.slice(1).sort((a, b) => a - b);
  const median = warm.length ? warm[Math.floor(warm.length / 2)] : NaN;
  return `first ${xs[0].toFixed(3)} s, later median ${median.toFixed(3)} s`;
}

async function inDeno(): Promise<number[]> {
  const backend = await createBackend("wasm");
  const m = await loadModelFromDir("models/kne-facts", backend);
  const splits = SHIPPED_SPLITS["kne-facts"];
  const anchorPool = await loadRequests(splits.anchors ?? splits.dev);
  const xs: number[] = [];
  for (let i = 0; i < EDITS; i++) {
    const out = await edit(m, simpleRequest(PROMPT, TARGET), { anchorPool });
    xs.push(out.seconds);
    revertChanges(m, out.changes);
  }
  backend.dispose();
  return xs;
}

async function inPage(url: string): Promise<number[]> {
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}?backend=wasm&model=kne-facts`);
    const state = (want: string) =>
      page.waitForFunction(
        (w) => [w, "error"].includes(document.getElementById("status")!.dataset.state ?? ""),
        { timeout: 120_000 },
        want,
      );
    await state("ready");
    await page.$eval("#prompt", (el, v) => ((el as HTMLInputElement).value = v), PROMPT);
    await page.$eval("#target", (el, v) => ((el as HTMLInputElement).value = v), TARGET);
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
