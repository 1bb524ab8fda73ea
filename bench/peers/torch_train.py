# PyTorch peer of bench/train.ts: one training step (forward, backward, AdamW) of a GPT-2-shaped
# model, written as a PyTorch user would write it (nn.Module layers, F.scaled-free attention with
# a causal mask, tied head), on the CPU with 2 threads. Reads the shape as JSON on argv[1];
# prints one JSON line: seconds per step (median after warm-up) and tokens per second.
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
s = json.loads(sys.argv[1])
steps, warmup = s.get("steps", 6), s.get("warmup", 2)
d, L, H, V, T, B = s["d"], s["layers"], s["heads"], s["vocab"], s["rowTokens"], s["batch"]


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, mask):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, H, d // H).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // H)
        att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(s["ctx"], d)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln = nn.LayerNorm(d)
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1))

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for blk in self.blocks:
            x = blk(x, self.mask)
        return self.ln(x) @ self.wte.weight.T


torch.manual_seed(1)
model = GPT()
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
times.sort()
median = times[len(times) // 2]
print(json.dumps({"secondsPerStep": median, "tokensPerSecond": n / median,
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
