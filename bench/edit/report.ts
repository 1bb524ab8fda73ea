// bench:edit's report: a few lines per shape on the terminal, and a dated entry (a table and
// those lines) under its heading in bench/RESULTS.md.

import { formatBytes } from "../../src/plan/fit.ts";
import { addEntry, entryHeading } from "../results-file.ts";
import type { EditResult } from "./result.ts";
import { CHECKPOINT, HP, load, PROMPT_TOKENS, TARGET_TOKENS, WARMUP } from "./settings.ts";

const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const x = (b: number, w: number) => `${(b / w).toFixed(2)}x`;

export function summary(r: EditResult): string {
  const w = r.weightBytes, p = r.plan;
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const lines = [
    `${r.description}: ${r.label} (${r.config}), ${(r.params / 1e6).toFixed(1)}M parameters ` +
    `(${r.dtype} matrices), ` +
    `${r.tokens} tokens (prompt ${PROMPT_TOKENS} + target ${TARGET_TOKENS})`,
    `  KNE edit (${HP.igSteps} IG steps, top-p ${HP.topP}, ${r.steps} update steps, lr ${HP.lr}, ${HP.unitScore}${
      r.anchors > 0 ? `, KL weight ${HP.klWeight} over ${r.anchors} anchors` : ", no KL term"
    }): ${sec(r.ms)} s median of ${r.edits} (${r.msAll.map(sec).join(", ")} s${
      WARMUP === 0 ? "; no warm-up edit" : ""
    })` +
    (r.shape === "gpt2-small" && r.backend === "wasm" && r.anchors === 0
      ? `  target < 10 s: ${r.ms < 10000 ? "met" : "NOT met"}`
      : ""),
    `  phases: attribution ${sec(r.phases.attribution)} s, selection ${
      sec(r.phases.selection)
    } s, update ${sec(r.phases.update)} s, other (snapshot + diff${
      r.anchors ? ", anchor reference forward" : ""
    }) ${sec(r.phases.other)} s${
      r.attributionChunks > 1
        ? `; attribution in ${r.attributionChunks} layer groups (to fit, planner)`
        : ""
    }${
      r.checkpointLayers
        ? `; layers checkpointed (${CHECKPOINT ? "--checkpoint" : "to fit, planner"})`
        : ""
    }`,
    `  weights ${mb(w)}; peak device ${
      r.peakDeviceBytes === null ? "n/a" : `${mb(r.peakDeviceBytes)} (${x(r.peakDeviceBytes, w)})`
    }${
      r.peakPhaseBytes
        ? ` (attribution ${mb(r.peakPhaseBytes.attribution)}, update ${
          mb(r.peakPhaseBytes.update)
        })`
        : ""
    }${r.memoryBytes === null ? "" : `; wasm memory ${mb(r.memoryBytes)}`}; peak RSS ${
      mb(r.peakRssBytes)
    } (${x(r.peakRssBytes, w)}${r.rssReset ? "" : ", includes the build"})`,
    `  planner: device peak ${mb(p.devicePeak)} (${x(p.devicePeak, w)}; attribution ${
      mb(p.attributionPeak)
    }, update ${mb(p.updatePeak)}), host extra ${mb(p.hostExtra)}, ${
      p.gflop.toFixed(0)
    } GFLOP per edit -> ${(p.gflop / (r.ms / 1000)).toFixed(1)} GFLOP/s`,
    `  edit: ${r.ensembleUnits} of ${r.totalUnits} units, ${r.changedEntries} of their ${r.ensembleParams} entries changed, ` +
    `target p ${r.targetProbBefore.toExponential(2)}, loss ${r.lossFirst.toFixed(3)} -> ${
      r.lossLast.toFixed(3)
    }, digest ${r.digest}; built in ${
      r.buildSeconds.toFixed(1)
    } s; load ${r.loadBefore} -> ${r.loadAfter}`,
  ];
  if (r.pytorch) {
    const t = r.pytorch;
    lines.push(
      `  PyTorch ${t.torch} CPU (${t.threads} threads, f32), the same edit written plainly ` +
        `(dense gradients, then the mask): ${sec(t.ms)} s median of ${t.msAll.length} ` +
        `(attribution ${sec(t.phases.attribution)} s, selection ${sec(t.phases.selection)} s, ` +
        `update ${sec(t.phases.update)} s, other ${sec(t.phases.other)} s); ${t.ensembleUnits} ` +
        `of ${t.totalUnits} units, ${t.changedEntries} entries changed, loss ${
          t.lossFirst.toFixed(3)
        } -> ${t.lossLast.toFixed(3)}; PyTorch / kne time: ${(t.ms / r.ms).toFixed(2)}x`,
    );
  }
  if (r.profile) {
    lines.push(
      `  profiled edit: ${
        r.profile.phases.map((q) =>
          `${q.phase} ${sec(q.ms)} s (kernels ${sec(q.kernelMs)}, host ${sec(q.ms - q.kernelMs)})`
        ).join(", ")
      }`,
      `  kernels: ${
        r.profile.kernels.slice(0, 8).map((k) => `${k.kernel} ${sec(k.ms)} s/${k.calls}`).join(
          ", ",
        )
      }, others ${sec(r.profile.kernels.slice(8).reduce((a, k) => a + k.ms, 0))} s`,
      `  matmuls (batch x m x n x k): ${
        r.profile.matmuls.slice(0, 8).map((k) =>
          `${k.kernel} ${sec(k.ms)} s/${k.calls} (${(k.ms / k.calls).toFixed(1)} ms, ${
            (2 * k.kernel.split(" ")[1].split("x").reduce((a, b) => a * Number(b), 1) / 1e6 /
              (k.ms / k.calls)).toFixed(0)
          } GFLOP/s)`
        ).join(", ")
      }`,
    );
  }
  return lines.join("\n");
}

export function record(results: EditResult[], notes: string[]): void {
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const table = [
    "| model | backend | matrices | params | edit (s) | attribution | selection | update | other | PyTorch edit (s), PyTorch / kne | peak device / weights | peak RSS / weights | planner peak / weights | load (before -> after) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.map((r) =>
      `| ${r.label} (${r.config}${
        r.anchors ? `; KL over ${r.anchors} anchors` : ""
      }) | ${r.description} | ${r.dtype} | ${(r.params / 1e6).toFixed(0)}M | ${sec(r.ms)} | ${
        sec(r.phases.attribution)
      } | ${sec(r.phases.selection)} | ${sec(r.phases.update)} | ${sec(r.phases.other)} | ${
        r.pytorch ? `${sec(r.pytorch.ms)}, ${(r.pytorch.ms / r.ms).toFixed(2)}x` : "n/a"
      } | ${r.peakDeviceBytes === null ? "n/a" : x(r.peakDeviceBytes, r.weightBytes)} | ${
        x(r.peakRssBytes, r.weightBytes)
      } | ${x(r.plan.devicePeak, r.weightBytes)} | ${r.loadBefore} -> ${r.loadAfter} |`
    ),
  ];
  const entry = [
    entryHeading(["deno task bench:edit", ...Deno.args].join(" ")),
    "",
    ...table,
    "",
    ...results.map((r) => "```\n" + summary(r) + "\n```"),
    ...notes.map((n) => `- ${n}`),
    `- machine: ${navigator.hardwareConcurrency} cores, ${
      formatBytes(Deno.systemMemoryInfo().total)
    } memory, load average ${load()} at the end`,
    "",
  ].join("\n");
  addEntry(
    "## KNE edit at model scale (bench/edit.ts)",
    `One KNE edit (${HP.igSteps} IG steps, top-p ${HP.topP}, ${HP.steps} update steps, all run, ` +
      "no KL term unless `--anchors`) " +
      `of a ${PROMPT_TOKENS}+${TARGET_TOKENS}-token prompt + target on random-weight models;\n` +
      "median of several edits after a warm-up, each model in its own process. Target: GPT-2 " +
      "small shape on WASM under 10 s.",
    entry,
  );
}
