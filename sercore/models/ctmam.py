"""CTMAM: CNN-Transformer with a multidimensional attention mechanism.

Paper: X. Tang, Y. Lin, T. Dang, Y. Zhang, J. Cheng, "Speech Emotion Recognition via
CNN-Transformer and Multidimensional Attention Mechanism" (the paper's text is
``shared/papers/ctmam.txt``). The architecture follows the paper and the sizes of the
authors' public release (SCNU-RISLAB), which this module re-implements (no code copied).

Input: MFCC segments, 26 coefficients x 57 frames (1.8 s at 16 kHz, n_fft 2048, hop 512),
as ``(B, 26, T)`` or ``(B, 1, 26, T)``. ``T`` may be any frame count that the two 2x2
max-poolings reduce to the same grid as ``n_frames`` (56..59 for 57), because the learned
relative-position table of the attention has one entry per (query, key) pair of that grid.

Shapes through the network (B = batch, defaults of the presets)::

    x                              (B, 1, 26, 57)
    CNN block                      (B, 128, 6, 14)       3x1 | 1x3 convs, 4 conv3x3, 2 max-pools
    T-Sa: time gate (BiLSTM)       (B, 128, 6, 14)       channel mean -> (B, 14, 6) -> BiLSTM -> sigmoid
    T-Sa: shuffle attention        (B, 128, 6, 14)       64 groups, channel + spatial branch, shuffle
    LCT blocks (depth d)           (B, 84, 128)          tokens = 6 x 14 grid cells
      LLC                          x = PW(DW7x7(x) + x)
      CA-LMAM                      x = x + Attn(Q = CA(LN x), K, V = Linear(DW2x2(LN x)))   84 x 21 scores
      SE-IBFFN                     x = x + (SE(PW(DW7x7(PW x4))) + LN x)
    head                           (B, n_classes)        1x1 conv to 1280, BN, swish, mean pool, dropout, linear

Presets (parameter counts are pinned by the tests):

- ``ctmam``        IEMOCAP release: LCT depth 3, 2 heads, 4 classes -> 1,031,674 (paper Table VI);
- ``ctmam_emodb``  Emo-DB release:  LCT depth 1, 1 head, 7 classes  -> 544,361;
- ablations of Table V: ``ctmam_no_tsa``, ``ctmam_no_lstm``, ``ctmam_no_lct``, ``ctmam_conv_lct``,
  ``ctmam_no_ca``, ``ctmam_no_se`` (each a flag of :class:`CTMAMConfig`);
- efficiency variants of Table VI: ``ctmam_convffn_l``, ``ctmam_convffn_s``, ``ctmam_transformer``,
  ``ctmam_mobilevit{1,2,3}_d{2,3}``.

Readings
--------

Where the paper is ambiguous, or the paper and the authors' release disagree, we implement:

- **Metric (Eq. 25).** The paper defines the per-class accuracy as TP / (TP + FP), which is a *precision*;
  its printed UA nevertheless equals the mean of the per-class *recalls* of Tables III/IV. We report the
  standard UA (mean per-class recall) everywhere and show the Eq. (25) reading (support-weighted and plain
  mean of per-class precision) as a separate, labelled row.
- **Attention scale.** Scores are scaled by 1/sqrt(head dim) as in the release (Eq. 18 writes 1/sqrt(C)).
  The relative-position bias ``B`` is a free table (heads, N, N') drawn from N(0, 1), as released.
- **Token layout.** The release reshapes the LCT output tokens ``(B, N, C)`` straight to ``(B, C, H, W)``
  (mixing the token and channel axes); we transpose. Parameter counts are unaffected.
- **SE-IBFFN residual.** The residual adds the *normalised* block input, as released (``x + FFN(LN x)``
  where the FFN's inverted-bottleneck shortcut adds ``LN x`` once more).
- **Split.** The random 80/20 utterance split is stratified by class (the paper's is a plain random draw);
  segments of one utterance never straddle train and test.
- **Segmentation.** When the 0.2 s hops leave a tail, one more window aligned with the utterance's end is
  added (the release drops the tail); an utterance shorter than 1.8 s is looped to 1.8 s.
- **Corpus of Tables V and VI.** The paper does not name it; their 'Proposed' row equals Table I, so the
  reported numbers are read as IEMOCAP's, and runs on other corpora are set beside them.
- **W/Transformer and MobileViT (Table VI).** The paper gives only their widths. W/Transformer keeps LLC and
  replaces CA-LMAM + SE-IBFFN by a pre-norm ViT layer with an MLP of 8x width (the width that brings the
  count closest, 3,912 short of the paper's); each MobileViT variant is one block of its paper (v1, v2:
  192-wide, v3: 128-wide transformer of depth 2 or 3, 512-wide MLP) in place of the LCT stack, so their
  counts differ from the paper's. Conv-LCT and both ConvFFN variants match the paper's counts exactly,
  which pins down what they replace (a 3x3 convolution with bias + BN for LLC; a bias-free 7x7 / 3x3
  convolution 128->512 + BN for the first pointwise + depthwise pair).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import register

__all__ = ["CTMAMConfig", "CTMAM", "VARIANTS", "ABLATIONS", "EFFICIENCY"]


@dataclass
class CTMAMConfig:
    n_classes: int = 4              # output classes (IEMOCAP 4, Emo-DB 7)
    n_mfcc: int = 26                # MFCC coefficients (input height)
    n_frames: int = 57              # frames per segment (1.8 s, hop 512 at 16 kHz)
    cnn_channels: tuple = (8, 32, 48, 64, 128)  # 3x1/1x3 branch width, then the four 3x3 conv widths
    dim: int = 128                  # channels of the T-Sa / LCT feature map (= last cnn channel)
    depth: int = 3                  # LCT blocks (IEMOCAP release 3, Emo-DB release 1)
    heads: int = 2                  # attention heads (IEMOCAP release 2, Emo-DB release 1)
    sr_ratio: int = 2               # K/V down-sampling by a sr x sr depthwise conv (stride sr)
    llc_kernel: int = 7             # LLC depthwise kernel
    mlp_ratio: int = 4              # SE-IBFFN expansion
    ffn_kernel: int = 7             # SE-IBFFN depthwise kernel
    ca_reduction: int = 16          # coordinate attention: hidden = max(4, dim // ca_reduction)
    se_reduction: int = 4           # squeeze-excitation reduction
    lstm_hidden: int = 3            # BiLSTM hidden size per direction (2*3 = 6 = pooled height)
    lstm_layers: int = 2            # BiLSTM layers
    lstm_dropout: float = 0.25      # dropout between BiLSTM layers
    sa_groups: int = 64             # shuffle-attention groups
    head_dim: int = 1280            # width of the 1x1 conv before pooling in the head
    dropout: float = 0.1            # dropout before the classifier
    # --- Table V ablations
    use_tsa: bool = True            # False: "W/o T-Sa" (no time gate, no shuffle attention)
    use_lstm_attention: bool = True # False: "W/o lstm attention" (shuffle attention kept)
    use_lct: bool = True            # False: "W/o LCT" (CNN + T-Sa + head)
    llc: str = "llc"                # "llc" | "conv3x3" ("W/ Conv-LCT": a plain 3x3 conv replaces LLC)
    use_ca: bool = True             # False: "W/o CA" (queries are the normalised tokens)
    use_se: bool = True             # False: "W/o SE" (SE-IBFFN without its SE gate)
    # --- Table VI efficiency variants
    ffn: str = "ibffn"              # "ibffn" | "conv7" | "conv3" (ConvFFN-LCT-L / -S: full kxk conv replaces PW+DW)
    mixer: str = "lct"              # "lct" | "transformer" | "mobilevit1" | "mobilevit2" | "mobilevit3"
    transformer_mlp_ratio: int = 8  # "W/Transformer": MLP width / dim (8: see Readings)
    mvit_depth: int = 2             # MobileViT block: transformer layers inside the block
    mvit_dim: int = 0               # MobileViT inner width; 0 = paper's (192 for v1/v2, 128 for v3)
    mvit_mlp: int = 512             # MobileViT MLP width (4 x the 128 input channels)
    mvit_patch: int = 2             # MobileViT patch side


# ----------------------------------------------------------------------------- small blocks

def _conv_bn(cin: int, cout: int, k, pad) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad), nn.BatchNorm2d(cout), nn.ReLU())


class HSigmoid(nn.Module):
    def forward(self, x):
        return F.relu6(x + 3.0) / 6.0


class HSwish(nn.Module):
    def forward(self, x):
        return x * F.relu6(x + 3.0) / 6.0


class CNNBlock(nn.Module):
    """Parallel 3x1 and 1x3 convs, then conv3x3-pool, conv3x3-pool, conv3x3, conv3x3 (BN + ReLU each).

    (B, 1, F, T) -> (B, C, F // 4, T // 4).
    """

    def __init__(self, ch: tuple):
        super().__init__()
        c1, c2, c3, c4, c5 = ch
        self.freq = _conv_bn(1, c1, (3, 1), (1, 0))     # along frequency
        self.time = _conv_bn(1, c1, (1, 3), (0, 1))     # along time
        self.body = nn.Sequential(
            _conv_bn(2 * c1, c2, 3, 1), nn.MaxPool2d(2),
            _conv_bn(c2, c3, 3, 1), nn.MaxPool2d(2),
            _conv_bn(c3, c4, 3, 1),
            _conv_bn(c4, c5, 3, 1))

    def forward(self, x):
        x = torch.cat([self.freq(x), self.time(x)], dim=1)  # (B, 2*c1, F, T)
        return self.body(x)                                   # (B, C, F/4, T/4)


class TimeGate(nn.Module):
    """T-Sa timing attention (Eqs. 1-5): channel mean -> BiLSTM over time -> sigmoid gate.

    (B, C, H, W) -> (B, C, H, W). The BiLSTM reads W steps of H values and emits
    2*hidden = H values per step, one gate per (frequency, time) cell shared by all channels.
    """

    def __init__(self, height: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        if 2 * hidden != height:
            raise ValueError(f"TimeGate: 2 * lstm_hidden must equal the pooled height {height}, got hidden={hidden}")
        self.lstm = nn.LSTM(height, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0, bidirectional=True)

    def forward(self, x):
        s = x.mean(dim=1).transpose(1, 2)        # (B, W, H)
        h, _ = self.lstm(s)                      # (B, W, 2*hidden) = (B, W, H)
        gate = torch.sigmoid(h).transpose(1, 2)  # (B, H, W)
        return x * gate.unsqueeze(1)             # (B, C, H, W)


class ShuffleAttention(nn.Module):
    """SA-Net shuffle attention (Eqs. 6-8): per group, a channel branch (GAP, affine, sigmoid) and a
    spatial branch (GroupNorm, affine, sigmoid), concatenated, then a 2-way channel shuffle.

    (B, C, H, W) -> (B, C, H, W); ``C`` must be divisible by ``2 * groups``.
    """

    def __init__(self, channels: int, groups: int):
        super().__init__()
        if channels % (2 * groups):
            raise ValueError(f"ShuffleAttention: channels {channels} not divisible by 2*groups={2 * groups}")
        self.groups = groups
        c = channels // (2 * groups)
        self.c_w = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.c_b = nn.Parameter(torch.ones(1, c, 1, 1))
        self.s_w = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.s_b = nn.Parameter(torch.ones(1, c, 1, 1))
        self.gn = nn.GroupNorm(c, c)

    def forward(self, x):
        b, c, h, w = x.shape
        g = x.reshape(b * self.groups, c // self.groups, h, w)
        xc, xs = g.chunk(2, dim=1)                                               # (B*G, c', H, W) each
        xc = xc * torch.sigmoid(self.c_w * xc.mean(dim=(2, 3), keepdim=True) + self.c_b)
        xs = xs * torch.sigmoid(self.s_w * self.gn(xs) + self.s_b)
        out = torch.cat([xc, xs], dim=1).reshape(b, c, h, w)
        return out.reshape(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)  # channel shuffle


class CoordAttention(nn.Module):
    """Coordinate attention (Eqs. 12-17): pool along time and along frequency, shared 1x1 conv + BN +
    h-swish, then one sigmoid gate per direction. (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        mid = max(4, channels // reduction)
        self.squeeze = nn.Sequential(nn.Conv2d(channels, mid, 1), nn.BatchNorm2d(mid), HSwish())
        self.gate_h = nn.Conv2d(mid, channels, 1)
        self.gate_w = nn.Conv2d(mid, channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        ph = x.mean(dim=3, keepdim=True)                          # (B, C, H, 1)  Eq. 12
        pw = x.mean(dim=2, keepdim=True).transpose(2, 3)          # (B, C, W, 1)  Eq. 13
        y = self.squeeze(torch.cat([ph, pw], dim=2))              # (B, mid, H+W, 1)  Eq. 14
        yh, yw = y.split([h, w], dim=2)
        sh = torch.sigmoid(self.gate_h(yh))                       # (B, C, H, 1)  Eq. 15
        sw = torch.sigmoid(self.gate_w(yw.transpose(2, 3)))       # (B, C, 1, W)  Eq. 16
        return x * sh * sw                                        # Eq. 17


class SqueezeExcite(nn.Module):
    """SE gate with BN and hard sigmoid (MobileNetV3 style). (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        mid = channels // reduction
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels), HSigmoid())

    def forward(self, x):
        return x * self.net(x)


def _tokens(x):       # (B, C, H, W) -> (B, H*W, C)
    return x.flatten(2).transpose(1, 2)


def _grid(t, h, w):   # (B, H*W, C) -> (B, C, H, W)
    return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], h, w)


# ----------------------------------------------------------------------------- LCT block

class LLC(nn.Module):
    """Lightweight local convolution (Eq. 9): PW(DW_kxk(x) + x), GELU + BN after each conv.
    ``kind="conv3x3"`` is the "W/ Conv-LCT" ablation: one full 3x3 conv (+ GELU + BN)."""

    def __init__(self, dim: int, kernel: int, kind: str = "llc"):
        super().__init__()
        self.kind = kind
        if kind == "llc":
            self.dw = nn.Sequential(nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim), nn.GELU(),
                                    nn.BatchNorm2d(dim))
            self.pw = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.GELU(), nn.BatchNorm2d(dim))
        elif kind == "conv3x3":
            self.conv = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), nn.GELU(), nn.BatchNorm2d(dim))
        else:
            raise ValueError(f"llc must be 'llc' or 'conv3x3', got {kind!r}")

    def forward(self, x):  # (B, C, H, W)
        if self.kind == "llc":
            return self.pw(x + self.dw(x))
        return self.conv(x)


class CALMAM(nn.Module):
    """CA-LMAM (Eqs. 10-18): queries from coordinate attention on the token grid, keys and values
    from a stride-``sr`` depthwise conv (+BN) then linear maps; scores plus a learned relative-position
    bias (passed in, shape (heads, N, N')); ``F.scaled_dot_product_attention`` does the softmax.

    tokens (B, N, C) -> (B, N, C), N = H*W, N' = (H//sr)*(W//sr).
    """

    def __init__(self, dim: int, heads: int, sr: int, ca_reduction: int, use_ca: bool):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} not divisible by heads {heads}")
        self.heads = heads
        self.ca = CoordAttention(dim, ca_reduction) if use_ca else None
        self.sr = (nn.Sequential(nn.Conv2d(dim, dim, sr, stride=sr, groups=dim), nn.BatchNorm2d(dim))
                   if sr > 1 else nn.Identity())
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, t, h, w, bias):
        b, n, c = t.shape
        g = _grid(t, h, w)                                            # (B, C, H, W)
        q = _tokens(self.ca(g)) if self.ca is not None else t         # (B, N, C)
        kv = _tokens(self.sr(g))                                      # (B, N', C)
        split = lambda z: z.reshape(b, z.shape[1], self.heads, c // self.heads).transpose(1, 2)
        q, k, v = split(q), split(self.k(kv)), split(self.v(kv))     # (B, h, N|N', C/h)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))  # (B, h, N, C/h)
        return self.proj(o.transpose(1, 2).reshape(b, n, c))


class SEIBFFN(nn.Module):
    """SE inverted-bottleneck FFN (Eqs. 19-21): PW (x mlp_ratio) -> DW kxk -> PW, BN after each,
    h-swish after the first two, SE gate, plus the block input. ``kind="conv7"``/``"conv3"`` replace the
    first PW + DW by one full kxk conv (ConvFFN-LCT-L / -S of Table VI). (B, C, H, W) -> same."""

    def __init__(self, dim: int, ratio: int, kernel: int, use_se: bool, se_reduction: int, kind: str = "ibffn"):
        super().__init__()
        hid = dim * ratio
        if kind == "ibffn":
            self.expand = nn.Sequential(
                nn.Conv2d(dim, hid, 1, bias=False), nn.BatchNorm2d(hid), HSwish(),
                nn.Conv2d(hid, hid, kernel, padding=kernel // 2, groups=hid, bias=False), nn.BatchNorm2d(hid), HSwish())
        elif kind in ("conv7", "conv3"):
            k = int(kind[-1])
            self.expand = nn.Sequential(nn.Conv2d(dim, hid, k, padding=k // 2, bias=False), nn.BatchNorm2d(hid), HSwish())
        else:
            raise ValueError(f"ffn must be 'ibffn', 'conv7' or 'conv3', got {kind!r}")
        self.reduce = nn.Sequential(nn.Conv2d(hid, dim, 1, bias=False), nn.BatchNorm2d(dim))
        self.se = SqueezeExcite(dim, se_reduction) if use_se else nn.Identity()

    def forward(self, x):
        return self.se(self.reduce(self.expand(x))) + x


class LCTBlock(nn.Module):
    """LLC, then CA-LMAM and SE-IBFFN as pre-norm residual branches. tokens (B, N, C) -> (B, N, C)."""

    def __init__(self, cfg: CTMAMConfig):
        super().__init__()
        d = cfg.dim
        self.llc = LLC(d, cfg.llc_kernel, cfg.llc)
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = CALMAM(d, cfg.heads, cfg.sr_ratio, cfg.ca_reduction, cfg.use_ca)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.ffn = SEIBFFN(d, cfg.mlp_ratio, cfg.ffn_kernel, cfg.use_se, cfg.se_reduction, cfg.ffn)

    def forward(self, t, h, w, bias):
        t = _tokens(self.llc(_grid(t, h, w)))
        t = t + self.attn(self.norm1(t), h, w, bias)
        return t + _tokens(self.ffn(_grid(self.norm2(t), h, w)))


class TransformerLayer(nn.Module):
    """Pre-norm ViT layer: LN, multi-head self-attention (SDPA), LN, GELU MLP. (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} not divisible by heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, t):
        b, n, d = t.shape
        q, k, v = self.qkv(self.norm1(t)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)                  # (B, h, N, d/h)
        t = t + self.proj(o.transpose(1, 2).reshape(b, n, d))
        return t + self.mlp(self.norm2(t))


class TransformerLCT(nn.Module):
    """"W/Transformer" (Table VI): LLC kept, CA-LMAM + SE-IBFFN replaced by a standard transformer layer."""

    def __init__(self, cfg: CTMAMConfig):
        super().__init__()
        self.llc = LLC(cfg.dim, cfg.llc_kernel, cfg.llc)
        self.layer = TransformerLayer(cfg.dim, cfg.heads, cfg.dim * cfg.transformer_mlp_ratio)

    def forward(self, t, h, w, bias=None):
        return self.layer(_tokens(self.llc(_grid(t, h, w))))


# ----------------------------------------------------------------------------- MobileViT blocks (Table VI)

def _conv_bn_act(cin, cout, k, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.SiLU()) if act else nn.Sequential(*layers)


def _unfold(x, p):
    """(B, D, H, W) -> (B*p*p, (H/p)*(W/p), D): one sequence of patches per pixel offset."""
    b, d, h, w = x.shape
    x = x.reshape(b, d, h // p, p, w // p, p).permute(0, 3, 5, 2, 4, 1)
    return x.reshape(b * p * p, (h // p) * (w // p), d)


def _fold(t, b, h, w, p):
    d = t.shape[-1]
    return t.reshape(b, p, p, h // p, w // p, d).permute(0, 5, 3, 1, 4, 2).reshape(b, d, h, w)


class SeparableAttention(nn.Module):
    """MobileViTv2 separable self-attention (linear in tokens). (B', N, D) -> (B', N, D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.qkv = nn.Linear(dim, 1 + 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, t):
        q, k, v = self.qkv(t).split([1, t.shape[-1], t.shape[-1]], dim=-1)
        ctx = (q.softmax(dim=1) * k).sum(dim=1, keepdim=True)   # (B', 1, D) context vector
        return self.out(F.relu(v) * ctx)


class MobileViTBlock(nn.Module):
    """MobileViT v1 / v2 / v3 block on (B, C, H, W) -> (B, C, H, W), with ``depth`` transformer layers.

    v1: conv3x3 + conv1x1 (C->D), transformer layers on unfolded patches, conv1x1 (D->C), fusion
        conv3x3 over [input, global].
    v2: depthwise 3x3 + conv1x1, separable-attention layers (GroupNorm), conv1x1 back, no fusion.
    v3: depthwise 3x3 + conv1x1, transformer layers, conv1x1 back, fusion conv1x1 over
        [local, global] plus the input (residual).
    Grids whose sides are not multiples of the patch are padded by replication and cropped back.
    """

    def __init__(self, version: int, channels: int, dim: int, depth: int, mlp: int, heads: int, patch: int):
        super().__init__()
        self.version, self.p = version, patch
        c, d = channels, dim
        if version == 1:
            self.local = nn.Sequential(_conv_bn_act(c, c, 3), nn.Conv2d(c, d, 1, bias=False))
        elif version in (2, 3):
            self.local = nn.Sequential(_conv_bn_act(c, c, 3, groups=c), nn.Conv2d(c, d, 1, bias=False))
        else:
            raise ValueError(f"MobileViT version must be 1, 2 or 3, got {version}")
        if version == 2:
            self.layers = nn.ModuleList(nn.ModuleDict({
                "n1": nn.GroupNorm(1, d), "attn": SeparableAttention(d), "n2": nn.GroupNorm(1, d),
                "mlp": nn.Sequential(nn.Linear(d, mlp), nn.SiLU(), nn.Linear(mlp, d))}) for _ in range(depth))
            self.norm = nn.GroupNorm(1, d)
        else:
            self.layers = nn.ModuleList(TransformerLayer(d, heads, mlp) for _ in range(depth))
            self.norm = nn.LayerNorm(d)
        self.proj = _conv_bn_act(d, c, 1, act=version != 2)
        if version == 1:
            self.fuse = _conv_bn_act(2 * c, c, 3)
        elif version == 3:
            self.fuse = _conv_bn_act(d + c, c, 1)

    def _global(self, t):
        for layer in self.layers:
            if self.version == 2:
                n1 = layer["n1"](t.transpose(1, 2)).transpose(1, 2)
                t = t + layer["attn"](n1)
                n2 = layer["n2"](t.transpose(1, 2)).transpose(1, 2)
                t = t + layer["mlp"](n2)
            else:
                t = layer(t)
        return self.norm(t.transpose(1, 2)).transpose(1, 2) if self.version == 2 else self.norm(t)

    def forward(self, x):
        b, c, h, w = x.shape
        p = self.p
        ph, pw = (-h) % p, (-w) % p
        loc = self.local(x)                                                   # (B, D, H, W)
        z = F.pad(loc, (0, pw, 0, ph), mode="replicate") if ph or pw else loc
        g = _fold(self._global(_unfold(z, p)), b, h + ph, w + pw, p)[:, :, :h, :w]
        g = self.proj(g)                                                      # (B, C, H, W)
        if self.version == 1:
            return self.fuse(torch.cat([x, g], dim=1))
        if self.version == 3:
            return self.fuse(torch.cat([loc, g], dim=1)) + x
        return g


# ----------------------------------------------------------------------------- the model

class CTMAM(nn.Module):
    """CNN block -> T-Sa (BiLSTM time gate + shuffle attention) -> LCT blocks -> head.

    forward(x): x MFCC segments ``(B, n_mfcc, T)`` or ``(B, 1, n_mfcc, T)`` -> logits ``(B, n_classes)``.
    ``T`` must pool (two 2x2 max-pools) to the same width as ``n_frames``.
    """

    def __init__(self, cfg: CTMAMConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.cnn_channels[-1] != cfg.dim:
            raise ValueError(f"the last CNN width {cfg.cnn_channels[-1]} must equal dim {cfg.dim}")
        self.grid = (cfg.n_mfcc // 4, cfg.n_frames // 4)
        h, w = self.grid
        self.cnn = CNNBlock(tuple(cfg.cnn_channels))
        self.time_gate = (TimeGate(h, cfg.lstm_hidden, cfg.lstm_layers, cfg.lstm_dropout)
                          if cfg.use_tsa and cfg.use_lstm_attention else None)
        self.shuffle = ShuffleAttention(cfg.dim, cfg.sa_groups) if cfg.use_tsa else None
        self.rel_pos = None
        blocks: list[nn.Module] = []
        if cfg.use_lct:
            if cfg.mixer == "lct":
                n_kv = (h // cfg.sr_ratio) * (w // cfg.sr_ratio) if cfg.sr_ratio > 1 else h * w
                self.rel_pos = nn.Parameter(torch.randn(cfg.heads, h * w, n_kv))  # B of Eq. 18
                blocks = [LCTBlock(cfg) for _ in range(cfg.depth)]
            elif cfg.mixer == "transformer":
                blocks = [TransformerLCT(cfg) for _ in range(cfg.depth)]
            elif cfg.mixer in ("mobilevit1", "mobilevit2", "mobilevit3"):
                v = int(cfg.mixer[-1])
                d = cfg.mvit_dim or (128 if v == 3 else 192)
                blocks = [MobileViTBlock(v, cfg.dim, d, cfg.mvit_depth, cfg.mvit_mlp, cfg.heads, cfg.mvit_patch)]
            else:
                raise ValueError(f"mixer must be lct, transformer, mobilevit1/2/3, got {cfg.mixer!r}")
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = nn.Sequential(nn.Conv2d(cfg.dim, cfg.head_dim, 1), nn.BatchNorm2d(cfg.head_dim), nn.SiLU())
        self.drop = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.head_dim, cfg.n_classes)
        for m in [*self.blocks, self.head_conv, self.fc]:
            m.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if x.dim() == 3:
            x = x.unsqueeze(1)                                   # (B, 1, F, T)
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != cfg.n_mfcc:
            raise ValueError(f"CTMAM expects MFCC segments (B, {cfg.n_mfcc}, T) or (B, 1, {cfg.n_mfcc}, T), "
                             f"got {tuple(x.shape)}")
        if x.shape[3] // 4 != self.grid[1]:
            raise ValueError(f"CTMAM expects (B, {cfg.n_mfcc}, T) with T pooling to the width of its "
                             f"{cfg.n_frames} frames ({self.grid[1]}, T in {4 * self.grid[1]}..{4 * self.grid[1] + 3}); "
                             f"got {tuple(x.shape)}")
        x = self.cnn(x)                                          # (B, C, h, w)
        if self.time_gate is not None:
            x = self.time_gate(x)
        if self.shuffle is not None:
            x = self.shuffle(x)
        b, c, h, w = x.shape
        if self.cfg.mixer.startswith("mobilevit"):
            for blk in self.blocks:
                x = blk(x)
        elif len(self.blocks):
            t = _tokens(x)                                       # (B, N, C)
            for blk in self.blocks:
                t = blk(t, h, w, self.rel_pos)
            x = _grid(t, h, w)                                   # (B, C, h, w)
        x = self.head_conv(x).mean(dim=(2, 3))                   # (B, head_dim)
        return self.fc(self.drop(x))                             # (B, n_classes)


def _init(m):
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out")
        if m.bias is not None:
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- presets

_IEMOCAP = CTMAMConfig()
_EMODB = CTMAMConfig(n_classes=7, depth=1, heads=1)

#: Table V ablations: preset suffix -> (paper row, config overrides)
ABLATIONS = {
    "no_tsa": ("W/o T-Sa", dict(use_tsa=False)),
    "no_lstm": ("W/o lstm attention", dict(use_lstm_attention=False)),
    "no_lct": ("W/o LCT", dict(use_lct=False)),
    "conv_lct": ("W/ Conv-LCT", dict(llc="conv3x3")),
    "no_ca": ("W/o CA", dict(use_ca=False)),
    "no_se": ("W/o SE", dict(use_se=False)),
}
#: Table VI efficiency variants: preset suffix -> (paper row, config overrides)
EFFICIENCY = {
    "conv_lct": ("W/ Conv-LCT", dict(llc="conv3x3")),
    "convffn_l": ("W/ConvFFN-LCT-L", dict(ffn="conv7")),
    "convffn_s": ("W/ConvFFN-LCT-S", dict(ffn="conv3")),
    "transformer": ("W/Transformer", dict(mixer="transformer")),
    **{f"mobilevit{v}_d{d}": (f"W/MobileVitv{v} block-depth{d} [{66 + v - 1}]",
                              dict(mixer=f"mobilevit{v}", mvit_depth=d))
       for v in (1, 2, 3) for d in (2, 3)},
}
#: every variant: suffix -> (paper row, overrides); the proposed model has suffix ""
VARIANTS = {"": ("Proposed", {}), **ABLATIONS, **EFFICIENCY}

register("ctmam", CTMAM, _IEMOCAP)
register("ctmam_emodb", CTMAM, _EMODB)
for _suffix, (_row, _over) in VARIANTS.items():
    if _suffix:
        register(f"ctmam_{_suffix}", CTMAM, CTMAMConfig(**_over))
