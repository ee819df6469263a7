"""MCWSA-CMHA: Multi-channel Weight-sharing Autoencoder based on Cascade Multi-head Attention.

Zheng et al., "Multi-channel Weight-sharing Autoencoder Based on Cascade
Multi-head Attention for Multimodal Emotion Recognition" (IEEE Trans. Multimedia).

Inputs (after LTPP, :mod:`sercore.features.ltpp`), one tensor per modality:

- audio ``M``: ``(B, 3, 64, 128)`` — static/delta/delta-delta log-mel (channels first),
  64 mel bands, 128 LTPP rows (the paper's 64x128x3);
- text ``T``: ``(B, 32, 300)`` — 32 LTPP rows of 300-d word vectors;
- video ``I``: ``(B, 32, 2048)`` — 32 LTPP rows of 2048-d frame features.

Every encoder maps its modality to a latent ``(B, R, d)`` (``R = 32`` rows,
``d = 300`` in the paper); a fusion layer maps the latents to one fused code
``(B, R, d)``; one decoder per modality reconstructs that modality from the
fused code (stage 1, sum of per-modality MSE), and a classifier head reads the
fused code (stage 2, cross-entropy).

Fusion baselines swapped into the same autoencoder (``fusion=``): ``concat``
(channel concatenation + 1x1 conv), ``tfn`` (Zadeh et al.: outer product of the
1-appended low-rank projections, per row), ``mult`` (Tsai et al.: cross-modal
attention towards every target modality, a self-attention layer per target,
concatenation + 1x1 conv). With one modality every fusion is the identity.

LTPP gives every utterance the same size, so there is no padding and no mask.

Readings
--------
Where the paper is silent or ambiguous, the model and its chapter (`sercore/chapters/mcwsa_cmha.py`)
implement:

- **Audio block** (Fig. 2): conv3x3 (stride *s*) → BN → ReLU → dropout → conv3x3 → BN, a 1x1
  projection shortcut, ReLU, then multi-head self-attention. Only the *first* block's first
  convolution has stride 2 ("the stride of the first convolution layer is set to 2"): 64x128 → 32x64.
  Self-attention attends over the time positions with the frequency-averaged channels as tokens and
  is added back to every frequency (full 2-D attention over 2,048 positions is too heavy for the
  paper's stated budget and is not described). The map `(C, 32, 64)` becomes 64 time tokens of
  `C*32` values, a linear layer takes them to *d* and adaptive average pooling over time to
  *R* = 32 rows.
- **Video and text encoders**: video, two 1-D residual blocks over the 32 rows (stride 1, so the rows
  stay 32), each with row-wise self-attention; text, a linear map 300 → *d* when *d* ≠ 300, then 5
  Transformer encoder layers. Attention heads and the convolution and feed-forward widths the paper
  does not give are the preset's (`MCWSAConfig`).
- **Batch norm** "momentum=0.9, epsilon=1e-5", on the paper's PyTorch 1.4.0, where `momentum` is the
  weight of the *new* batch (running = 0.1·running + 0.9·batch): we pass `momentum=0.9` as written.
  Read in the TensorFlow/Keras convention (PyTorch 0.1; `bn_momentum=0.1` gives it), the running
  statistics lag the fast-moving weights on a few hundred utterances and the evaluated model predicts
  one class although training accuracy rises.
- **CMHA** (Sec. III-B): `CI^{Y->X} = MHA(q=X, k=v=Y)`; a pair `(X, Y)` gives
  `CI^{XY} = Conv1x1(concat(CI^{X->Y}, CI^{Y->X}))`; the third modality `Z` then gives
  `CI^{XYZ} = Conv1x1(concat(MHA(Z, CI^{XY}), MHA(CI^{XY}, Z)))`. The fusion orders are M-T-I, M-I-T
  and T-I-M; their three outputs are concatenated and a 1x1 convolution gives the fused `(R, d)`.
  Each attention module has its own `d x d` Q/K/V projections and output projection `W^O`.
- **Decoders** (transposed convolutions) read the shared fused code: Eq. (9) writes
  `D_M ∘ F_L ∘ E_M (M)`. **Classifier**: mean over the *R* rows → dropout → linear → ReLU → linear.
- **Inputs**: each LTPP input is standardised per utterance (no statistics shared between
  utterances); LTPP's levels are read as in `sercore/features/ltpp.py`.
- **Training**: stage 1 keeps the epoch with the lowest validation reconstruction error, stage 2 the
  epoch with the best validation UA; L2 1e-4 is Adam's weight decay. The bimodal Table II cells are
  pre-trained (the paper marks only the trimodal column with "NP").
- **Metrics**: UA is the mean per-class recall (%); the paper prints F1 as a fraction without saying
  which average, and we report macro F1.
- **Offline stand-ins**: word2vec (300-d) becomes all-MiniLM-L6-v2 token states through a fixed,
  seeded orthonormal projection to 300-d unless `word2vec=` names a gensim file
  (`sercore/features/word2vec.py`); the ImageNet ResNet frame features become fixed seeded random
  ReLU features of the face pixels (`randproj`, standing in for ResNet in Table III) or of their
  Sobel gradient magnitudes (`gradproj`, standing in for VGG-Face) unless `video="resnet"` and
  `video_weights=` are given (`sercore/features/video.py`); MNIST (Fig. 6) becomes scikit-learn's
  8 x 8 digits (`load_digits`) fed to three 1-D channels, stage 1 only.
- **Fig. 5** maps the fused code (mean over its 32 rows) of every utterance, from each fusion's
  first-fold model after both stages.
- **Fig. 8**: the paper does not say how it matched the sizes of the original and encoded features;
  every view is reduced to the same number (16) of principal components (standardised first) before
  MINE.
- **Fig. 9**: the paper correlates "features obtained by different fusion methods" with DCCA (same
  network and input sizes for every method) without naming the second view. We correlate each
  fusion's fused features with the model's own LTPP inputs (all modalities concatenated), both
  reduced to 16 principal components, and report the correlation on 30% of the utterances held out
  from DCCA training as well (on a few hundred utterances the training value saturates).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import register

__all__ = ["MCWSAConfig", "MCWSACMHA", "CMHAFusion", "ConcatFusion", "TFNFusion", "MulTFusion",
           "reconstruction_loss", "FUSIONS", "ORDERS", "MODALITY_LETTER"]

#: the paper's modality letters (M = Mel/audio, T = text, I = image/video)
MODALITY_LETTER = {"audio": "M", "text": "T", "video": "I"}
#: the three fusion orders of CMHA for (audio, text, video): pair first, then the third
ORDERS = {"MTI": ("audio", "text", "video"), "MIT": ("audio", "video", "text"),
          "TIM": ("text", "video", "audio")}
FUSIONS = ("cmha", "concat", "tfn", "mult")


@dataclass
class MCWSAConfig:
    modalities: tuple = ("audio", "text", "video")   # channels in use, any non-empty subset (order free)
    audio_shape: tuple = (3, 64, 128)      # (channels, mel bands, LTPP rows) of the audio input
    text_shape: tuple = (32, 300)          # (LTPP rows, word-vector size) of the text input
    video_shape: tuple = (32, 2048)        # (LTPP rows, frame-feature size) of the video input
    extra_shapes: dict = field(default_factory=dict)  # shapes of other channel names (e.g. the digits check)
    encoder_kinds: dict = field(default_factory=lambda: {"audio": "conv2d", "text": "attention",
                                                        "video": "conv1d"})  # encoder per modality
    rows: int = 32                         # R: rows of every latent code (paper 32)
    latent_dim: int = 300                  # d: size of every latent row (paper 300)
    heads: int = 4                         # attention heads everywhere (paper does not say)
    audio_channels: int = 64               # conv channels of the audio blocks (paper does not say)
    audio_blocks: int = 5                  # residual blocks of the audio encoder (paper 5)
    video_hidden: int = 512                # channels of the first video block (paper does not say)
    video_blocks: int = 2                  # residual blocks of the video encoder (paper 2)
    text_layers: int = 5                   # Transformer layers of the text encoder (paper 5)
    text_ff: int = 600                     # feed-forward size of the text layers (paper does not say)
    fusion: str = "cmha"                   # cmha | concat | tfn | mult
    tfn_rank: int = 16                     # TFN: size of each modality's projection before the outer product
    dropout: float = 0.5                   # dropout in every block and the head (paper 0.5)
    bn_momentum: float = 0.9               # paper "momentum=0.9" in its PyTorch 1.4.0 (weight of the new batch)
    bn_eps: float = 1e-5                   # paper 1e-5
    head_hidden: int = 128                 # hidden units of the classifier head
    n_classes: int = 4                     # output classes


# ----------------------------------------------------------------------------- blocks

class TimeSelfAttention2d(nn.Module):
    """Self-attention over the last (time) axis of a map ``(B, C, F, W)``.

    Tokens are the frequency-averaged channels ``(B, W, C)``; the attention output
    is added back to every frequency. Returns ``(B, C, F, W)``.
    """

    def __init__(self, channels: int, heads: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):
        tok = self.norm(x.mean(2).transpose(1, 2))                  # (B, W, C)
        a, _ = self.attn(tok, tok, tok, need_weights=False)         # (B, W, C)
        return x + a.transpose(1, 2)[:, :, None, :]                 # (B, C, F, W)


class ResBlock2d(nn.Module):
    """Fig. 2 base block, 2-D: (conv-BN-ReLU-dropout, conv-BN) + shortcut, ReLU, self-attention."""

    def __init__(self, cin: int, cout: int, stride: int, cfg: MCWSAConfig):
        super().__init__()
        bn = dict(momentum=cfg.bn_momentum, eps=cfg.bn_eps)
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout, **bn), nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout, **bn))
        self.short = (nn.Identity() if cin == cout and stride == 1 else
                      nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, **bn)))
        self.attn = TimeSelfAttention2d(cout, cfg.heads, cfg.dropout)

    def forward(self, x):                                            # (B, Cin, F, W)
        return self.attn(F.relu(self.body(x) + self.short(x)))      # (B, Cout, F/s, W/s)


class ResBlock1d(nn.Module):
    """Fig. 2 base block, 1-D over rows: x (B, R, Cin) -> (B, R, Cout)."""

    def __init__(self, cin: int, cout: int, heads: int, cfg: MCWSAConfig):
        super().__init__()
        bn = dict(momentum=cfg.bn_momentum, eps=cfg.bn_eps)
        self.body = nn.Sequential(
            nn.Conv1d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm1d(cout, **bn), nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Conv1d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm1d(cout, **bn))
        self.short = (nn.Identity() if cin == cout else
                      nn.Sequential(nn.Conv1d(cin, cout, 1, bias=False), nn.BatchNorm1d(cout, **bn)))
        self.attn = nn.MultiheadAttention(cout, heads, dropout=cfg.dropout, batch_first=True)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x):                                            # (B, R, Cin)
        h = x.transpose(1, 2)                                        # (B, Cin, R)
        h = F.relu(self.body(h) + self.short(h)).transpose(1, 2)     # (B, R, Cout)
        t = self.norm(h)
        return h + self.attn(t, t, t, need_weights=False)[0]         # (B, R, Cout)


def _heads_for(dim: int, heads: int) -> int:
    """Largest head count <= heads that divides dim."""
    return max(h for h in range(1, heads + 1) if dim % h == 0)


# ----------------------------------------------------------------------------- encoders / decoders

class AudioEncoder(nn.Module):
    """(B, 3, F, N) -> (B, R, d): residual blocks (first stride 2), time tokens, linear, pool to R."""

    def __init__(self, shape, cfg: MCWSAConfig):
        super().__init__()
        c_in, f, n = shape
        if f % 2 or n % 2:
            raise ValueError(f"audio input needs even mel bands and rows, got {tuple(shape)}")
        C = cfg.audio_channels
        self.blocks = nn.Sequential(*[ResBlock2d(c_in if i == 0 else C, C, 2 if i == 0 else 1, cfg)
                                      for i in range(cfg.audio_blocks)])
        self.proj = nn.Linear(C * (f // 2), cfg.latent_dim)
        self.rows = cfg.rows

    def forward(self, x):                                            # (B, 3, F, N)
        h = self.blocks(x)                                           # (B, C, F/2, N/2)
        B, C, Fh, W = h.shape
        h = self.proj(h.permute(0, 3, 1, 2).reshape(B, W, C * Fh))   # (B, N/2, d)
        if W != self.rows:
            h = F.adaptive_avg_pool1d(h.transpose(1, 2), self.rows).transpose(1, 2)
        return h                                                     # (B, R, d)


class AudioDecoder(nn.Module):
    """(B, R, d) -> (B, 3, F, N) with transposed convolutions (stride 2, then x2 in time)."""

    def __init__(self, shape, cfg: MCWSAConfig):
        super().__init__()
        c_out, f, n = shape
        C, R = cfg.audio_channels, cfg.rows
        ratio = n / (2 * R)
        if ratio < 1 or ratio != 2 ** round(math.log2(ratio)):
            raise ValueError(f"audio decoder needs N = R * 2**k (k >= 1), got N={n}, R={R}")
        self.C, self.f = C, f
        self.lin = nn.Linear(cfg.latent_dim, C * (f // 2))
        bn = dict(momentum=cfg.bn_momentum, eps=cfg.bn_eps)
        ups = [nn.ConvTranspose2d(C, C, 4, 2, 1), nn.BatchNorm2d(C, **bn), nn.ReLU()]
        for _ in range(round(math.log2(ratio))):
            ups += [nn.ConvTranspose2d(C, C, (3, 4), (1, 2), (1, 1)), nn.BatchNorm2d(C, **bn), nn.ReLU()]
        self.up = nn.Sequential(*ups, nn.Conv2d(C, c_out, 3, 1, 1))

    def forward(self, z):                                            # (B, R, d)
        B, R, _ = z.shape
        h = self.lin(z).reshape(B, R, self.C, self.f // 2).permute(0, 2, 3, 1)  # (B, C, F/2, R)
        return self.up(h)                                            # (B, 3, F, N)


class Conv1dEncoder(nn.Module):
    """(B, R, D) -> (B, R, d): ``video_blocks`` residual 1-D blocks D -> hidden -> ... -> d."""

    def __init__(self, shape, cfg: MCWSAConfig):
        super().__init__()
        _, D = shape
        n = cfg.video_blocks
        dims = [D] + [cfg.video_hidden] * (n - 1) + [cfg.latent_dim]
        self.blocks = nn.Sequential(*[ResBlock1d(dims[i], dims[i + 1], _heads_for(dims[i + 1], cfg.heads), cfg)
                                      for i in range(n)])

    def forward(self, x):
        return self.blocks(x)                                        # (B, R, d)


class AttentionEncoder(nn.Module):
    """(B, R, D) -> (B, R, d): linear D -> d (when they differ), then Transformer layers."""

    def __init__(self, shape, cfg: MCWSAConfig):
        super().__init__()
        _, D = shape
        d = cfg.latent_dim
        self.inp = nn.Identity() if D == d else nn.Linear(D, d)
        layer = nn.TransformerEncoderLayer(d, _heads_for(d, cfg.heads), cfg.text_ff, cfg.dropout,
                                           batch_first=True)
        self.layers = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)

    def forward(self, x):
        return self.layers(self.inp(x))                              # (B, R, d)


class Conv1dDecoder(nn.Module):
    """(B, R, d) -> (B, R, D) with two 1-D transposed convolutions."""

    def __init__(self, shape, cfg: MCWSAConfig, hidden: int):
        super().__init__()
        _, D = shape
        self.net = nn.Sequential(nn.ConvTranspose1d(cfg.latent_dim, hidden, 3, 1, 1), nn.ReLU(),
                                 nn.ConvTranspose1d(hidden, D, 1))

    def forward(self, z):
        return self.net(z.transpose(1, 2)).transpose(1, 2)           # (B, R, D)


# ----------------------------------------------------------------------------- fusion

class Conv1x1(nn.Module):
    """Channel concatenation + 1x1 convolution: list of (B, R, d) -> (B, R, d)."""

    def __init__(self, n_in: int, d: int):
        super().__init__()
        self.conv = nn.Conv1d(n_in * d, d, 1)

    def forward(self, xs):
        return self.conv(torch.cat(xs, -1).transpose(1, 2)).transpose(1, 2)


class CrossAttention(nn.Module):
    """CI^{Y->X} = MultiHead(Q = X, K = V = Y): d x d projections W^Q, W^K, W^V and W^O."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.mha = nn.MultiheadAttention(d, _heads_for(d, heads), dropout=dropout, batch_first=True)

    def forward(self, x, y):                                         # (B, R, d) each
        return self.mha(x, y, y, need_weights=False)[0]              # (B, R, d)


class PairFusion(nn.Module):
    """CI^{XY} = Conv1x1(concat(CI^{X->Y}, CI^{Y->X})), Eq. (5)/(7)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.x_from_y = CrossAttention(d, heads, dropout)            # query X
        self.y_from_x = CrossAttention(d, heads, dropout)            # query Y
        self.mix = Conv1x1(2, d)

    def forward(self, x, y):
        return self.mix([self.y_from_x(y, x), self.x_from_y(x, y)])  # (B, R, d)


class CMHAFusion(nn.Module):
    """Cascade multi-head attention over 1, 2 or 3 latents (B, R, d), keyed by modality name.

    Three modalities: the orders M-T-I, M-I-T, T-I-M (:data:`ORDERS`), each a
    pair fusion then a fusion with the third; their outputs concatenated and
    mixed by a 1x1 conv. Two: one pair fusion. One: the identity.
    ``forward(z: dict) -> (B, R, d)``; ``branches(z)`` gives each order's output.
    """

    def __init__(self, modalities, d: int, heads: int, dropout: float):
        super().__init__()
        self.modalities = tuple(modalities)
        n = len(self.modalities)
        if n == 3:
            if set(self.modalities) == set(ORDERS["MTI"]):
                self.orders = dict(ORDERS)
            else:   # other names (e.g. the digits check): the same three orders by position
                a, b, c = self.modalities
                self.orders = {"012": (a, b, c), "021": (a, c, b), "120": (b, c, a)}
            self.first = nn.ModuleDict({k: PairFusion(d, heads, dropout) for k in self.orders})
            self.second = nn.ModuleDict({k: PairFusion(d, heads, dropout) for k in self.orders})
            self.mix = Conv1x1(3, d)
        elif n == 2:
            self.orders = {}
            self.pair = PairFusion(d, heads, dropout)
        elif n != 1:
            raise ValueError(f"CMHA fuses 1 to 3 modalities, got {self.modalities}")

    def branches(self, z: dict) -> dict:
        out = {}
        for name, (a, b, c) in self.orders.items():
            ab = self.first[name](z[a], z[b])                        # CI^{ab}
            out[name] = self.second[name](ab, z[c])                  # CI^{abc}
        return out

    def forward(self, z: dict):
        n = len(self.modalities)
        if n == 1:
            return z[self.modalities[0]]
        if n == 2:
            return self.pair(*[z[m] for m in self.modalities])
        return self.mix(list(self.branches(z).values()))            # (B, R, d)


class ConcatFusion(nn.Module):
    """Concat baseline [8]: channel concatenation + 1x1 conv."""

    def __init__(self, modalities, d: int, **_):
        super().__init__()
        self.modalities = tuple(modalities)
        self.mix = Conv1x1(len(self.modalities), d) if len(self.modalities) > 1 else None

    def forward(self, z: dict):
        xs = [z[m] for m in self.modalities]
        return xs[0] if self.mix is None else self.mix(xs)


class TFNFusion(nn.Module):
    """TFN baseline [10] per row: project each latent row to ``rank``, append 1, outer product, linear to d."""

    def __init__(self, modalities, d: int, rank: int = 16, dropout: float = 0.0, **_):
        super().__init__()
        self.modalities = tuple(modalities)
        self.proj = nn.ModuleDict({m: nn.Linear(d, rank) for m in self.modalities})
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear((rank + 1) ** len(self.modalities), d))

    def forward(self, z: dict):
        t = None
        for m in self.modalities:
            h = self.proj[m](z[m])                                   # (B, R, r)
            h = torch.cat([h, h.new_ones(*h.shape[:-1], 1)], -1)     # (B, R, r+1)
            t = h if t is None else (t[..., :, None] * h[..., None, :]).flatten(-2)
        return self.out(t)                                           # (B, R, d)


class MulTFusion(nn.Module):
    """MulT baseline [15]: for each target, cross-modal attention from every other modality,
    a self-attention Transformer layer over their concatenation, then all targets concatenated + 1x1 conv."""

    def __init__(self, modalities, d: int, heads: int = 4, dropout: float = 0.0, **_):
        super().__init__()
        self.modalities = tuple(modalities)
        n = len(self.modalities)
        if n > 1:
            self.cross = nn.ModuleDict({f"{s}>{t}": CrossAttention(d, heads, dropout)
                                        for t in self.modalities for s in self.modalities if s != t})
            self.norm = nn.LayerNorm(d)
            self.reduce = nn.ModuleDict({t: Conv1x1(n - 1, d) for t in self.modalities})
            self.self_attn = nn.ModuleDict({t: nn.TransformerEncoderLayer(
                d, _heads_for(d, heads), 2 * d, dropout, batch_first=True) for t in self.modalities})
            self.mix = Conv1x1(n, d)

    def forward(self, z: dict):
        if len(self.modalities) == 1:
            return z[self.modalities[0]]
        outs = []
        for t in self.modalities:
            q = self.norm(z[t])
            hs = [z[t] + self.cross[f"{s}>{t}"](q, self.norm(z[s])) for s in self.modalities if s != t]
            outs.append(self.self_attn[t](self.reduce[t](hs)))       # (B, R, d)
        return self.mix(outs)


# ----------------------------------------------------------------------------- the model

class MCWSACMHA(nn.Module):
    """Multi-channel autoencoder + fusion + classifier.

    forward(*xs) -> logits (B, n_classes); ``xs`` follow ``cfg.modalities``.
    encode(*xs) -> {modality: (B, R, d)}; fuse(*xs) -> (B, R, d);
    reconstruct(*xs) -> {modality: tensor shaped like its input};
    embedding(*xs) -> (B, d) (the fused code averaged over rows, fed to the head).
    """

    def __init__(self, cfg: MCWSAConfig):
        super().__init__()
        self.cfg = cfg
        mods = tuple(cfg.modalities)
        if not mods or len(set(mods)) != len(mods):
            raise ValueError(f"modalities must be a non-empty list of distinct names, got {mods}")
        if cfg.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {cfg.fusion!r}")
        self.modalities = mods
        self.shapes = {m: tuple(self._shape(m)) for m in mods}
        enc, dec = {}, {}
        for m in mods:
            kind = cfg.encoder_kinds.get(m, "conv1d")
            shape = self.shapes[m]
            if kind == "conv2d":
                enc[m], dec[m] = AudioEncoder(shape, cfg), AudioDecoder(shape, cfg)
            elif kind in ("conv1d", "attention"):
                if shape[0] != cfg.rows:
                    raise ValueError(f"{m}: input rows must equal rows={cfg.rows}, got shape {shape}")
                enc[m] = (Conv1dEncoder if kind == "conv1d" else AttentionEncoder)(shape, cfg)
                dec[m] = Conv1dDecoder(shape, cfg, cfg.video_hidden if kind == "conv1d" else cfg.latent_dim)
            else:
                raise ValueError(f"{m}: encoder kind must be conv2d, conv1d or attention, got {kind!r}")
        self.encoders, self.decoders = nn.ModuleDict(enc), nn.ModuleDict(dec)
        d = cfg.latent_dim
        if cfg.fusion == "cmha":
            self.fusion = CMHAFusion(mods, d, cfg.heads, cfg.dropout)
        elif cfg.fusion == "concat":
            self.fusion = ConcatFusion(mods, d)
        elif cfg.fusion == "tfn":
            self.fusion = TFNFusion(mods, d, rank=cfg.tfn_rank, dropout=cfg.dropout)
        else:
            self.fusion = MulTFusion(mods, d, heads=cfg.heads, dropout=cfg.dropout)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(d, cfg.head_hidden), nn.ReLU(),
                                  nn.Dropout(cfg.dropout), nn.Linear(cfg.head_hidden, cfg.n_classes))

    def _shape(self, m):
        shape = getattr(self.cfg, f"{m}_shape", None) or self.cfg.extra_shapes.get(m)
        if shape is None:
            raise ValueError(f"no input shape for modality {m!r}: set {m}_shape")
        return shape

    def _inputs(self, xs) -> dict:
        if len(xs) != len(self.modalities):
            raise ValueError(f"expected {len(self.modalities)} inputs {self.modalities}, got {len(xs)}")
        out = {}
        for m, x in zip(self.modalities, xs):
            if tuple(x.shape[1:]) != self.shapes[m]:
                raise ValueError(f"{m}: expected (B, {', '.join(map(str, self.shapes[m]))}), got {tuple(x.shape)}")
            out[m] = x.float()
        return out

    def encode(self, *xs) -> dict:
        return {m: self.encoders[m](x) for m, x in self._inputs(xs).items()}   # each (B, R, d)

    def fuse(self, *xs):
        return self.fusion(self.encode(*xs))                         # (B, R, d)

    def embedding(self, *xs):
        return self.fuse(*xs).mean(1)                                # (B, d)

    def reconstruct(self, *xs) -> dict:
        z = self.fuse(*xs)
        return {m: self.decoders[m](z) for m in self.modalities}

    def forward(self, *xs):
        return self.head(self.embedding(*xs))                        # (B, K)


def reconstruction_loss(model: MCWSACMHA, *xs) -> torch.Tensor:
    """Stage-1 loss, Eq. (8)-(9): sum over modalities of the mean squared reconstruction error."""
    inputs = model._inputs(xs)
    rec = model.reconstruct(*xs)
    return sum(F.mse_loss(rec[m], inputs[m]) for m in model.modalities)


# ----------------------------------------------------------------------------- presets

register("mcwsa_cmha", MCWSACMHA, MCWSAConfig())
for _f in FUSIONS[1:]:
    register(f"mcwsa_{_f}", MCWSACMHA, MCWSAConfig(fusion=_f))
register("mcwsa_cmha_small", MCWSACMHA, MCWSAConfig(latent_dim=32, heads=4, audio_channels=8, video_hidden=32,
                                                    text_layers=2, text_ff=64, audio_blocks=5, head_hidden=32,
                                                    tfn_rank=4, dropout=0.2))
