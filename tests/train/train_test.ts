// The training script: deterministic from its seed (two runs give byte-identical weights), a
// checkpoint of another model shape is refused with a clear error instead of being loaded, bad
// arguments exit 2 before any work, an existing model is replaced only with --force, and a run
// with --tokenizer keeps that tokenizer and resumes only with it; Ctrl-C stops a run at a
// checkpoint that --resume continues (it used to wait for the next periodic checkpoint) and that
// a fresh start without --resume or --force may not overwrite; a kept checkpoint is the final one.

import { deepEqual, equal as assertEquals, match as assertMatch } from "node:assert/strict";
import { createBackend } from "../../engine/select.ts";
import { disposeModel } from "../../src/model/build.ts";
import { readModelConfig } from "../../src/model/read-config.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { exists } from "../../src/io/files.ts";

const TRAIN = new URL("../../scripts/train.ts", import.meta.url).pathname;
const MAKE_TOKENIZER = new URL("../../scripts/make-tokenizer.ts", import.meta.url).pathname;
const TINY = [
  "--epochs",
  "1",
  "--d",
  "16",
  "--layers",
  "1",
  "--heads",
  "2",
  "--batch",
  "128",
  "--warmup",
  "5",
];

async function train(out: string, extra: string[] = []): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, "--out", out, ...TINY, ...extra],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

async function sha(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("training is deterministic from its seed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await train(`${dir}/a`);
    const b = await train(`${dir}/b`);
    assertEquals(a.code, 0, a.stderr);
    assertEquals(b.code, 0, b.stderr);
    assertEquals(await sha(`${dir}/a/model.safetensors`), await sha(`${dir}/b/model.safetensors`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resuming from a checkpoint of another shape is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Interrupt-free way to leave a checkpoint: checkpoint every step, then fail the next run's
    // shape check by asking for a wider model.
    const first = await train(`${dir}/m`, ["--ckpt-every", "1", "--keep-checkpoint"]);
    assertEquals(first.code, 0, first.stderr);
    // A kept checkpoint is the finished model's, even with no periodic save at its last step.
    const kept = await train(`${dir}/k`, ["--ckpt-every", "100000", "--keep-checkpoint"]);
    assertEquals(kept.code, 0, kept.stderr);
    const { steps } = JSON.parse(await Deno.readTextFile(`${dir}/k/recall.json`));
    const state = JSON.parse(await Deno.readTextFile(`${dir}/k.checkpoint/state.json`));
    assertEquals(state.step, steps);
    const second = await train(`${dir}/m`, ["--resume", "--force", "--d", "24"]);
    assertEquals(second.code, 1);
    assertMatch(second.stderr, /another model shape.*dModel 16 vs 24/s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad arguments exit 2; an existing model is replaced only with --force", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [extra, re] of [
        [["--bogus"], /Unknown option '--bogus'/],
        [["--epochs", "abc"], /--epochs must be an integer >= 1/],
        [["--backend", "cuda"], /--backend must be webgpu, wasm or auto/],
        [["--d", "10", "--heads", "4"], /--d 10 must be a multiple of --heads 4/],
        [["--preset", "huge"], /--preset must be one of facts, base, base-llama/],
      ] as const
    ) {
      const r = await train(`${dir}/bad`, [...extra]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, re);
    }
    const first = await train(`${dir}/m`);
    assertEquals(first.code, 0, first.stderr);
    const before = await sha(`${dir}/m/model.safetensors`);
    const refused = await train(`${dir}/m`, ["--seed", "7"]);
    assertEquals(refused.code, 2);
    assertMatch(refused.stderr, /already holds a model; pass --force/);
    assertEquals(await sha(`${dir}/m/model.safetensors`), before);
    const forced = await train(`${dir}/m`, ["--seed", "7", "--force"]);
    assertEquals(forced.code, 0, forced.stderr);
    const after = await sha(`${dir}/m/model.safetensors`);
    if (after === before) throw new Error("--force with another seed left the weights unchanged");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(JSON.stringify(left), JSON.stringify(["m"]), "no .partial/.old/.checkpoint left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the base preset trains on packed BPE windows and writes a complete model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await train(`${dir}/b`, ["--preset", "base", "--ctx", "32"]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /on \d+ 32-token windows, 1 epoch x/);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/b/config.json`));
    assertEquals(config.vocab_size, 8192);
    assertEquals(config.n_positions, 32);
    assertEquals(config.eos_token_id, 0); // <|endoftext|>, which ends every training document
    const tok = JSON.parse(await Deno.readTextFile(`${dir}/b/tokenizer.json`));
    assertEquals(tok.model.type, "BPE");
    const recall = JSON.parse(await Deno.readTextFile(`${dir}/b/recall.json`));
    assertEquals(
      Object.keys(recall.recall).sort().join(),
      [
        "aliases",
        "heldout_templates",
        "train_facts",
        "two_hop",
        "two_hop_train",
      ].join(),
    );
    assertEquals(recall.samples.length, 5);
    assertMatch(await Deno.readTextFile(`${dir}/b/README.md`), /# kne-facts-base/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the base-llama preset writes a Llama-style twin that loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await train(`${dir}/l`, ["--preset", "base-llama", "--ctx", "32", "--ff", "40"]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /1x16 LlamaForCausalLM/);
    const config = await readModelConfig(`${dir}/l`);
    assertEquals(config.architecture, "llama");
    assertEquals(config.dFF, 40);
    assertEquals(config.vocabSize, 4096); // the twin keeps the 4,096-token tokenizer it was trained with
    assertEquals(config.contextLength, 32);
    const backend = await createBackend("wasm");
    try {
      const { model } = await loadModel(`${dir}/l`, backend);
      const names = model.paramInfo.map((p) => p.name);
      assertEquals(names.includes("model.layers.0.mlp.gate_proj.weight"), true);
      assertEquals(names.some((n) => n.includes("bias")), false);
      disposeModel(model);
    } finally {
      backend.dispose();
    }
    assertMatch(await Deno.readTextFile(`${dir}/l/README.md`), /# kne-facts-base-llama/);
    assertMatch(
      (await Deno.readTextFile(`${dir}/l/README.md`)).replace(/\s+/g, " "),
      /LlamaForCausalLM: 1 layers/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--tokenizer trains with another tokenizer; its checkpoint resumes only with it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const make = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAKE_TOKENIZER, "--vocab", "300", "--out", `${dir}/tok`],
      stderr: "piped",
    }).output();
    assertEquals(make.code, 0, new TextDecoder().decode(make.stderr));
    const tokFile = `${dir}/tok/tokenizer.json`;
    // The base recipe puts a space before a text; --no-prefix-space (the twin's) writes the same
    // tokenizer without it.
    const plain = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAKE_TOKENIZER,
        "--vocab",
        "300",
        "--out",
        `${dir}/plain`,
        "--no-prefix-space",
      ],
      stderr: "piped",
    }).output();
    assertEquals(plain.code, 0, new TextDecoder().decode(plain.stderr));
    const spaced = JSON.parse(await Deno.readTextFile(tokFile));
    const unspaced = JSON.parse(await Deno.readTextFile(`${dir}/plain/tokenizer.json`));
    assertEquals(spaced.pre_tokenizer.add_prefix_space, true);
    assertEquals(unspaced.pre_tokenizer.add_prefix_space, false);
    deepEqual({ ...spaced, pre_tokenizer: null }, { ...unspaced, pre_tokenizer: null });
    const base = ["--preset", "base", "--ctx", "32", "--ckpt-every", "1", "--keep-checkpoint"];
    const r = await train(`${dir}/m`, [...base, "--tokenizer", tokFile]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /vocab 300\)/);
    assertEquals((await readModelConfig(`${dir}/m`)).vocabSize, 300);
    assertEquals(await sha(`${dir}/m/tokenizer.json`), await sha(tokFile));
    // The same shape with the preset's own tokenizer would read other token ids: refused.
    const other = `${dir}/tok/other.json`;
    const json = JSON.parse(await Deno.readTextFile(tokFile));
    const [a, b] = Object.keys(json.model.vocab).slice(-2);
    [json.model.vocab[a], json.model.vocab[b]] = [json.model.vocab[b], json.model.vocab[a]];
    await Deno.writeTextFile(other, JSON.stringify(json));
    const refused = await train(`${dir}/m`, [...base, "--resume", "--force", "--tokenizer", other]);
    assertEquals(refused.code, 1, refused.stderr);
    assertMatch(refused.stderr, /trained with another tokenizer/);
    const same = await train(`${dir}/m`, [...base, "--resume", "--force", "--tokenizer", tokFile]);
    assertEquals(same.code, 0, same.stderr);
    const missing = await train(`${dir}/new/x`, [...base, "--tokenizer", `${dir}/none.json`]);
    assertEquals(missing.code, 2, missing.stderr);
    assertMatch(missing.stderr, /--tokenizer .*none\.json/);
    const noEot = await train(`${dir}/x`, [
      "--preset",
      "base",
      "--tokenizer",
      new URL("../../data/tokenizer/tokenizer.json", import.meta.url).pathname,
    ]);
    assertEquals(noEot.code, 2, noEot.stderr);
    assertMatch(noEot.stderr, /has no <\|endoftext\|> token/);
    // Inputs are read before OUT's lock and OUT.partial are made: neither refusal leaves one,
    // nor OUT's parent folder (new/), which the lock beside OUT used to create first.
    const leftovers = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
    assertEquals(leftovers.some((n) => /^(x|new)/.test(n)), false, leftovers.join(", "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C stops training at a checkpoint (exit 130) and --resume finishes the run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Many steps of the tiny shape, so that the run is still going when the signal comes, and no
    // periodic checkpoint: the stop must not wait for one (its file I/O used to be the only point
    // where the Ctrl-C listener could run, 500 steps apart by default).
    const args = [
      "run",
      "-A",
      TRAIN,
      "--out",
      `${dir}/m`,
      ...TINY,
      "--epochs",
      "6",
      "--batch",
      "32",
      "--ckpt-every",
      "100000",
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const dec = new TextDecoder();
    let signalled = false;
    for await (const chunk of child.stderr) {
      stderr += dec.decode(chunk);
      // The header comes just before the Ctrl-C listener and the loop; a second later the loop is
      // well into its steps (the bar prints only at the end when stderr is not a terminal).
      if (!signalled && stderr.includes("training 1x16")) {
        signalled = true;
        setTimeout(() => child.kill("SIGINT"), 1000);
      }
    }
    const { code } = await child.status;
    assertEquals(code, 130, stderr);
    const step = Number(/stopped at step (\d+); resume with --resume/.exec(stderr)?.[1]);
    assertEquals(step > 0, true, stderr);
    // The bar ends on that step as interrupted; "stopped early" is an update's that stops itself.
    assertMatch(stderr, new RegExp(`^train \\[[#-]+\\] ${step}/\\d+ interrupted loss `, "m"));
    assertEquals(stderr.includes("stopped early"), false, stderr);
    assertEquals(await exists(`${dir}/m.checkpoint/state.json`), true);
    // Starting again without --resume would overwrite that checkpoint: refused.
    const kept = await sha(`${dir}/m.checkpoint/state.json`);
    const fresh = await train(`${dir}/m`, ["--epochs", "6", "--batch", "32"]);
    assertEquals(fresh.code, 2, fresh.stderr);
    assertMatch(
      fresh.stderr,
      /holds the checkpoint of an earlier run .*: pass --resume to continue/,
    );
    assertEquals(await sha(`${dir}/m.checkpoint/state.json`), kept);
    const resumed = await train(`${dir}/m`, ["--epochs", "6", "--batch", "32", "--resume"]);
    assertEquals(resumed.code, 0, resumed.stderr);
    assertMatch(resumed.stderr, new RegExp(`resumed at step ${step}/`));
    // The model is the work of both runs, and its summary and card say so.
    const { runs, steps } = JSON.parse(await Deno.readTextFile(`${dir}/m/recall.json`));
    assertEquals(runs.length, 2);
    assertEquals(
      [runs[0].fromStep, runs[0].toStep, runs[1].fromStep, runs[1].toStep].join(),
      [
        0,
        step,
        step,
        steps,
      ].join(),
    );
    assertMatch(runs[0].command, /--ckpt-every 100000$/);
    assertMatch(runs[1].command, /--resume$/);
    // The card is formatted as deno fmt formats it: lines wrap anywhere.
    const card = (await Deno.readTextFile(`${dir}/m/README.md`)).replace(/\s+/g, " ");
    assertMatch(
      card,
      /Trained in 2 runs, each after the first resumed from the checkpoint of the one before/,
    );
    assertMatch(card, new RegExp(`2\\. \`deno task train .*--resume\`: steps ${step}-${steps}, `));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
