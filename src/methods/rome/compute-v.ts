// ROME's value search (compute_v), shared with MEMIT (compute_z): a delta added to the FFN
// output of one layer at the subject's last token is optimised with Adam so that the target is
// predicted after the prompt and after each context prefix + prompt, with ROME's two
// regularisers: KL(unedited || edited) of the next token after "{subject} is a" (essence
// drift) and vWeightDecay * |delta| / |h0|^2, and |delta| clamped to clampNormFactor * |h0|
// after each step. h0 is the unedited residual stream at the subject's last token of the bare
// prompt after the layer (MEMIT's reference; ROME's code uses the FFN output there, which in
// small models can be tiny next to the residual it has to steer); the embeddings are left out
// of h0 (the sum of the attention and FFN outputs up to the layer, read through the hooks).
// Every model parameter is frozen meanwhile: the only leaf with a gradient is the delta.

import { Adam } from "../../autograd/adam.ts";
import * as A from "../../autograd/ops.ts";
import { backward, constant, noGrad, param, type Var } from "../../autograd/variable.ts";
import { prefixedRows } from "../../edit/context-prefixes.ts";
import { encodeKnown } from "../../edit/known-tokens.ts";
import type { EditTarget } from "../../edit/method.ts";
import { padBatch, type TeacherForced } from "../../edit/request.ts";
import type { Tokenizer } from "../../io/tokenizer.ts";
import type { CausalLM } from "../../model/lm.ts";
import { Tensor, tidy, tidyAsync } from "../../tensor/tensor.ts";
import { freezeAllBut } from "../guarded-edit.ts";
import { subjectLastToken, type SubjectPosition } from "../subject.ts";
import { norm } from "../linalg.ts";
import type { ValueHparams } from "./hparams.ts";

export interface RewriteSet {
  /** Rewriting rows (the bare prompt first, then each prefix + prompt), then the KL row. */
  rows: TeacherForced[];
  nRewrite: number;
  /** Position of the subject's last token in each row. */
  subjectPos: number[];
  /** The KL row's index and the position whose next-token distribution is kept. */
  kl: { row: number; pos: number } | null;
  subject: SubjectPosition;
}

/** The rows the value search trains on, for one edit target and the context prefixes. */
export function rewriteSet(
  tok: Tokenizer,
  target: EditTarget,
  prefixes: readonly number[][],
  contextLength: number,
): RewriteSet {
  const { request } = target;
  const subject = subjectLastToken(tok, request.prompt, target.promptIds, request.subject);
  const rows = prefixedRows(target.row, prefixes, contextLength, tok.leadingIds.length);
  const subjectPos = rows.map((r) => r.ids.length - target.row.ids.length + subject.index);
  const nRewrite = rows.length;
  let kl: RewriteSet["kl"] = null;
  if (subject.found) {
    const text = `${request.subject} is a`;
    const ids = encodeKnown(tok, text);
    if (ids && ids.length <= contextLength) {
      const pos = subjectLastToken(tok, text, ids, request.subject);
      if (pos.found && pos.index < ids.length - 1) {
        kl = { row: rows.length, pos: ids.length - 1 };
        rows.push({ ids, targets: ids.map(() => -1) });
        subjectPos.push(pos.index);
      }
    }
  }
  return { rows, nRewrite, subjectPos, kl, subject };
}

/** The padded batch of a rewrite set and the flat rows of the subject's last tokens. */
export function paddedSet(
  set: RewriteSet,
): { ids: number[]; targets: number[]; t: number; subjectRows: number[] } {
  const { ids, targets, t } = padBatch(set.rows);
  return { ids, targets, t, subjectRows: set.subjectPos.map((p, r) => r * t + p) };
}

export interface ValueResult {
  /** The optimised delta (length d). */
  delta: Float64Array;
  /** The unedited FFN output at the bare prompt's subject token. */
  v0: Float64Array;
  /** Norm of the unedited residual stream there (attention and FFN outputs up to the layer). */
  residualNorm: number;
  /** Total loss (NLL + KL + weight decay) per evaluated step. */
  losses: number[];
  /** exp(-mean target NLL) before and after. */
  probBefore: number;
  probAfter: number;
  diverged: boolean;
}

/** Optimises the delta added to layer `layer`'s FFN output ("mlp_out") at the subject tokens. */
export async function optimiseValue(
  model: CausalLM,
  set: RewriteSet,
  layer: number,
  hp: ValueHparams,
  onStep?: (step: number, loss: number) => void,
): Promise<ValueResult> {
  const be = model.backend;
  const d = model.config.dModel;
  const { ids, targets, t, subjectRows } = paddedSet(set);
  const b = set.rows.length;
  const sel = new Float32Array(b * t);
  for (const r of subjectRows) sel[r] = 1;
  const ceW = new Float32Array(b * t);
  for (let r = 0; r < set.nRewrite; r++) {
    let c = 0;
    for (let i = 0; i < t; i++) if (targets[r * t + i] >= 0) c++;
    for (let i = 0; i < t; i++) {
      if (targets[r * t + i] >= 0) ceW[r * t + i] = 1 / (c * set.nRewrite);
    }
  }
  const useKl = set.kl !== null && hp.klFactor > 0;
  const klW = new Float32Array(b * t);
  if (useKl) klW[set.kl!.row * t + set.kl!.pos] = hp.klFactor;

  const idT = Tensor.fromArray(be, ids, [b, t]);
  const tgT = Tensor.fromArray(be, targets, [b * t]);
  const ceWT = Tensor.fromArray(be, ceW, [b * t]);
  const klWT = Tensor.fromArray(be, klW, [b * t]);
  const selV = constant(Tensor.fromArray(be, sel, [b * t, 1]));
  const delta = param(Tensor.zeros(be, [1, d]), "delta");
  const restore = freezeAllBut(model, []);
  const opt = new Adam([delta], { lr: hp.vLr });
  let refLogits: Tensor | null = null;
  const losses: number[] = [];
  let probBefore = 0, probAfter = 0, diverged = false;
  try {
    // Reference pass: the unedited distribution (KL term), v0 and the residual stream h0.
    const ref = await tidyAsync(async () => {
      const outs = new Map<string, Var>();
      const logits = noGrad(() =>
        model.forward(idT, (l, site, x) => {
          if (l <= layer && (site === "attn_out" || site === "mlp_out")) {
            outs.set(`${l}/${site}`, x);
          }
        })
      );
      const row = async (key: string) =>
        Float64Array.from(await be.read(outs.get(key)!.value.buffer, subjectRows[0] * d, d));
      const v0 = await row(`${layer}/mlp_out`);
      const h0 = new Float64Array(d);
      for (const key of outs.keys()) {
        const v = await row(key);
        for (let i = 0; i < d; i++) h0[i] += v[i];
      }
      return { logits: useKl ? logits.value : null, v0, h0 };
    });
    refLogits = ref.logits;
    const v0 = ref.v0;
    const hn = Math.max(norm(ref.h0), 1e-12);
    const maxNorm = hp.clampNormFactor * hn;
    for (let it = 0; it < hp.vSteps; it++) {
      const dHost = Float64Array.from(await delta.value.toArray());
      const dn = norm(dHost);
      const wd = hp.vWeightDecay * dn / (hn * hn);
      const r = await tidyAsync(async () => {
        const logits = model.forward(
          idT,
          (l, site, x) =>
            l === layer && site === "mlp_out" ? A.add(x, A.bmm(selV, delta)) : undefined,
        );
        const nll = A.dot(A.crossEntropyRows(logits, tgT), ceWT);
        let total = nll;
        if (useKl) total = A.add(nll, A.dot(A.klRows(refLogits!, logits), klWT));
        const nllV = (await nll.value.toArray())[0];
        const totalV = (await total.value.toArray())[0];
        const stop = !Number.isFinite(totalV) || nllV < hp.earlyStopLoss || it === hp.vSteps - 1;
        if (!stop) backward(total);
        return { nll: nllV, loss: totalV + wd, stop };
      });
      if (it === 0) probBefore = Math.exp(-r.nll);
      probAfter = Math.exp(-r.nll);
      losses.push(r.loss);
      onStep?.(it + 1, r.loss);
      if (!Number.isFinite(r.loss)) {
        diverged = true;
        break;
      }
      if (r.stop) break;
      if (hp.vWeightDecay > 0 && dn > 0) {
        // d/d delta of vWeightDecay * |delta| / |h0|^2, added on the host side.
        const g = await delta.grad!.toArray();
        const c = hp.vWeightDecay / (dn * hn * hn);
        for (let i = 0; i < d; i++) g[i] += c * dHost[i];
        be.upload(delta.grad!.buffer, g);
      }
      tidy(() => opt.update());
      opt.zeroGrad();
      const now = await delta.value.toArray();
      const nn = norm(now);
      if (nn > maxNorm) {
        for (let i = 0; i < d; i++) now[i] *= maxNorm / nn;
        be.upload(delta.value.buffer, now);
      }
    }
    return {
      delta: Float64Array.from(await delta.value.toArray()),
      v0,
      residualNorm: hn,
      losses,
      probBefore,
      probAfter,
      diverged,
    };
  } finally {
    opt.zeroGrad();
    opt.dispose();
    restore();
    refLogits?.free();
    delta.value.free();
    for (const x of [idT, tgT, ceWT, klWT, selV.value]) x.free();
  }
}
