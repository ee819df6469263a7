"""Baselines shared by the chapters: small, well-understood reference models.

- ``bilstm_pool``: BiLSTM over frame features with masked mean pooling and a
  linear classifier; the stub chapters' pipeline check and a floor that every
  paper model should beat.
- ``mlp_stats``: mean and std of the frames (masked), then a two-layer MLP;
  the neural twin of the MFCC-statistics + logistic-regression baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..nn import MaskedBiLSTM, lengths_to_mask, masked_mean
from . import register


@dataclass
class BiLSTMPoolConfig:
    input_dim: int = 40        # feature size D of each frame
    hidden: int = 64           # LSTM hidden size per direction
    layers: int = 1            # stacked LSTM layers
    dropout: float = 0.1       # dropout before the classifier
    n_classes: int = 4         # output classes
    cmvn: bool = True          # per-utterance mean/variance normalisation of each feature (masked)


def masked_cmvn(x: torch.Tensor, mask: torch.Tensor | None, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each feature of each utterance to zero mean, unit variance over its real frames.

    x: (B, T, D); mask: (B, T) or None → (B, T, D), zero on padding.
    """
    mean = masked_mean(x, mask)[:, None]                             # (B, 1, D)
    var = masked_mean((x - mean) ** 2, mask)[:, None]                # (B, 1, D)
    out = (x - mean) / (var + eps).sqrt()
    return out if mask is None else out * mask[..., None].to(x.dtype)


class BiLSTMPool(nn.Module):
    """(CMVN →) BiLSTM → masked mean over time → linear.

    forward(x, lengths): x (B, T, D) float, lengths (B,) or None → logits (B, n_classes).
    """

    def __init__(self, cfg: BiLSTMPoolConfig):
        super().__init__()
        self.cfg = cfg
        self.lstm = MaskedBiLSTM(cfg.input_dim, cfg.hidden, cfg.layers)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden, cfg.n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.cfg.input_dim:
            raise ValueError(f"x must be (B, T, {self.cfg.input_dim}), got {tuple(x.shape)}")
        mask = lengths_to_mask(lengths.to(x.device), x.shape[1]) if lengths is not None else None
        if self.cfg.cmvn:
            x = masked_cmvn(x, mask)
        h = self.lstm(x, lengths)                                    # (B, T, 2H)
        pooled = masked_mean(h, mask)                                # (B, 2H)
        return self.head(self.drop(pooled))                          # (B, K)


@dataclass
class MLPStatsConfig:
    input_dim: int = 40        # feature size D of each frame
    hidden: int = 128          # hidden units
    dropout: float = 0.2       # dropout after the hidden layer
    n_classes: int = 4         # output classes


class MLPStats(nn.Module):
    """Masked mean and std over time → batch-normalised (a learned global standardisation) → MLP.

    forward(x, lengths): x (B, T, D), lengths (B,) or None → logits (B, n_classes).
    """

    def __init__(self, cfg: MLPStatsConfig):
        super().__init__()
        self.cfg = cfg
        self.norm = nn.BatchNorm1d(2 * cfg.input_dim)
        self.net = nn.Sequential(nn.Linear(2 * cfg.input_dim, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.hidden, cfg.n_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.cfg.input_dim:
            raise ValueError(f"x must be (B, T, {self.cfg.input_dim}), got {tuple(x.shape)}")
        mask = lengths_to_mask(lengths.to(x.device), x.shape[1]) if lengths is not None else None
        mean = masked_mean(x, mask)                                  # (B, D)
        var = masked_mean((x - mean[:, None]) ** 2, mask)            # (B, D)
        stats = torch.cat([mean, var.clamp_min(1e-8).sqrt()], -1)      # (B, 2D)
        if self.training and stats.shape[0] == 1:
            # a batch of one has no batch statistics: use the running ones
            stats = nn.functional.batch_norm(stats, self.norm.running_mean, self.norm.running_var,
                                             self.norm.weight, self.norm.bias, training=False)
        else:
            stats = self.norm(stats)
        return self.net(stats)


register("bilstm_pool", BiLSTMPool, BiLSTMPoolConfig())
register("mlp_stats", MLPStats, MLPStatsConfig())
