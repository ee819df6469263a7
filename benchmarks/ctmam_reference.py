"""A direct, unoptimised CTMAM: the reference point the benchmark times ours against.

Same layer arrangement and the same parameters as :class:`sercore.models.ctmam.CTMAM`
(it is built from a copy of our model, so the parameter count and weights are
identical by construction and the outputs agree; checked by :func:`check`). What
differs is how attention is computed: where ours calls
``F.scaled_dot_product_attention`` on all heads at once, the reference loops over
the heads in Python and writes the attention out as ``softmax(Q K^T / sqrt(d) + bias) V``
with an explicit max-subtracted exponential and normalisation, the way a paper's
equations read. Everything else (convolutions, BiLSTM time gate, shuffle and
coordinate attention, SE-IBFFN) is the same code.

It lives in ``benchmarks/`` on purpose: it is a yardstick, not part of the package.
"""
from __future__ import annotations

import copy
import math
import types

import torch

from sercore.models import create
from sercore.models import ctmam as C


def _softmax_explicit(s: torch.Tensor) -> torch.Tensor:
    e = torch.exp(s - s.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def naive_calmam_forward(self, t, h, w, bias):
    """CA-LMAM, one head at a time: tokens (B, N, C) -> (B, N, C)."""
    b, n, c = t.shape
    dh = c // self.heads
    g = C._grid(t, h, w)                                           # (B, C, H, W)
    q = C._tokens(self.ca(g)) if self.ca is not None else t        # (B, N, C)
    kv = C._tokens(self.sr(g))                                     # (B, N', C)
    k, v = self.k(kv), self.v(kv)                                  # (B, N', C)
    heads = []
    for i in range(self.heads):
        sl = slice(i * dh, (i + 1) * dh)
        scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(dh)   # (B, N, N')
        if bias is not None:
            scores = scores + bias[i].to(scores.dtype)
        heads.append(_softmax_explicit(scores) @ v[..., sl])                # (B, N, C/h)
    return self.proj(torch.cat(heads, dim=-1))


def naive_transformer_forward(self, t):
    """Pre-norm ViT layer with per-head explicit attention: (B, N, D) -> (B, N, D)."""
    b, n, d = t.shape
    dh = d // self.heads
    q, k, v = self.qkv(self.norm1(t)).split(d, dim=-1)             # (B, N, D) each
    heads = []
    for i in range(self.heads):
        sl = slice(i * dh, (i + 1) * dh)
        scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(dh)
        heads.append(_softmax_explicit(scores) @ v[..., sl])
    t = t + self.proj(torch.cat(heads, dim=-1))
    return t + self.mlp(self.norm2(t))


def reference_from(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` (a CTMAM) whose attention blocks compute attention naively."""
    ref = copy.deepcopy(model)
    n = 0
    for mod in ref.modules():
        if isinstance(mod, C.CALMAM):
            mod.forward = types.MethodType(naive_calmam_forward, mod)
            n += 1
        elif isinstance(mod, C.TransformerLayer):
            mod.forward = types.MethodType(naive_transformer_forward, mod)
            n += 1
    if n == 0:
        raise ValueError("no attention block (CALMAM / TransformerLayer) found: is this a CTMAM with LCT blocks?")
    ref.naive_blocks = n
    return ref


def build(name: str = "ctmam", **overrides) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(ours, reference)`` with the same weights."""
    torch.manual_seed(0)
    ours = create(name, **overrides)
    return ours, reference_from(ours)


def check(ours, ref, x: torch.Tensor, atol: float = 1e-4) -> float:
    """Max |ours - ref| over the logits of ``x`` in eval mode; raises if above ``atol``."""
    ours.eval(), ref.eval()
    with torch.no_grad():
        diff = float((ours(x) - ref(x)).abs().max())
    if diff > atol:
        raise AssertionError(f"reference CTMAM disagrees with ours by {diff:.2e} (> {atol})")
    return diff
