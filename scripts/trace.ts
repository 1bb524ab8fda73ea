// `deno task trace`: causal tracing (src/trace/) of one prompt, or averaged over the first N
// facts of a request file that the model knows. One prompt: three heatmaps (residual stream, MLP
// and attention output; token positions x layers) and trace.json. A request file: every known
// fact traced (its three heatmaps in facts/), the mean indirect effect per kind, position group
// and layer in average.json, a chart of the three kinds at the last subject token (average.svg),
// and the MLP curve at the last subject token printed (the ROME paper's headline: a mid-layer
// peak in a realistic model), with the clean run's norms of each state there (average.json:
// norms), which say how much of the residual stream each output writes. Ctrl-C stops it at
// once: OUT is not written (or, when its files were being written, the incomplete OUT is
// removed), OUT's lock is removed, exit 130.

import { createBackend, parseBackendChoice } from "../engine/select.ts";
import { exitWithError } from "../src/cli/fail.ts";
import { abortOnInterrupt, interruptAt, removeFolderNow } from "../src/cli/interrupt.ts";
import { notOneOf, parseFlags, wholeNumber } from "../src/cli/flags.ts";
import { runCommand } from "../src/pipeline/run-command.ts";
import { Progress } from "../src/cli/progress.ts";
import {
  checkOutputFolder,
  GuardError,
  lockOutput,
  markOutput,
  removeOutput,
} from "../src/pipeline/output-guard.ts";
import { loadRequests } from "../src/io/requests.ts";
import { loadModel } from "../src/pipeline/load.ts";
import { DEFAULT_MODEL } from "../src/pipeline/models.ts";
import { barChartSvg, heatmapSvg } from "../src/report/mod.ts";
import {
  CORRUPTION_SITES,
  type FactTrace,
  isCorruptionSite,
  TRACE_KINDS,
  traceFact,
  type TraceKind,
} from "../src/trace/causal-trace.ts";
import { averageByGroup, POSITION_GROUPS } from "../src/trace/positions.ts";

const USAGE = `Usage: deno task trace [--model DIR] (--prompt P --subject S [--answer A] |
  --requests FILE [--n N]) [--samples K] [--noise X] [--window W] [--corrupt-at C] [--seed N]
  [--out DIR [--force]] [--backend B] [--json]

  --prompt P     a prompt that contains the subject S, answered by A (its first token is traced;
                 without --answer, the model's most likely next token)
  --requests F   KnowEdit-style requests: their prompt, subject and ground_truth (the first --n,
                 default 50, that the model answers correctly)
  --samples K    noise draws averaged (default 10); --noise X: std as a multiple of the token
                 embeddings' std (default 3)
  --window W     restore the MLP and attention outputs at W layers around each layer together
                 (default 1; ROME used 10 of GPT-2 XL's 48); the residual stream at one layer
  --corrupt-at C embed (default, ROME): noise on the subject's input embeddings; layer0: on the
                 subject's residual stream after layer 0 (std: --noise x that residual's std), so
                 that layer 0 counts as part of the embedding (a diagnostic for models whose
                 layer-0 MLP writes most of the subject's representation)
  --out DIR      output folder (default out/trace-<time>); an existing one is replaced only with
                 --force and only when this tool wrote it`;

const NAMES: Record<TraceKind, string> = {
  resid: "residual stream",
  mlp_out: "MLP output",
  attn_out: "attention output",
};

function fail(msg: string): never {
  exitWithError(msg, 2, USAGE);
}

const args = parseFlags({
  model: { type: "string", default: DEFAULT_MODEL },
  prompt: { type: "string" },
  subject: { type: "string" },
  answer: { type: "string" },
  requests: { type: "string" },
  n: { type: "string", default: "50" },
  samples: { type: "string", default: "10" },
  noise: { type: "string", default: "3" },
  seed: { type: "string", default: "1" },
  window: { type: "string", default: "1" },
  "corrupt-at": { type: "string", default: "embed" },
  out: { type: "string" },
  backend: { type: "string", default: "wasm" },
  json: { type: "boolean", default: false },
  force: { type: "boolean", default: false },
}, USAGE);
// Counts are read as the edit command reads them (wholeNumber: "1e1" or "5.0" is no count).
const count = (name: "n" | "samples" | "seed" | "window") => {
  const v = wholeNumber(args[name]!);
  const min = name === "seed" ? 0 : 1;
  if (v === null || v < min) fail(`--${name} must be an integer >= ${min}`);
  return v;
};
if (args.model!.trim() === "") fail("--model must not be empty");
const noise = Number(args.noise);
if (!(noise > 0) || !Number.isFinite(noise)) fail("--noise must be a positive finite number");
if ((args.prompt === undefined) === (args.requests === undefined)) {
  fail("give either --prompt (with --subject) or --requests");
}
if (args.prompt !== undefined && args.prompt.trim() === "") fail("--prompt must not be empty");
if (args.prompt !== undefined && args.subject === undefined) fail("--prompt needs --subject");
if (args.subject !== undefined && args.subject.trim() === "") fail("--subject must not be empty");
if (args.requests !== undefined && (args.subject !== undefined || args.answer !== undefined)) {
  fail("--subject and --answer go with --prompt; a request file gives each fact's own");
}
if (args.answer !== undefined && args.answer.trim() === "") fail("--answer must not be empty");
// White space ending the prompt or subject is removed, saying so, as edit and compare do
// (src/io/formats/trailing-space.ts): the answer brings its own leading space.
for (const name of ["prompt", "subject"] as const) {
  const text = args[name];
  if (text !== undefined && text !== text.trimEnd()) {
    console.error(`note: white space at the end of --${name} ${JSON.stringify(text)} was removed`);
    args[name] = text.trimEnd();
  }
}
const n = count("n");
const corruptAt = args["corrupt-at"]!;
if (!isCorruptionSite(corruptAt)) fail(notOneOf("corrupt-at", corruptAt, CORRUPTION_SITES));
const opts = {
  samples: count("samples"),
  noise,
  seed: count("seed"),
  window: count("window"),
  corruptAt,
};
const out = (args.out ?? `out/trace-${new Date().toISOString().replace(/[:.]/g, "-")}`)
  .replace(/\/+$/, "");

let backendChoice;
try {
  backendChoice = parseBackendChoice(args.backend!);
} catch (e) {
  fail((e as Error).message);
}
// Nothing to resume: a Ctrl-C removes what this run had begun to write and exits 130 (OUT's lock
// goes with the exit). Taken before the lock, so that no Ctrl-C finds the lock without it.
let writing = false;
const abort = abortOnInterrupt("trace", () => {
  if (!writing) return `${out} was not written`;
  removeFolderNow(out);
  return `the incomplete ${out} was removed`;
});
await runCommand(async () => {
  // The output rules of every command (src/pipeline/output-guard.ts): OUT is not, holds not and
  // lies not inside the model folder, holds no input, and an existing OUT is replaced only with
  // --force and only when this tool wrote it; it is locked while the trace runs.
  try {
    await checkOutputFolder(out, {
      model: args.model!,
      inputs: args.requests ? [args.requests] : [],
      force: args.force!,
      kind: "trace",
    });
    await lockOutput(out);
  } catch (e) {
    if (e instanceof GuardError) exitWithError(e.message, 1);
    throw e;
  }
  // Every input is read, and every fact traced, before the output folder is made: a bad input or
  // a prompt that cannot be traced leaves nothing behind.
  const requests = args.requests ? await loadRequests(args.requests) : [];
  if (args.requests && requests.length === 0) exitWithError(`${args.requests}: no requests`, 1);
  const backend = await createBackend(backendChoice);
  const { model, tokenizer } = await loadModel(args.model!, backend, { tokenizer: true });
  const tok = tokenizer!;
  const makeOutput = async () => {
    writing = true;
    await removeOutput(out);
    await Deno.mkdir(args.requests ? `${out}/facts` : out, { recursive: true });
    await markOutput(out, "trace");
    await interruptAt("write");
  };

  /**
   * Titles say when the MLP and attention outputs were restored over a window of layers, and
   * when the subject was corrupted after layer 0.
   */
  const settingsNote = (kind?: TraceKind) =>
    (opts.window > 1 && kind !== "resid"
      ? ` (${kind ? "" : "MLP and attention: "}${opts.window}-layer window)`
      : "") + (opts.corruptAt === "layer0" ? " (subject corrupted after layer 0)" : "");

  /**
   * What is traced: the answer's token, and the answer it begins when the answer has more tokens
   * (the probability is of that first token alone).
   */
  const answerLabel = (tr: FactTrace) => {
    const token = tok.decode([tr.answerToken]);
    return token.trim() === tr.answer.trim()
      ? JSON.stringify(tr.answer)
      : `${JSON.stringify(token)}, the first token of ${JSON.stringify(tr.answer)}`;
  };

  const heatmaps = async (tr: FactTrace, prefix: string) => {
    for (const kind of TRACE_KINDS) {
      const rows = tr.tokens.map((t, i) =>
        `${JSON.stringify(t)}${i >= tr.subject[0] && i < tr.subject[1] ? "*" : ""}`
      );
      await Deno.writeTextFile(
        `${out}/${prefix}${kind}.svg`,
        heatmapSvg({
          rows,
          cols: Array.from({ length: model.config.nLayers }, (_, l) => `${l}`),
          values: tr.effects[kind],
          title:
            `Indirect effect of the ${NAMES[kind]}${settingsNote(kind)} on p(${answerLabel(tr)}) ` +
            `(clean ${tr.pClean.toFixed(3)}, ` +
            `corrupted ${tr.pCorrupted.toFixed(3)})`,
          rowTitle: "token (* subject)",
          colTitle: "layer",
          legendLabel: "P(answer | restored) - P(answer | corrupted)",
          formatValue: (v) => v.toFixed(2),
        }),
      );
    }
  };

  if (args.prompt) {
    let tr: FactTrace;
    try {
      tr = await traceFact(
        model,
        tok,
        { prompt: args.prompt, subject: args.subject!, answer: args.answer },
        opts,
      );
    } catch (e) {
      exitWithError((e as Error).message, 1);
    }
    await makeOutput();
    await Deno.writeTextFile(`${out}/trace.json`, JSON.stringify(tr, null, 2) + "\n");
    await heatmaps(tr, "");
    if (args.json) console.log(JSON.stringify(tr));
    else {
      console.log(
        `p(${answerLabel(tr)}) clean ${tr.pClean.toFixed(4)}, corrupted ${
          tr.pCorrupted.toFixed(4)
        }${tr.known ? "" : " (not the model's most likely next token)"}`,
      );
      const last = tr.subject[1] - 1;
      console.log(
        `MLP at the last subject token${settingsNote("mlp_out")} by layer: ${
          tr.effects.mlp_out[last].map((x) => x.toFixed(3)).join(" ")
        }`,
      );
      console.log(`wrote ${out}/{trace.json,resid.svg,mlp_out.svg,attn_out.svg}`);
    }
  } else {
    const traces: FactTrace[] = [];
    let tried = 0, unanswered = 0;
    // The records (their numbers) whose prompt lacks their subject: there is nothing to corrupt.
    const noSubject: number[] = [];
    const bar = new Progress("trace", n, "fact");
    for (const r of requests) {
      if (traces.length >= n) break;
      if (!r.groundTruth) unanswered++;
      else if (!r.prompt.includes(r.subject)) noSubject.push(r.index);
      if (!r.groundTruth || !r.prompt.includes(r.subject)) continue;
      tried++;
      const tr = await traceFact(model, tok, {
        prompt: r.prompt,
        subject: r.subject,
        answer: r.groundTruth,
      }, opts).catch((e) => {
        console.error(`skipped "${r.prompt}": ${(e as Error).message}`);
        return null;
      });
      if (tr?.known) {
        traces.push(tr);
        bar.update(traces.length, `${tried} tried`);
      }
    }
    bar.finish();
    console.error(`${traces.length} known facts traced (${tried} tried)`);
    if (unanswered > 0) {
      console.error(
        `${unanswered} request(s) without ground_truth skipped (a fact needs its answer)`,
      );
    }
    if (noSubject.length > 0) {
      const first = noSubject.slice(0, 5).map((i) => `#${i}`).join(", ");
      console.error(
        `${noSubject.length} request(s) whose prompt does not contain their subject skipped ` +
          `(the subject's tokens are what a trace corrupts): ` +
          `${first}${noSubject.length > 5 ? ", ..." : ""}`,
      );
    }
    if (traces.length === 0) {
      exitWithError(
        tried === 0
          ? `none of the requests has a ground_truth whose subject is in its prompt; nothing to trace`
          : "the model answers none of the requests' facts; nothing to average",
        1,
      );
    }
    await makeOutput();
    for (const [i, tr] of traces.entries()) {
      await heatmaps(tr, `facts/${String(i + 1).padStart(3, "0")}-`);
    }
    const avg = averageByGroup(traces);
    // The clean runs' norms beside the effects: how much of the residual each output writes.
    const norms = {
      byGroup: averageByGroup(traces, (tr) => tr.norms),
      embedLastSubject: traces.reduce((s, tr) => s + tr.embedNorms[tr.subject[1] - 1], 0) /
        traces.length,
    };
    const layers = Array.from({ length: model.config.nLayers }, (_, l) => `${l}`);
    await Deno.writeTextFile(
      `${out}/average.json`,
      JSON.stringify(
        { facts: traces.length, options: opts, byGroup: avg, norms, traces },
        null,
        2,
      ) +
        "\n",
    );
    await Deno.writeTextFile(
      `${out}/average.svg`,
      barChartSvg({
        groups: layers,
        series: TRACE_KINDS.map((k) => ({ name: NAMES[k], values: avg[k]["last subject token"] })),
        title:
          `Average indirect effect at the last subject token (${traces.length} facts)${settingsNote()}`,
        yLabel: "indirect effect",
        formatValue: (v) => v.toFixed(2),
      }),
    );
    for (const kind of TRACE_KINDS) {
      await Deno.writeTextFile(
        `${out}/average-${kind}.svg`,
        heatmapSvg({
          rows: [...POSITION_GROUPS],
          cols: layers,
          values: POSITION_GROUPS.map((g) => avg[kind][g]),
          title: `Average indirect effect of the ${NAMES[kind]}${
            settingsNote(kind)
          } (${traces.length} facts)`,
          rowTitle: "position",
          colTitle: "layer",
          formatValue: (v) => v.toFixed(2),
        }),
      );
    }
    if (args.json) console.log(JSON.stringify({ facts: traces.length, byGroup: avg }));
    else {
      for (const kind of TRACE_KINDS) {
        const curve = avg[kind]["last subject token"];
        const peak = curve.indexOf(Math.max(...curve));
        console.log(
          `${NAMES[kind].padEnd(17)} at the last subject token: ` +
            `${curve.map((x) => x.toFixed(3)).join(" ")} (peak at layer ${peak})`,
        );
      }
      console.log(
        `norms at the last subject token (clean): token embedding ${
          norms.embedLastSubject.toFixed(2)
        }; by layer:`,
      );
      for (const kind of TRACE_KINDS) {
        const curve = norms.byGroup[kind]["last subject token"];
        console.log(`  ${NAMES[kind].padEnd(17)} ${curve.map((x) => x.toFixed(2)).join(" ")}`);
      }
      console.log(`wrote ${out}/average.{json,svg} and average-{resid,mlp_out,attn_out}.svg`);
      console.log(`and each fact's heatmaps in ${out}/facts/NNN-{resid,mlp_out,attn_out}.svg`);
    }
  }
  await backend.dispose();
  abort.release();
});
