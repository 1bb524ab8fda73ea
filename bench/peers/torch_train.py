# PyTorch peer of bench/train.ts: one training step (forward, backward, AdamW) of the bench's
# GPT-2-shaped model (bench/peers/torch_models.py), as a PyTorch user would write it, on the CPU
# with the bench's thread count. Reads {config, batch, rowTokens, steps, warmup, threads} as JSON
# on argv[1]; prints one JSON line: seconds per step (median after warm-up) and tokens per second.
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import CausalLM

s = json.loads(sys.argv[1])
torch.set_num_threads(s["threads"])
steps, warmup = s["steps"], s["warmup"]
V, T, B = s["config"]["vocabSize"], s["rowTokens"], s["batch"]

torch.manual_seed(1)
model = CausalLM(s["config"])
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
n = B * T
ids = torch.tensor([(i * 7919 + 13) % V for i in range(n)]).view(B, T)
targets = torch.tensor([((i * 7919 + 13) % V * 31 + 7) % V for i in range(n)]).view(B, T)
times = []
for step in range(warmup + steps):
    t0 = time.perf_counter()
    loss = F.cross_entropy(model(ids).view(n, V), targets.view(n))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step >= warmup:
        times.append(time.perf_counter() - t0)
median = statistics.median(times)
print(json.dumps({"secondsPerStep": median, "tokensPerSecond": n / median,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
