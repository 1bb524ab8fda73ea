#!/usr/bin/python3.11
"""Independent float64 oracle for kne: writes the tiny fixtures under tests/fixtures (README.md).

GPT-2, a Llama-style decoder, GPT-NeoX, GPT-J and Gemma 1-3 are written here from scratch in
torch, following the published Hugging Face definitions (modeling_gpt2.py, modeling_llama.py,
modeling_gpt_neox.py, modeling_gptj.py, modeling_gemma.py, modeling_gemma2.py, modeling_gemma3.py);
transformers is NOT imported. Each
fixture folder gets, in Hugging Face layout:

  config.json          the HF config (architectures, model_type and the fields HF writes)
  model.safetensors    the weights with HF parameter names (tiny-llama in BF16)
  tokenizer.json       a word-level WordPiece tokenizer over the 96-token vocabulary
  expected.safetensors input_ids [12] (as F32), logits [12, V], loss [1] (mean next-token
                       cross-entropy, last position ignored) and grad.<name> for every parameter,
                       all computed in float64 from the weights exactly as stored, then saved F32.

Run: /usr/bin/python3.11 tests/oracle/make_fixtures.py   (needs only Debian's python3-torch)
"""

import json
import math
import os
import struct
import sys

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
SEED = 20240611
SEQ = 12

torch.set_default_dtype(torch.float64)

# ---------------------------------------------------------------- safetensors (by hand)

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor) with the tensor already in its storage dtype."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        assert sys.byteorder == "little"
        header[name] = {
            "dtype": DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------- vocabulary / tokenizer

WORDS = (
    ". , ' ? ! The the capital of France is Paris Spain Madrid Italy Rome Germany Berlin Japan Tokyo "
    "Canada Ottawa Egypt Cairo Peru Lima city country language speaks people in a an and "
    "river mountain largest smallest north south east west old new was born wrote painted "
    "invented discovered president king queen author book song film team plays for located "
    "on at by from to with which who what where when official currency euro yen dollar "
    "English French Spanish Italian German Japanese Brazil Brasilia China Beijing India Delhi "
    "Russia Moscow Kenya Nairobi Chile Santiago Greece Athens Norway Oslo"
).split()


def make_vocab(specials):
    vocab = list(specials)
    for w in WORDS:
        if w not in vocab:
            vocab.append(w)
    assert len(vocab) >= 96, len(vocab)
    return vocab[:96]


def tokenizer_json(vocab, unk, specials, bos=None):
    added = [
        {"id": vocab.index(s), "content": s, "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": False, "special": True}
        for s in specials
    ]
    if bos is None:
        post = None
    else:
        post = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [vocab.index(bos)], "tokens": [bos]}},
        }
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {
            "type": "WordPiece",
            "unk_token": unk,
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {w: i for i, w in enumerate(vocab)},
        },
    }


TEXT = "The capital of France is Paris . The capital of Spain is"


def encode(vocab, text):
    ids = [vocab.index(w) for w in text.split()]
    assert len(ids) == SEQ, len(ids)
    return torch.tensor(ids, dtype=torch.long)


# ---------------------------------------------------------------- shared pieces


def randn(gen, *shape, std=1.0, mean=0.0):
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * std + mean


def causal_attention(q, k, v):
    """q, k, v: [H, T, hd] -> [T, H*hd], softmax(q k^T / sqrt(hd) + causal mask) v."""
    _, t, hd = q.shape
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    y = torch.softmax(scores, dim=-1) @ v
    return y.transpose(0, 1).reshape(t, -1)


def next_token_loss(logits, ids):
    logp = torch.log_softmax(logits[:-1], dim=-1)
    return -logp.gather(1, ids[1:, None]).mean()


# ---------------------------------------------------------------- GPT-2


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_params(cfg, gen):
    d, ff, v, npos = cfg["n_embd"], cfg["n_inner"] or 4 * cfg["n_embd"], cfg["vocab_size"], \
        cfg["n_positions"]
    p = {"transformer.wte.weight": randn(gen, v, d, std=0.2),
         "transformer.wpe.weight": randn(gen, npos, d, std=0.1)}
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}."
        p[h + "ln_1.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "ln_1.bias"] = randn(gen, d, std=0.1)
        p[h + "attn.c_attn.weight"] = randn(gen, d, 3 * d, std=0.15)  # Conv1D: [in, out]
        p[h + "attn.c_attn.bias"] = randn(gen, 3 * d, std=0.1)
        p[h + "attn.c_proj.weight"] = randn(gen, d, d, std=0.15)
        p[h + "attn.c_proj.bias"] = randn(gen, d, std=0.1)
        p[h + "ln_2.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "ln_2.bias"] = randn(gen, d, std=0.1)
        p[h + "mlp.c_fc.weight"] = randn(gen, d, ff, std=0.15)
        p[h + "mlp.c_fc.bias"] = randn(gen, ff, std=0.1)
        p[h + "mlp.c_proj.weight"] = randn(gen, ff, d, std=0.15)
        p[h + "mlp.c_proj.bias"] = randn(gen, d, std=0.1)
    p["transformer.ln_f.weight"] = randn(gen, d, std=0.2, mean=1.0)
    p["transformer.ln_f.bias"] = randn(gen, d, std=0.1)
    return p


def gpt2_forward(cfg, p, ids):
    d, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = d // nh
    t = ids.shape[0]
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][:t]
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}."
        a = layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
        qkv = a @ p[h + "attn.c_attn.weight"] + p[h + "attn.c_attn.bias"]
        q, k, v = qkv.split(d, dim=-1)
        q, k, v = (z.reshape(t, nh, hd).transpose(0, 1) for z in (q, k, v))
        y = causal_attention(q, k, v)
        x = x + (y @ p[h + "attn.c_proj.weight"] + p[h + "attn.c_proj.bias"])
        m = layer_norm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
        act = gelu_exact if cfg["activation_function"] == "gelu" else gelu_new
        m = act(m @ p[h + "mlp.c_fc.weight"] + p[h + "mlp.c_fc.bias"])
        x = x + (m @ p[h + "mlp.c_proj.weight"] + p[h + "mlp.c_proj.bias"])
    x = layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return x @ p["transformer.wte.weight"].T  # tied lm_head


GPT2_CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 0,
    "embd_pdrop": 0.1,
    "eos_token_id": 0,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 32,
    "n_embd": 32,
    "n_head": 4,
    "n_inner": None,
    "n_layer": 2,
    "n_positions": 32,
    "reorder_and_upcast_attn": False,
    "resid_pdrop": 0.1,
    "scale_attn_by_inverse_layer_idx": False,
    "scale_attn_weights": True,
    "summary_activation": None,
    "summary_first_dropout": 0.1,
    "summary_proj_to_labels": True,
    "summary_type": "cls_index",
    "summary_use_proj": True,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.44.0",
    "use_cache": True,
    "vocab_size": 96,
}

# GPT-2 with the exact GELU (activation_function "gelu", as some GPT-2-architecture models ship),
# stored in F16.
GPT2_GELU_CONFIG = {**GPT2_CONFIG, "activation_function": "gelu", "torch_dtype": "float16"}

# ---------------------------------------------------------------- Llama


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama3_inv_freq(inv_freq, scaling):
    """transformers' _compute_llama3_parameters on a default inverse-frequency tensor."""
    factor, old_context = scaling["factor"], scaling["original_max_position_embeddings"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def inv_freq_of(hd, theta, scaling, dtype):
    """HF's rotary inverse frequencies (default, linear or llama3) in `dtype`."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(dtype) / hd))
    if scaling is None:
        return inv_freq
    if scaling["rope_type"] == "linear":
        return inv_freq / scaling["factor"]
    return llama3_inv_freq(inv_freq, scaling)


def rope(x, theta, scaling=None):
    """x: [H, T, hd]; HF LlamaRotaryEmbedding + apply_rotary_pos_emb."""
    _, t, hd = x.shape
    inv_freq = inv_freq_of(hd, theta, scaling, torch.float64)
    freqs = torch.arange(t, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def llama_params(cfg, gen):
    d, ff, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // nh
    p = {"model.embed_tokens.weight": randn(gen, v, d, std=0.2)}
    for i in range(cfg["num_hidden_layers"]):
        h = f"model.layers.{i}."
        p[h + "input_layernorm.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "self_attn.q_proj.weight"] = randn(gen, nh * hd, d, std=0.2)  # Linear: [out, in]
        p[h + "self_attn.k_proj.weight"] = randn(gen, nkv * hd, d, std=0.2)
        p[h + "self_attn.v_proj.weight"] = randn(gen, nkv * hd, d, std=0.2)
        p[h + "self_attn.o_proj.weight"] = randn(gen, d, nh * hd, std=0.15)
        p[h + "post_attention_layernorm.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "mlp.gate_proj.weight"] = randn(gen, ff, d, std=0.2)
        p[h + "mlp.up_proj.weight"] = randn(gen, ff, d, std=0.2)
        p[h + "mlp.down_proj.weight"] = randn(gen, d, ff, std=0.15)
        if cfg["model_type"] == "qwen3":
            p[h + "self_attn.q_norm.weight"] = randn(gen, hd, std=0.2, mean=1.0)
            p[h + "self_attn.k_norm.weight"] = randn(gen, hd, std=0.2, mean=1.0)
    p["model.norm.weight"] = randn(gen, d, std=0.2, mean=1.0)
    if not cfg["tie_word_embeddings"]:
        p["lm_head.weight"] = randn(gen, v, d, std=0.2)
    return p


def llama_forward(cfg, p, ids):
    d, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    eps, theta, scaling = cfg["rms_norm_eps"], cfg["rope_theta"], cfg["rope_scaling"]
    hd = cfg.get("head_dim") or d // nh
    rep = nh // nkv
    t = ids.shape[0]
    qwen3 = cfg["model_type"] == "qwen3"
    x = p["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        h = f"model.layers.{i}."
        a = rms_norm(x, p[h + "input_layernorm.weight"], eps)
        q = (a @ p[h + "self_attn.q_proj.weight"].T).reshape(t, nh, hd)
        k = (a @ p[h + "self_attn.k_proj.weight"].T).reshape(t, nkv, hd)
        v = (a @ p[h + "self_attn.v_proj.weight"].T).reshape(t, nkv, hd).transpose(0, 1)
        if qwen3:
            # Qwen3Attention: q_norm / k_norm, RMSNorm over each head's values, before rotary.
            q = rms_norm(q, p[h + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[h + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(0, 1), k.transpose(0, 1)
        q, k = rope(q, theta, scaling), rope(k, theta, scaling)
        # repeat_kv: key/value head j serves query heads j*rep .. j*rep + rep - 1.
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        y = causal_attention(q, k, v)
        x = x + y @ p[h + "self_attn.o_proj.weight"].T
        m = rms_norm(x, p[h + "post_attention_layernorm.weight"], eps)
        gate = m @ p[h + "mlp.gate_proj.weight"].T
        up = m @ p[h + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ p[h + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = "model.embed_tokens.weight" if cfg["tie_word_embeddings"] else "lm_head.weight"
    return x @ p[head].T


LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 48,
    "max_position_embeddings": 64,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.44.0",
    "use_cache": True,
    "vocab_size": 96,
}

# Llama 3.x's rotary scaling on the tiny model: with head dim 8 and theta 10000 the wavelengths
# are 6.3, 63, 628 and 6283 positions, so an original context of 128 (kept below 32, divided
# above 128) puts one frequency in each of llama3's three branches.
LLAMA3_CONFIG = {
    **LLAMA_CONFIG,
    "max_position_embeddings": 1024,
    "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 128, "rope_type": "llama3"},
}

# ---------------------------------------------------------------- GPT-NeoX


def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def neox_params(cfg, gen):
    d, ff, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    p = {"gpt_neox.embed_in.weight": randn(gen, v, d, std=0.2)}
    for i in range(cfg["num_hidden_layers"]):
        h = f"gpt_neox.layers.{i}."
        p[h + "input_layernorm.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "input_layernorm.bias"] = randn(gen, d, std=0.1)
        p[h + "post_attention_layernorm.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "post_attention_layernorm.bias"] = randn(gen, d, std=0.1)
        p[h + "attention.query_key_value.weight"] = randn(gen, 3 * d, d, std=0.2)
        p[h + "attention.query_key_value.bias"] = randn(gen, 3 * d, std=0.1)
        p[h + "attention.dense.weight"] = randn(gen, d, d, std=0.15)
        p[h + "attention.dense.bias"] = randn(gen, d, std=0.1)
        p[h + "mlp.dense_h_to_4h.weight"] = randn(gen, ff, d, std=0.2)
        p[h + "mlp.dense_h_to_4h.bias"] = randn(gen, ff, std=0.1)
        p[h + "mlp.dense_4h_to_h.weight"] = randn(gen, d, ff, std=0.15)
        p[h + "mlp.dense_4h_to_h.bias"] = randn(gen, d, std=0.1)
    p["gpt_neox.final_layer_norm.weight"] = randn(gen, d, std=0.2, mean=1.0)
    p["gpt_neox.final_layer_norm.bias"] = randn(gen, d, std=0.1)
    p["embed_out.weight"] = randn(gen, v, d, std=0.2)
    return p


def neox_forward(cfg, p, ids):
    """HF GPTNeoXForCausalLM: per-head [q, k, v] in query_key_value, rotary on the first
    rotary_ndims = int(head_size * rotary_pct) values of each head, parallel residual."""
    d, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = d // nh
    rot = int(hd * cfg["rotary_pct"])
    act = gelu_exact if cfg["hidden_act"] == "gelu" else gelu_new
    t = ids.shape[0]
    x = p["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        h = f"gpt_neox.layers.{i}."
        a = layer_norm(x, p[h + "input_layernorm.weight"], p[h + "input_layernorm.bias"], eps)
        w, b = p[h + "attention.query_key_value.weight"], p[h + "attention.query_key_value.bias"]
        qkv = (a @ w.T + b).reshape(t, nh, 3 * hd).transpose(0, 1)  # [H, T, 3*hd]
        q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
        q = torch.cat((rope(q[..., :rot], cfg["rotary_emb_base"]), q[..., rot:]), dim=-1)
        k = torch.cat((rope(k[..., :rot], cfg["rotary_emb_base"]), k[..., rot:]), dim=-1)
        y = causal_attention(q, k, v)
        attn = y @ p[h + "attention.dense.weight"].T + p[h + "attention.dense.bias"]
        mlp_in = x if cfg["use_parallel_residual"] else x + attn
        m = layer_norm(mlp_in, p[h + "post_attention_layernorm.weight"],
                       p[h + "post_attention_layernorm.bias"], eps)
        m = act(m @ p[h + "mlp.dense_h_to_4h.weight"].T + p[h + "mlp.dense_h_to_4h.bias"])
        x = x + attn + m @ p[h + "mlp.dense_4h_to_h.weight"].T + p[h + "mlp.dense_4h_to_h.bias"]
    fw, fb = p["gpt_neox.final_layer_norm.weight"], p["gpt_neox.final_layer_norm.bias"]
    return layer_norm(x, fw, fb, eps) @ p["embed_out.weight"].T


NEOX_CONFIG = {
    "architectures": ["GPTNeoXForCausalLM"],
    "attention_bias": True,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "hidden_act": "gelu",
    "hidden_dropout": 0.0,
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 64,
    "model_type": "gpt_neox",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "rope_scaling": None,
    "rotary_emb_base": 10000,
    "rotary_pct": 0.5,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.44.0",
    "use_cache": True,
    "use_parallel_residual": True,
    "vocab_size": 96,
}

# The sequential residual (use_parallel_residual false), a quarter of each head rotated, and the
# tanh GELU: the other branches of the same forward.
NEOX_SEQ_CONFIG = {
    **NEOX_CONFIG,
    "hidden_act": "gelu_new",
    "rotary_pct": 0.25,
    "use_parallel_residual": False,
}

# ---------------------------------------------------------------- GPT-J


def rotate_every_two(x):
    """Pairs (0, 1), (2, 3), ... of the last axis: (a, b) -> (-b, a)."""
    out = torch.empty_like(x)
    out[..., 0::2] = -x[..., 1::2]
    out[..., 1::2] = x[..., 0::2]
    return out


def rope_interleaved(x, theta):
    """x: [H, T, rot]; GPT-J's apply_rotary_pos_emb: each frequency's sin and cos repeated for the
    two values of its pair (repeat_interleave), pairs turned by rotate_every_two."""
    _, t, rot = x.shape
    inv_freq = inv_freq_of(rot, theta, None, torch.float64)
    freqs = torch.arange(t, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = freqs.repeat_interleave(2, dim=-1)
    return x * emb.cos() + rotate_every_two(x) * emb.sin()


def gptj_params(cfg, gen):
    d, v = cfg["n_embd"], cfg["vocab_size"]
    ff = cfg["n_inner"] or 4 * d
    p = {"transformer.wte.weight": randn(gen, v, d, std=0.2)}
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}."
        p[h + "ln_1.weight"] = randn(gen, d, std=0.2, mean=1.0)
        p[h + "ln_1.bias"] = randn(gen, d, std=0.1)
        p[h + "attn.k_proj.weight"] = randn(gen, d, d, std=0.2)  # Linear: [out, in], no bias
        p[h + "attn.v_proj.weight"] = randn(gen, d, d, std=0.2)
        p[h + "attn.q_proj.weight"] = randn(gen, d, d, std=0.2)
        p[h + "attn.out_proj.weight"] = randn(gen, d, d, std=0.15)
        p[h + "mlp.fc_in.weight"] = randn(gen, ff, d, std=0.2)
        p[h + "mlp.fc_in.bias"] = randn(gen, ff, std=0.1)
        p[h + "mlp.fc_out.weight"] = randn(gen, d, ff, std=0.15)
        p[h + "mlp.fc_out.bias"] = randn(gen, d, std=0.1)
    p["transformer.ln_f.weight"] = randn(gen, d, std=0.2, mean=1.0)
    p["transformer.ln_f.bias"] = randn(gen, d, std=0.1)
    p["lm_head.weight"] = randn(gen, v, d, std=0.2)
    p["lm_head.bias"] = randn(gen, v, std=0.1)
    return p


def gptj_forward(cfg, p, ids):
    """HF GPTJForCausalLM: ln_1 feeds attention and the MLP, both added to the layer's input;
    q/k/v/out without biases; rotary (base 10000) on each head's first rotary_dim values in
    interleaved pairs; lm_head with a bias."""
    d, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = d // nh
    rot = cfg["rotary_dim"]
    act = gelu_exact if cfg["activation_function"] == "gelu" else gelu_new
    t = ids.shape[0]
    x = p["transformer.wte.weight"][ids]
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}."
        a = layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
        q, k, v = (
            (a @ p[h + f"attn.{n}_proj.weight"].T).reshape(t, nh, hd).transpose(0, 1)
            for n in "qkv"
        )
        q = torch.cat((rope_interleaved(q[..., :rot], 10000.0), q[..., rot:]), dim=-1)
        k = torch.cat((rope_interleaved(k[..., :rot], 10000.0), k[..., rot:]), dim=-1)
        attn = causal_attention(q, k, v) @ p[h + "attn.out_proj.weight"].T
        m = act(a @ p[h + "mlp.fc_in.weight"].T + p[h + "mlp.fc_in.bias"])
        x = x + attn + m @ p[h + "mlp.fc_out.weight"].T + p[h + "mlp.fc_out.bias"]
    x = layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return x @ p["lm_head.weight"].T + p["lm_head.bias"]


# GPT-J-6B's layout at a tiny size: 2 heads of 16 values, the first 10 of each rotated (5 pairs:
# four turned together and one alone on the WASM backend), 3 layers, n_inner null (4 * n_embd),
# the tanh GELU, an untied head with a bias; F16 as GPT-J-6B's float16 revision.
GPTJ_CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPTJForCausalLM"],
    "attn_pdrop": 0.0,
    "bos_token_id": 0,
    "embd_pdrop": 0.0,
    "eos_token_id": 0,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gptj",
    "n_embd": 32,
    "n_head": 2,
    "n_inner": None,
    "n_layer": 3,
    "n_positions": 64,
    "resid_pdrop": 0.0,
    "rotary": True,
    "rotary_dim": 10,
    "scale_attn_weights": True,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.44.0",
    "use_cache": True,
    "vocab_size": 96,
}

# ---------------------------------------------------------------- Gemma 1, 2, 3

GEMMA_VERSIONS = {"gemma": 1, "gemma2": 2, "gemma3_text": 3}


def gemma_norm(x, w, eps):
    """GemmaRMSNorm: the weight is stored as an offset from 1."""
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * (1.0 + w)


def softcap(x, cap):
    return torch.tanh(x / cap) * cap


def gemma_attention(q, k, v, scale, cap, window):
    """q, k, v: [H, T, hd] -> [T, H*hd]: scores q k^T * scale, soft-capped (Gemma 2), then the
    causal mask, narrowed to the last `window` positions (key j > query i - window) on a sliding
    layer, and the softmax."""
    _, t, _ = q.shape
    scores = (q @ k.transpose(-1, -2)) * scale
    if cap is not None:
        scores = softcap(scores, cap)
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    allowed = j <= i
    if window is not None:
        allowed = allowed & (j > i - window)
    y = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v
    return y.transpose(0, 1).reshape(t, -1)


def gemma_sliding(cfg, i):
    """Whether layer i attends within the sliding window (Gemma 2: every other layer from the
    first; Gemma 3: layer_types, else all but every sliding_window_pattern-th)."""
    version = GEMMA_VERSIONS[cfg["model_type"]]
    if version == 1:
        return False
    if cfg.get("layer_types") is not None:
        return cfg["layer_types"][i] == "sliding_attention"
    period = 2 if version == 2 else cfg.get("sliding_window_pattern", 6)
    return (i + 1) % period != 0


def gemma_params(cfg, gen):
    version = GEMMA_VERSIONS[cfg["model_type"]]
    d, ff, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    p = {"model.embed_tokens.weight": randn(gen, v, d, std=0.2)}
    # Norm weights are offsets from 1: drawn around 0, so 1 + w is far from both 0 and 1.
    for i in range(cfg["num_hidden_layers"]):
        h = f"model.layers.{i}."
        p[h + "input_layernorm.weight"] = randn(gen, d, std=0.3)
        p[h + "self_attn.q_proj.weight"] = randn(gen, nh * hd, d, std=0.2)  # Linear: [out, in]
        p[h + "self_attn.k_proj.weight"] = randn(gen, nkv * hd, d, std=0.2)
        p[h + "self_attn.v_proj.weight"] = randn(gen, nkv * hd, d, std=0.2)
        p[h + "self_attn.o_proj.weight"] = randn(gen, d, nh * hd, std=0.15)
        if version == 3:
            p[h + "self_attn.q_norm.weight"] = randn(gen, hd, std=0.3)
            p[h + "self_attn.k_norm.weight"] = randn(gen, hd, std=0.3)
        p[h + "post_attention_layernorm.weight"] = randn(gen, d, std=0.3)
        if version >= 2:
            p[h + "pre_feedforward_layernorm.weight"] = randn(gen, d, std=0.3)
            p[h + "post_feedforward_layernorm.weight"] = randn(gen, d, std=0.3)
        p[h + "mlp.gate_proj.weight"] = randn(gen, ff, d, std=0.2)
        p[h + "mlp.up_proj.weight"] = randn(gen, ff, d, std=0.2)
        p[h + "mlp.down_proj.weight"] = randn(gen, d, ff, std=0.15)
    p["model.norm.weight"] = randn(gen, d, std=0.3)
    return p


def gemma_forward(cfg, p, ids):
    """HF GemmaForCausalLM / Gemma2ForCausalLM / Gemma3ForCausalLM (eager attention): embeddings
    times sqrt(hidden_size), GemmaRMSNorm, rotary (Gemma 3's sliding layers with
    rope_local_base_freq, unscaled), the tanh-GELU gated MLP; Gemma 2 and 3: post-attention and
    pre/post-feedforward norms, scores scaled by query_pre_attn_scalar^-0.5, soft-capping;
    Gemma 3: q_norm / k_norm before the rotary. The head is the embedding table (tied)."""
    version = GEMMA_VERSIONS[cfg["model_type"]]
    d, nh, nkv, hd = (cfg["hidden_size"], cfg["num_attention_heads"],
                      cfg["num_key_value_heads"], cfg["head_dim"])
    eps, rep, t = cfg["rms_norm_eps"], nh // nkv, ids.shape[0]
    scale = (hd if version == 1 else cfg["query_pre_attn_scalar"]) ** -0.5
    attn_cap = cfg.get("attn_logit_softcapping") if version >= 2 else None
    final_cap = cfg.get("final_logit_softcapping") if version >= 2 else None
    x = p["model.embed_tokens.weight"][ids] * math.sqrt(d)
    for i in range(cfg["num_hidden_layers"]):
        h = f"model.layers.{i}."
        sliding = gemma_sliding(cfg, i)
        if version == 3 and sliding:
            theta, scaling = cfg["rope_local_base_freq"], None
        else:
            theta, scaling = cfg["rope_theta"], cfg.get("rope_scaling")
        a = gemma_norm(x, p[h + "input_layernorm.weight"], eps)
        q = (a @ p[h + "self_attn.q_proj.weight"].T).reshape(t, nh, hd)
        k = (a @ p[h + "self_attn.k_proj.weight"].T).reshape(t, nkv, hd)
        v = (a @ p[h + "self_attn.v_proj.weight"].T).reshape(t, nkv, hd).transpose(0, 1)
        if version == 3:
            q = gemma_norm(q, p[h + "self_attn.q_norm.weight"], eps)
            k = gemma_norm(k, p[h + "self_attn.k_norm.weight"], eps)
        q = rope(q.transpose(0, 1), theta, scaling)
        k = rope(k.transpose(0, 1), theta, scaling)
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        y = gemma_attention(q, k, v, scale, attn_cap, cfg["sliding_window"] if sliding else None)
        attn = y @ p[h + "self_attn.o_proj.weight"].T
        if version >= 2:
            attn = gemma_norm(attn, p[h + "post_attention_layernorm.weight"], eps)
        x = x + attn
        pre = "pre_feedforward_layernorm" if version >= 2 else "post_attention_layernorm"
        m = gemma_norm(x, p[h + pre + ".weight"], eps)
        m = gelu_new(m @ p[h + "mlp.gate_proj.weight"].T) * (m @ p[h + "mlp.up_proj.weight"].T)
        m = m @ p[h + "mlp.down_proj.weight"].T
        if version >= 2:
            m = gemma_norm(m, p[h + "post_feedforward_layernorm.weight"], eps)
        x = x + m
    logits = gemma_norm(x, p["model.norm.weight"], eps) @ p["model.embed_tokens.weight"].T
    return softcap(logits, final_cap) if final_cap is not None else logits


# Gemma 1 (google/gemma-2b's layout at a tiny size): one key/value head (multi-query), a head
# size of 16 beside a width of 32 and 4 heads (Gemma's 256), and hidden_act "gelu" as gemma-2b's
# config.json says, though Gemma runs the tanh GELU (transformers 4.38-4.47; src/model/
# read-config.ts); BF16.
GEMMA_CONFIG = {
    "architectures": ["GemmaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "head_dim": 16,
    "hidden_act": "gelu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "gemma",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.38.0.dev0",
    "use_cache": True,
    "vocab_size": 96,
}

# Gemma 2 (google/gemma-2-2b's layout): four norms a layer, scores scaled by
# query_pre_attn_scalar 24 (not the head size 16, as Gemma-2-27B's 144 beside 128), attention
# and final soft-capping at 2 and 1.5 (the fixture's scores and logits reach past them, where
# tanh bends; Gemma 2 caps at 50 and 30), sliding windows of 32 on layers 0 and 2 (the context is
# capped there; 12 tokens attend as under full attention), 3 layers, F32 as gemma-2-2b ships.
GEMMA2_CONFIG = {
    "architectures": ["Gemma2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": 2.0,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": 1,
    "final_logit_softcapping": 1.5,
    "head_dim": 16,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "gemma2",
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 2,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 24,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "sliding_window": 32,
    "torch_dtype": "float32",
    "transformers_version": "4.42.4",
    "use_cache": True,
    "vocab_size": 96,
}

# Gemma 3 text-only (google/gemma-3-1b's layout): q_norm / k_norm, no soft-capping, layers 0
# and 1 sliding (sliding_window_pattern 3) with the local rotary base 10000, layer 2 global with
# rope_theta 1e6 scaled linearly by 8 (as Gemma 3 4B and larger), query_pre_attn_scalar 16; BF16.
GEMMA3_CONFIG = {
    "architectures": ["Gemma3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "cache_implementation": "hybrid",
    "eos_token_id": [1],
    "final_logit_softcapping": None,
    "head_dim": 16,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "num_key_value_heads": 2,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 16,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "rope_theta": 1000000.0,
    "sliding_window": 32,
    "sliding_window_pattern": 3,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.50.0.dev0",
    "use_cache": True,
    "vocab_size": 96,
}

# Qwen3 (Qwen3ForCausalLM): the Llama layout with q_norm / k_norm, a head size of 16 beside a
# width of 32 and 4 heads (as Qwen3-0.6B's 128 beside 1024 and 16), no biases, a tied head.
QWEN3_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 48,
    "max_position_embeddings": 64,
    "max_window_layers": 2,
    "model_type": "qwen3",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 96,
}

# Rotary tables in float32, computed with torch's float32 operations as transformers does, each
# unscaled and scaled, for the engine's tables (src/model/rope.ts) to be held against: Llama 3.2
# 1B's and 3.1 8B's shapes and settings, Llama 2's default, a linear scaling and odd settings.
ROPE_TABLES = [
    (64, 500000.0, {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                    "original_max_position_embeddings": 8192, "rope_type": "llama3"}),
    (128, 500000.0, {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"}),
    (8, 10000.0, LLAMA3_CONFIG["rope_scaling"]),
    (128, 10000.0, None),
    (96, 1000000.0, None),
    (80, 10000.0, {"factor": 4.0, "rope_type": "linear"}),
    (100, 123.5, {"factor": 2.0, "high_freq_factor": 3.0, "low_freq_factor": 0.5,
                  "original_max_position_embeddings": 100, "rope_type": "llama3"}),
]


def f32_bits(t):
    assert t.dtype == torch.float32
    return [struct.unpack("<I", struct.pack("<f", v))[0] for v in t.tolist()]


def make_rope_tables():
    tables = []
    for hd, theta, scaling in ROPE_TABLES:
        tables.append({"head_dim": hd, "rope_theta": theta, "rope_scaling": scaling,
                       "default_bits": f32_bits(inv_freq_of(hd, theta, None, torch.float32)),
                       "inv_freq_bits": f32_bits(inv_freq_of(hd, theta, scaling, torch.float32))})
    write_json(os.path.join(ROOT, "rope-inv-freq.json"),
               {"generator": "tests/oracle/make_fixtures.py", "tables": tables})
    print(f"rope-inv-freq.json: {len(tables)} tables")


# ---------------------------------------------------------------- driver


def make(name, cfg, make_params, forward, store_dtype, specials, unk, bos, seed):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    stored = {k: v.to(store_dtype) for k, v in make_params(cfg, gen).items()}
    # The oracle computes with exactly the stored (rounded) weights, in float64.
    params = {k: v.to(torch.float64).requires_grad_(True) for k, v in stored.items()}
    vocab = make_vocab(specials)
    ids = encode(vocab, TEXT)
    logits = forward(cfg, params, ids)
    loss = next_token_loss(logits, ids)
    loss.backward()

    # Spot-check autograd against central finite differences of the float64 forward.
    with torch.no_grad():
        for k in list(params)[::5]:
            flat = params[k].view(-1)
            j = int(torch.randint(flat.numel(), (1,), generator=gen))
            old = flat[j].item()
            flat[j] = old + 1e-6
            up = next_token_loss(forward(cfg, params, ids), ids).item()
            flat[j] = old - 1e-6
            down = next_token_loss(forward(cfg, params, ids), ids).item()
            flat[j] = old
            fd, ad = (up - down) / 2e-6, params[k].grad.view(-1)[j].item()
            assert abs(fd - ad) <= 1e-6 * max(1.0, abs(ad)), (k, j, fd, ad)

    write_json(os.path.join(out, "config.json"), cfg)
    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(vocab, unk, specials, bos))
    write_safetensors(os.path.join(out, "model.safetensors"), list(stored.items()),
                      {"format": "pt"})
    f32 = torch.float32
    expected = [("input_ids", ids.to(f32)), ("logits", logits.detach().to(f32)),
                ("loss", loss.detach().reshape(1).to(f32))]
    expected += [("grad." + k, p.grad.to(f32)) for k, p in params.items()]
    write_safetensors(os.path.join(out, "expected.safetensors"), expected,
                      {"format": "pt", "text": TEXT, "loss_f64": repr(loss.item()),
                       "generator": "tests/oracle/make_fixtures.py"})
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{name}: loss {loss.item():.6f}, logits std {logits.std().item():.3f}, "
          f"{len(params)} parameters, {size} bytes")


def self_check():
    """The hand-written pieces agree with torch's own layers where torch has them."""
    gen = torch.Generator().manual_seed(1)
    x, w, b = randn(gen, 5, 16), randn(gen, 16), randn(gen, 16)
    F = torch.nn.functional
    assert torch.allclose(layer_norm(x, w, b, 1e-5), F.layer_norm(x, (16,), w, b, 1e-5))
    assert torch.allclose(gelu_new(x), F.gelu(x, approximate="tanh"))
    assert torch.allclose(gelu_exact(x), F.gelu(x))
    q, k, v = randn(gen, 2, 5, 4), randn(gen, 2, 5, 4), randn(gen, 2, 5, 4)
    mha_mask = torch.ones(5, 5, dtype=torch.bool).triu(1)
    ref = torch.stack([
        torch.softmax((q[h] @ k[h].T / 2.0).masked_fill(mha_mask, float("-inf")), -1) @ v[h]
        for h in range(2)
    ]).transpose(0, 1).reshape(5, 8)
    assert torch.allclose(causal_attention(q, k, v), ref)
    # rotary: pairs (i, i + hd/2) rotate by angle pos * theta^(-2i/hd).
    r = rope(q, 10000.0)
    ang = 3 * 10000.0 ** (-2 * 1 / 4)
    c, s_ = math.cos(ang), math.sin(ang)
    assert abs(r[0, 3, 1] - (q[0, 3, 1] * c - q[0, 3, 3] * s_)) < 1e-12
    assert abs(r[0, 3, 3] - (q[0, 3, 3] * c + q[0, 3, 1] * s_)) < 1e-12
    # Gemma's attention without cap or window is the plain causal one; a window of 2 leaves each
    # query its own key and the one before; a cap bends the scores by tanh.
    assert torch.allclose(gemma_attention(q, k, v, 0.5, None, None), ref)
    band = gemma_attention(q, k, v, 0.5, None, 2)
    w3 = torch.softmax(q[:, 3:4] @ k[:, 2:4].transpose(-1, -2) / 2.0, -1)  # [H, 1, 2]
    assert torch.allclose(band[3], (w3 @ v[:, 2:4]).reshape(8))
    assert abs(softcap(torch.tensor(3.0), 2.0) - 2.0 * math.tanh(1.5)) < 1e-12
    # interleaved rotary: pairs (2i, 2i + 1) rotate by the same angles.
    r = rope_interleaved(q, 10000.0)
    assert abs(r[0, 3, 2] - (q[0, 3, 2] * c - q[0, 3, 3] * s_)) < 1e-12
    assert abs(r[0, 3, 3] - (q[0, 3, 3] * c + q[0, 3, 2] * s_)) < 1e-12


def main():
    self_check()
    make("tiny-gpt2", GPT2_CONFIG, gpt2_params, gpt2_forward, torch.float32,
         ["<|endoftext|>", "[UNK]"], "[UNK]", None, SEED)
    make("tiny-llama", LLAMA_CONFIG, llama_params, llama_forward, torch.bfloat16,
         ["<unk>", "<s>", "</s>"], "<unk>", "<s>", SEED + 1)
    make("tiny-llama3", LLAMA3_CONFIG, llama_params, llama_forward, torch.bfloat16,
         ["<unk>", "<s>", "</s>"], "<unk>", "<s>", SEED + 2)
    make("tiny-qwen3", QWEN3_CONFIG, llama_params, llama_forward, torch.bfloat16,
         ["<unk>", "<|endoftext|>", "<|im_end|>"], "<unk>", None, SEED + 3)
    make("tiny-gpt2-gelu", GPT2_GELU_CONFIG, gpt2_params, gpt2_forward, torch.float16,
         ["<|endoftext|>", "[UNK]"], "[UNK]", None, SEED + 6)
    make("tiny-neox", NEOX_CONFIG, neox_params, neox_forward, torch.float16,
         ["<|endoftext|>", "[UNK]"], "[UNK]", None, SEED + 4)
    make("tiny-neox-seq", NEOX_SEQ_CONFIG, neox_params, neox_forward, torch.float16,
         ["<|endoftext|>", "[UNK]"], "[UNK]", None, SEED + 5)
    make("tiny-gptj", GPTJ_CONFIG, gptj_params, gptj_forward, torch.float16,
         ["<|endoftext|>", "[UNK]"], "[UNK]", None, SEED + 7)
    gemma_specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    make("tiny-gemma", GEMMA_CONFIG, gemma_params, gemma_forward, torch.bfloat16,
         gemma_specials, "<unk>", "<bos>", SEED + 8)
    make("tiny-gemma2", GEMMA2_CONFIG, gemma_params, gemma_forward, torch.float32,
         gemma_specials, "<unk>", "<bos>", SEED + 9)
    make("tiny-gemma3", GEMMA3_CONFIG, gemma_params, gemma_forward, torch.bfloat16,
         gemma_specials, "<unk>", "<bos>", SEED + 10)
    make_rope_tables()


if __name__ == "__main__":
    main()
