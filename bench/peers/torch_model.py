# PyTorch peer of bench/model.ts: one forward + backward (mean next-token cross-entropy over all
# positions, batch 1) of the bench's model (bench/peers/torch_models.py), as a PyTorch user would
# write it, on the CPU with the bench's thread count; gradients are cleared outside the timing, as
# the bench does. Reads {config, ids, targets, rounds, threads} as JSON on argv[1]; prints one JSON
# line: the median ms per step and of its forward after one warm-up step, and the last loss.
# With "weights" (a safetensors path) the model holds that checkpoint instead of random weights;
# with "generate": n, greedy decoding after the ids is timed as the bench times it: n tokens
# with the KV cache (prefill included) and 3 recomputing the full forward, ms per token (and the
# tokens each gave).
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import CausalLM, load_checkpoint

inp = json.loads(sys.argv[1])
torch.set_num_threads(inp["threads"])
torch.manual_seed(1234)
model = CausalLM(inp["config"])
if inp.get("weights"):
    load_checkpoint(model, inp["weights"])
ids, targets = torch.tensor([inp["ids"]]), torch.tensor(inp["targets"])
times, forward = [], []
for r in range(1 + inp["rounds"]):
    t0 = time.perf_counter()
    loss = F.cross_entropy(model(ids)[0], targets)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    if r > 0:
        times.append((t2 - t0) * 1000)
        forward.append((t1 - t0) * 1000)


def greedy(n, cached):
    """Generates n tokens greedily after the ids: the ms per token and the tokens."""
    t0 = time.perf_counter()
    cache = [{} for _ in model.blocks] if cached else None
    seq = feed = ids
    with torch.no_grad():
        for _ in range(n):
            tok = model(feed, cache=cache)[0, -1].argmax().view(1, 1)
            seq = torch.cat((seq, tok), dim=1)
            feed = tok if cached else seq
    return (time.perf_counter() - t0) * 1000 / n, seq[0, ids.shape[1]:].tolist()


out = {"ms": statistics.median(times), "msAll": times, "forwardMs": statistics.median(forward),
       "loss": loss.item(), "torch": torch.__version__, "threads": torch.get_num_threads()}
if inp.get("generate"):
    (cached_ms, cached), (full_ms, full) = greedy(inp["generate"], True), greedy(3, False)
    out["generation"] = {"cachedMsPerToken": cached_ms, "fullMsPerToken": full_ms,
                         "tokens": inp["generate"], "cachedTokens": cached, "fullTokens": full}
print(json.dumps(out))
