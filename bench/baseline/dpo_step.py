#!/usr/bin/python3
"""The baseline of `dpo bench step`: seed 002's DPO sketch the way a Python user writes it.

A plain eager PyTorch Llama from the Hugging Face equations (RMSNorm, rotary rotate_half, grouped-query
attention with repeat_kv, SiLU MLP, tied head), separate chosen and rejected forwards, the reference
under no_grad every step, log_softmax + gather over the full vocabulary, torch.optim.AdamW.

Run with Debian's python3-torch (the same libtorch as the C++ core). `--inputs FILE` reads the weights
and the batch that `dpo bench step --save-inputs FILE` wrote (a safetensors file), so both programs
score the same tokens with the same model; without it the weights are random.
Prints one JSON object with `--json`.
"""
import argparse
import json
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

CONFIGS = {  # vocab, dim, layers, heads, kv_heads, ffn (as `dpo bench step --config`)
    "2M": (4096, 128, 4, 4, 2, 384),
    "7M": (8192, 256, 6, 8, 4, 768),
    "7M-32k": (32000, 256, 6, 8, 4, 768),
    "30M": (16384, 512, 8, 8, 4, 1536),
    "qwen-vocab": (151936, 256, 4, 8, 2, 768),
}


def read_safetensors(path):
    dtypes = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise SystemExit(f"{path}: header of {n} bytes is too large")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def rms_norm(x, weight, eps):
    x32 = x.float()
    return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def repeat_kv(x, n_rep):
    if n_rep == 1:
        return x
    b, h, t, d = x.shape
    return x[:, :, None].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


class Llama(torch.nn.Module):
    def __init__(self, vocab, dim, layers, heads, kv_heads, ffn, eps=1e-6, theta=10000.0):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim, self.eps = heads, kv_heads, dim // heads, eps
        self.embed = torch.nn.Embedding(vocab, dim)
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            layer = torch.nn.Module()
            layer.q, layer.k, layer.v = lin(dim, dim), lin(dim, kv_heads * self.head_dim), lin(dim, kv_heads * self.head_dim)
            layer.o, layer.gate, layer.up, layer.down = lin(dim, dim), lin(dim, ffn), lin(dim, ffn), lin(ffn, dim)
            layer.norm1 = torch.nn.Parameter(torch.ones(dim))
            layer.norm2 = torch.nn.Parameter(torch.ones(dim))
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(dim))
        self.register_buffer("inv_freq", 1.0 / theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def load_hf(self, tensors):
        names = {"model.embed_tokens.weight": self.embed.weight, "model.norm.weight": self.norm}
        for i, l in enumerate(self.layers):
            p = f"model.layers.{i}."
            names.update({p + "self_attn.q_proj.weight": l.q.weight, p + "self_attn.k_proj.weight": l.k.weight,
                          p + "self_attn.v_proj.weight": l.v.weight, p + "self_attn.o_proj.weight": l.o.weight,
                          p + "mlp.gate_proj.weight": l.gate.weight, p + "mlp.up_proj.weight": l.up.weight,
                          p + "mlp.down_proj.weight": l.down.weight, p + "input_layernorm.weight": l.norm1,
                          p + "post_attention_layernorm.weight": l.norm2})
        with torch.no_grad():
            for name, param in names.items():
                param.copy_(tensors[name])

    def forward(self, ids, attention_mask):
        b, t = ids.shape
        x = self.embed(ids)
        pos = (attention_mask.cumsum(-1) - 1).clamp_min(0)
        freqs = pos[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), -1)[:, None]
        cos, sin = emb.cos(), emb.sin()
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
        mask = torch.zeros(b, 1, t, t).masked_fill(~allowed, torch.finfo(torch.float32).min)
        for l in self.layers:
            h = rms_norm(x, l.norm1, self.eps)
            q = l.q(h).view(b, t, self.heads, self.head_dim).transpose(1, 2)
            k = l.k(h).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
            v = l.v(h).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            k, v = repeat_kv(k, self.heads // self.kv_heads), repeat_kv(v, self.heads // self.kv_heads)
            scores = q @ k.transpose(-2, -1) / self.head_dim ** 0.5 + mask
            attn = torch.softmax(scores.float(), -1).to(q.dtype) @ v
            x = x + l.o(attn.transpose(1, 2).reshape(b, t, -1))
            h = rms_norm(x, l.norm2, self.eps)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        return rms_norm(x, self.norm, self.eps) @ self.embed.weight.t()


# seed 002 §7, as written there
def response_logprob(logits, labels, response_mask):
    logp = F.log_softmax(logits, dim=-1)
    token_logp = logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (token_logp * response_mask).sum(dim=-1)


def dpo_loss(pi_lp_w, pi_lp_l, ref_lp_w, ref_lp_l, beta=0.1):
    logits = beta * ((pi_lp_w - ref_lp_w) - (pi_lp_l - ref_lp_l))
    return -F.logsigmoid(logits).mean()


def peak_reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS))
    for name in ("vocab", "dim", "layers", "heads", "kv-heads", "ffn"):
        ap.add_argument("--" + name, type=int)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="torch.autocast(bfloat16) around the forwards (CUDA)")
    ap.add_argument("--inputs", help="safetensors file from `dpo bench step --save-inputs`")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    shape = list(CONFIGS[a.config]) if a.config else [4096, 128, 4, 4, 2, 384]
    for i, name in enumerate(("vocab", "dim", "layers", "heads", "kv_heads", "ffn")):
        if getattr(a, name) is not None:
            shape[i] = getattr(a, name)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    policy = Llama(*shape)
    tensors = read_safetensors(a.inputs) if a.inputs else None
    b, t, prompt = a.batch, a.seq, a.seq // 4
    if tensors:
        policy.load_hf(tensors)
        ids = tensors["bench.input_ids"]
        if tuple(ids.shape) != (2 * b, t):
            raise SystemExit(f"{a.inputs}: bench.input_ids is {tuple(ids.shape)}, expected {(2 * b, t)}")
    else:
        ids = torch.randint(3, shape[0], (2 * b, t))
    policy.to(device)
    reference = Llama(*shape).to(device)
    reference.load_state_dict(policy.state_dict())
    reference.requires_grad_(False)
    ids = ids.to(device)
    ids_w, ids_l = ids[:b], ids[b:]
    attention = torch.ones(b, t, dtype=torch.long, device=device)
    mask = torch.zeros(b, t - 1, device=device)
    mask[:, prompt - 1:] = 1.0  # labels ids[:, 1:]; response tokens are positions >= prompt
    optimizer = torch.optim.AdamW(policy.parameters(), lr=a.lr, weight_decay=0.0)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if a.bf16 else None
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)

    def step():
        ctx = autocast() if autocast else torch.enable_grad()
        with ctx:
            pi_w = response_logprob(policy(ids_w, attention)[:, :-1], ids_w[:, 1:], mask)
            pi_l = response_logprob(policy(ids_l, attention)[:, :-1], ids_l[:, 1:], mask)
            with torch.no_grad():
                ref_w = response_logprob(reference(ids_w, attention)[:, :-1], ids_w[:, 1:], mask)
                ref_l = response_logprob(reference(ids_l, attention)[:, :-1], ids_l[:, 1:], mask)
            loss = dpo_loss(pi_w, pi_l, ref_w, ref_l, a.beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        return loss.item(), pi_w.mean().item(), norm.item()

    first = None
    times = []
    rss_before = 0
    for i in range(a.warmup + a.iters):
        if i == a.warmup:
            rss_before = status_kb("VmRSS")
            peak_reset()
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
        sync()
        start = time.perf_counter()
        result = step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - start)
        if first is None:
            first = result
    out = {
        "program": "bench/baseline/dpo_step.py", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "vocab": shape[0], "dim": shape[1], "layers": shape[2], "heads": shape[3], "kv_heads": shape[4],
        "ffn": shape[5], "seq": t, "batch": b, "reference": "every-step", "device": a.device,
        "step_seconds": statistics.median(times), "step_seconds_all": times,
        "tokens_per_second": 2 * b * t / statistics.median(times),
        "peak_rss_mb": status_kb("VmHWM") / 1024, "rss_before_mb": rss_before / 1024,
        "first_loss": first[0], "first_logps_chosen": first[1], "first_grad_norm": first[2],
    }
    if device.type == "cuda":
        out["peak_device_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    sys.exit(main())
