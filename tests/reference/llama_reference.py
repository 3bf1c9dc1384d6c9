#!/usr/bin/env python3
"""Independent Llama / Mistral / Qwen2 forward pass for golden tests.

Written straight from the equations of Hugging Face's modeling_llama.py (RMSNorm, rotate_half
rotary embeddings with linear / llama3 scaling, grouped-query attention with repeat_kv, SwiGLU MLP,
tied or untied lm_head), in float64 with plain torch and a hand-written safetensors reader; it
shares no code with the C++ implementation.

usage: llama_reference.py MODEL_DIR '[1, 5, 9]'             -> {"logits": [[...], ...]} (T x V)
       llama_reference.py MODEL_DIR '[1, 5, 9]' --greedy N  -> {"tokens": [...]} (N greedy tokens,
                                                              full recomputation each step)
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = t.to(torch.float64)
    return tensors


def inverse_frequencies(cfg, head_dim):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled)
    return inv


def rms_norm(x, weight, eps):
    return weight * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(cfg, w, ids):
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = cfg.get("head_dim", hidden // heads)
    eps = cfg.get("rms_norm_eps", 1e-6)
    T = len(ids)
    h = w["model.embed_tokens.weight"][torch.tensor(ids)]
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inverse_frequencies(cfg, head_dim))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), diagonal=1)

    def linear(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = linear(x, p + "self_attn.q_proj").view(T, heads, head_dim).transpose(0, 1)
        k = linear(x, p + "self_attn.k_proj").view(T, kv_heads, head_dim).transpose(0, 1)
        v = linear(x, p + "self_attn.v_proj").view(T, kv_heads, head_dim).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv_heads, dim=0)
        v = v.repeat_interleave(heads // kv_heads, dim=0)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(head_dim) + causal, dim=-1) @ v
        h = h + linear(attn.transpose(0, 1).reshape(T, heads * head_dim), p + "self_attn.o_proj")
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(x, p + "mlp.gate_proj")
        h = h + linear(torch.nn.functional.silu(gate) * linear(x, p + "mlp.up_proj"), p + "mlp.down_proj")
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return h @ head.T


def main():
    folder, ids = sys.argv[1], json.loads(sys.argv[2])
    with open(f"{folder}/config.json") as f:
        cfg = json.load(f)
    weights = read_safetensors(f"{folder}/model.safetensors")
    if len(sys.argv) > 4 and sys.argv[3] == "--greedy":
        tokens = []
        for _ in range(int(sys.argv[4])):
            tokens.append(int(forward(cfg, weights, ids + tokens)[-1].argmax()))
        print(json.dumps({"tokens": tokens}))
        return
    logits = forward(cfg, weights, ids)
    print(json.dumps({"logits": logits.tolist()}))


if __name__ == "__main__":
    main()
