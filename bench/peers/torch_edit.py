# PyTorch peer of bench/edit.ts: the same KNE edit, written as a PyTorch user would write it, on
# the CPU with the bench's thread count. Attribution: integrated gradients of the summed target
# probabilities with respect to every attention and FFN projection (weights and biases) along
# alpha = s/m, s = 1..m, the projections' outputs scaled by alpha through forward hooks (the same
# path as src/kne/attribution.ts), dense gradients from torch.autograd.grad; a unit is one output
# row of an nn.Linear weight with its bias entry, scored by the sum of |w * mean gradient|.
# Selection: the global top-p units (torch.topk). Update: Adam (torch.optim.Adam) on every
# projection holding a selected unit, the dense gradient masked to the selected rows after each
# backward, mean target cross-entropy plus, with anchors, the KL weight times the mean
# KL(unedited || edited) at each anchor's last position; earlyStopLoss stops it as in
# src/kne/update.ts. Around it, as in kneEdit: a snapshot of the touched tensors, the anchors'
# reference forward, the changed entries at the end. The weights are restored between edits.
#
# Reads {config, prompt, target, anchors (prompts of one length), hp (KneHparams), edits, warmup,
# threads} and optionally weights (a safetensors checkpoint instead of random weights) as JSON on
# argv[1]; prints one JSON line: the median ms per edit, every timed edit's, the median of each
# phase, and what the edit did (units, changed entries, losses).
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import CausalLM, load_checkpoint

inp = json.loads(sys.argv[1])
hp = inp["hp"]
# The bench's KNE settings (src/kne/hparams.ts names, a missing one as 0); the other variants are
# not written here.
PLAIN = {"selection": "global", "unitScore": "sum_abs", "scoredGroups": "all",
         "ffnUnit": "projection", "klAnchorsPerStep": 0, "contextTemplates": 0,
         "reattributeEvery": 0}
variant = {k: hp.get(k, 0) for k in PLAIN}
if variant != PLAIN:
    sys.exit(f"torch_edit.py runs the plain KNE edit (global top-p over sum_abs projection units, "
             f"every anchor at every step, bare prompts, one attribution), not {variant}")
torch.set_num_threads(inp["threads"])
torch.manual_seed(1234)
model = CausalLM(inp["config"])
if inp.get("weights"):
    load_checkpoint(model, inp["weights"])
model.requires_grad_(False)
projs = model.projections()

prompt, target = inp["prompt"], inp["target"]
ids = torch.tensor([prompt + target[:-1]])
# The teacher-forced positions: the prompt's last one and each target token's but the last.
rows = torch.arange(len(prompt) - 1, len(prompt) + len(target) - 1)
targets = torch.tensor(target)
# As kneEdit: the anchors take part only with a KL weight.
anchor_ids = torch.tensor(inp["anchors"]) if inp["anchors"] and hp["klWeight"] > 0 else None
anchor_rows = None if anchor_ids is None else \
    torch.arange(anchor_ids.shape[0]) * anchor_ids.shape[1] + anchor_ids.shape[1] - 1


def tensors_of(lin):
    return [lin.weight] + ([lin.bias] if lin.bias is not None else [])


def attribute():
    """Unit scores of every projection (one per output row) and the mean target probability."""
    m, alpha = hp["igSteps"], [1.0]
    hooks = [lin.register_forward_hook(lambda _m, _i, out: out * alpha[0]) for lin in projs]
    params = [p for lin in projs for p in tensors_of(lin)]
    for p in params:
        p.requires_grad_(True)
    sums = [torch.zeros_like(p) for p in params]
    for s in range(1, m + 1):
        alpha[0] = s / m
        probs = model(ids, rows).log_softmax(-1).gather(1, targets[:, None]).exp()
        grads = torch.autograd.grad(probs.sum(), params)
        # The gradient reaching W through alpha * (W x + b) is alpha times dP/d(alpha W).
        for acc, g in zip(sums, grads):
            acc.add_(g, alpha=1 / alpha[0])
    for h in hooks:
        h.remove()
    for p in params:
        p.requires_grad_(False)
    scores, i = [], 0
    for lin in projs:
        unit = torch.zeros(lin.out_features)
        for p in tensors_of(lin):
            attr = (p * sums[i] / m).abs()
            unit += attr.sum(1) if attr.dim() == 2 else attr
            i += 1
        scores.append(unit)
    return scores, probs.mean().item()


def select(scores):
    """A row mask per projection: the global top-p units."""
    flat = torch.cat(scores)
    k = min(flat.numel(), max(1, math.ceil(hp["topP"] * flat.numel())))
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[flat.topk(k).indices] = True
    return list(keep.split([s.numel() for s in scores])), k, flat.numel()


def update(masks, ref):
    """Masked Adam steps on the projections holding selected units; the losses per step."""
    touched = [(p, mask) for lin, mask in zip(projs, masks) if mask.any()
               for p in tensors_of(lin)]
    for p, _ in touched:
        p.requires_grad_(True)
    opt = torch.optim.Adam([p for p, _ in touched], lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]))
    losses = []
    for _ in range(hp["steps"]):
        ce = F.cross_entropy(model(ids, rows), targets)
        total = ce
        if ref is not None:
            q = model(anchor_ids, anchor_rows).log_softmax(-1)
            kl = F.kl_div(q, ref, log_target=True, reduction="batchmean")
            total = total + hp["klWeight"] * kl
        losses.append(ce.item())
        if not math.isfinite(total.item()) or losses[-1] < hp["earlyStopLoss"]:
            break
        opt.zero_grad(set_to_none=True)
        total.backward()
        for p, mask in touched:
            p.grad.mul_(mask[:, None] if p.dim() == 2 else mask)
        opt.step()
    for p, _ in touched:
        p.requires_grad_(False)
    return losses


original = [p.detach().clone() for lin in projs for p in tensors_of(lin)]
times, phases, last = [], {"attribution": [], "selection": [], "update": [], "other": []}, None
for e in range(inp["warmup"] + inp["edits"]):
    t0 = time.perf_counter()
    scores, prob = attribute()
    t1 = time.perf_counter()
    masks, kept, total_units = select(scores)
    t2 = time.perf_counter()
    snapshot = [p.detach().clone() for lin, m in zip(projs, masks) if m.any()
                for p in tensors_of(lin)]
    with torch.no_grad():
        ref = None if anchor_ids is None else model(anchor_ids, anchor_rows).log_softmax(-1)
    t3 = time.perf_counter()
    losses = update(masks, ref)
    t4 = time.perf_counter()
    after = [p for lin, m in zip(projs, masks) if m.any() for p in tensors_of(lin)]
    changed = sum(int((a != b).sum()) for a, b in zip(after, snapshot))
    t5 = time.perf_counter()
    with torch.no_grad():
        for p, o in zip((p for lin in projs for p in tensors_of(lin)), original):
            p.copy_(o)
    if e < inp["warmup"]:
        continue
    times.append((t5 - t0) * 1000)
    phases["attribution"].append((t1 - t0) * 1000)
    phases["selection"].append((t2 - t1) * 1000)
    phases["update"].append((t4 - t3) * 1000)
    phases["other"].append((t3 - t2 + t5 - t4) * 1000)
    last = {"ensembleUnits": kept, "totalUnits": total_units, "changedEntries": changed,
            "targetProbBefore": prob, "steps": len(losses),
            "lossFirst": losses[0], "lossLast": losses[-1], "losses": losses}


print(json.dumps({"ms": statistics.median(times), "msAll": times,
                  "phases": {k: statistics.median(v) for k, v in phases.items()}, **last,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
