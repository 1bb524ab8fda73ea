# GPT-2 and Llama-style decoders in PyTorch for the bench peers (bench/peers/torch_*.py), written
# as a PyTorch user would write them: nn.Module layers with nn.Linear projections ([out, in]
# weights), an explicit causal mask, a tanh-GELU MLP and tied head (GPT-2), or RMSNorm, rotary
# positions, grouped KV heads and a SwiGLU MLP (Llama); an optional per-layer KV cache for
# generation. Built from the bench's ModelConfig JSON
# (src/model/config.ts field names), with GPT-2's initialisation (normal 0.02, residual
# projections 0.02 / sqrt(2 layers), as src/model/build.ts initWeights), f32, on the CPU, or with
# a Hugging Face checkpoint's weights (load_checkpoint, to check a peer against src/).
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_attention(q, k, v):
    """Softmax attention of [b, heads, t, hd] queries at the last t of k's positions, causal."""
    t, n = q.shape[2], k.shape[2]
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    mask = torch.ones(t, n, dtype=torch.bool).triu(n - t + 1)
    return att.masked_fill(mask, float("-inf")).softmax(-1) @ v


def extend(cache, k, v):
    """The layer's cached keys and values followed by k, v (the cache, a dict, keeps them)."""
    if cache is None:
        return k, v
    if cache:
        k, v = torch.cat((cache["k"], k), dim=2), torch.cat((cache["v"], v), dim=2)
    cache.update(k=k, v=v)
    return k, v


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.heads = c["dModel"], c["nHeads"]
        self.ln_1, self.ln_2 = nn.LayerNorm(d, eps=c["normEps"]), nn.LayerNorm(d, eps=c["normEps"])
        self.c_attn, self.attn_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, c["dFF"]), nn.Linear(c["dFF"], d)

    def projections(self):
        return [self.c_attn, self.attn_proj, self.c_fc, self.mlp_proj]

    def forward(self, x, cache):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        k, v = extend(cache, k, v)
        x = x + self.attn_proj(causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate(x, cos, sin):
    """Rotary positions as in Hugging Face's Llama (rotate_half over the head's two halves)."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class LlamaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.heads, self.kv = c["dModel"], c["nHeads"], c["nKvHeads"]
        hd, bias = d // self.heads, c["qkvBias"]
        self.input_layernorm = RMSNorm(d, c["normEps"])
        self.post_attention_layernorm = RMSNorm(d, c["normEps"])
        self.q_proj = nn.Linear(d, d, bias=bias)
        self.k_proj = nn.Linear(d, self.kv * hd, bias=bias)
        self.v_proj = nn.Linear(d, self.kv * hd, bias=bias)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.gate_proj = nn.Linear(d, c["dFF"], bias=False)
        self.up_proj = nn.Linear(d, c["dFF"], bias=False)
        self.down_proj = nn.Linear(c["dFF"], d, bias=False)

    def projections(self):
        return [self.q_proj, self.k_proj, self.v_proj, self.o_proj,
                self.gate_proj, self.up_proj, self.down_proj]

    def forward(self, x, cos, sin, cache):
        b, t, d = x.shape
        hd = d // self.heads
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv, hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv, hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k, v = extend(cache, k, v)
        group = self.heads // self.kv
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        x = x + self.o_proj(causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class CausalLM(nn.Module):
    """A GPT-2 or Llama-style decoder; forward gives the logits of every position or of `rows`."""

    def __init__(self, c):
        super().__init__()
        d, V = c["dModel"], c["vocabSize"]
        self.llama = c["architecture"] == "llama"
        self.wte = nn.Embedding(V, d)
        if self.llama:
            self.blocks = nn.ModuleList(LlamaBlock(c) for _ in range(c["nLayers"]))
            self.norm = RMSNorm(d, c["normEps"])
            hd = d // c["nHeads"]
            self.inv_freq = 1.0 / (c["ropeTheta"] ** (torch.arange(0, hd, 2).float() / hd))
        else:
            self.wpe = nn.Embedding(c["contextLength"], d)
            self.blocks = nn.ModuleList(GPT2Block(c) for _ in range(c["nLayers"]))
            self.norm = nn.LayerNorm(d, eps=c["normEps"])
        self.head = None if c["tieEmbeddings"] else nn.Linear(d, V, bias=False)
        self.apply(self._init)
        residual = 0.02 / math.sqrt(2 * c["nLayers"])
        for blk in self.blocks:
            for lin in (blk.down_proj, blk.o_proj) if self.llama else (blk.attn_proj, blk.mlp_proj):
                nn.init.normal_(lin.weight, std=residual)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def projections(self):
        """Every layer's attention and FFN projections, in layer order (what KNE scores)."""
        return [lin for blk in self.blocks for lin in blk.projections()]

    def forward(self, ids, rows=None, cache=None):
        """
        Logits [b, t, V], or [len(rows), V] at flat positions `rows` of the [b * t] rows. With
        `cache` (one dict per layer, empty at first) ids follow the positions cached so far.
        """
        b, t = ids.shape
        caches = cache or [None] * len(self.blocks)
        start = caches[0]["k"].shape[2] if caches[0] else 0
        pos = torch.arange(start, start + t)
        x = self.wte(ids)
        if self.llama:
            freqs = torch.outer(pos.float(), self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos(), emb.sin()
            for blk, c in zip(self.blocks, caches):
                x = blk(x, cos, sin, c)
        else:
            x = x + self.wpe(pos)
            for blk, c in zip(self.blocks, caches):
                x = blk(x, c)
        x = self.norm(x)
        if rows is not None:
            x = x.reshape(b * t, -1)[rows]
        return x @ self.wte.weight.T if self.head is None else self.head(x)


def torch_name(hf):
    """CausalLM's name of a Hugging Face GPT-2 or Llama parameter."""
    for a, b in [("transformer.h.", "blocks."), ("model.layers.", "blocks."),
                 ("transformer.ln_f", "norm"), ("model.norm", "norm"), ("transformer.", ""),
                 ("model.embed_tokens", "wte"), ("lm_head", "head"), ("attn.c_attn", "c_attn"),
                 ("attn.c_proj", "attn_proj"), ("mlp.c_fc", "c_fc"), ("mlp.c_proj", "mlp_proj"),
                 ("self_attn.", ""), ("mlp.", "")]:
        hf = hf.replace(a, b)
    return hf


def load_checkpoint(model, path):
    """Loads a safetensors checkpoint (F32 or BF16) of Hugging Face GPT-2 or Llama into `model`."""
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        data = bytearray(f.read())
    state = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "BF16": torch.bfloat16}[t["dtype"]]
        start, end = t["data_offsets"]
        x = torch.frombuffer(data[start:end], dtype=dtype).view(t["shape"]).float()
        name = torch_name(name)
        # GPT-2's Conv1D weights are [in, out]; nn.Linear's are [out, in].
        state[name] = x.T if not model.llama and x.dim() == 2 and "blocks." in name else x
    model.load_state_dict(state)
