"""Masks from lengths, and pooling that never averages over padding."""
from __future__ import annotations

import torch


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Boolean mask ``(B, T)``: True on real frames, False on padding.

    lengths: (B,) integer lengths; max_len: T (default ``lengths.max()``).
    """
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {tuple(lengths.shape)}")
    t = int(lengths.max()) if max_len is None else max_len
    return torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Mean of ``x`` (B, T, ...) over ``dim`` counting only frames where ``mask`` (B, T) is True."""
    if mask is None:
        return x.mean(dim)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must be (B, T) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    m = mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.dim() - 2)))
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0)
