"""MDAT: Multimodal Dual Attention Transformer, and the paper's BiLSTM baseline.

Zaidi, Latif and Qadir, "Cross-Language Speech Emotion Recognition Using Multimodal
Dual Attention Transformers" (Sec. III). Inputs are frame-level audio features
(XLS-R in the paper; the GE2E frame states ``(frames, 256)`` offline) and token-level
text features (RoBERTa in the paper; MiniLM token states ``(tokens, 384)`` offline).

Pipeline of :class:`MDAT` (B batch, T common length, D = ``audio_dim``):

1. (deviation, ``audio_stride``) masked mean-pooling of audio frames by a factor,
   so a 100-frames/s stand-in fits a short common length on a CPU; 1 = off.
2. Eq. 1: text ``(B, T_t, D_t)`` → kernel-1 ``Conv1d`` → ``(B, T_t, D)``.
3. Sec. III-A: both cropped to ``max_len`` and the shorter padded to the longer:
   audio and text ``(B, T, D)``, with masks (padding is never attended to or pooled).
4. Eqs. 2-6, graph attention over the joined sequence ``Z = [x_s; x_t]``
   ``(B, 2T, D)``: ``H = ZW`` ``(B, 2T, U)``; scores
   ``A_ij = LeakyReLU(H_i·a_1 + H_j·a_2)`` (the GAT form: see *Readings*),
   ``α = softmax_j(A)`` over real nodes only,
   ``x̂_g = αH`` ``(B, 2T, U)``, split back into audio and text ``(B, T, U)``.
5. Eqs. 7-15, co-attention: ``H_s = Dense(x_s)``, ``H_t = Dense(x_t)``,
   ``C = H_s H_tᵀ / sqrt(U)`` ``(B, T, T)`` (the scale is ours, ``coatt_scale``);
   ``α_s = softmax(C)`` over text positions, ``α_t = softmax(Cᵀ)`` over audio
   positions; ``x'_s = α_s x_t``, ``x'_t = α_t x_s`` (see *Readings*);
   ``x̂_s = [x_s; x'_s]``, ``x̂_t = [x_t; x'_t]`` ``(B, T, 2U)``.
6. Sec. III-D: one transformer encoder layer per modality (self-attention + FFN,
   key padding masked) ``(B, T, 2U)``.
7. Masked mean over time per modality, concatenation ``(B, 4U)``, dense + ReLU +
   dropout, dense → logits ``(B, n_classes)`` (softmax is in the loss).

``use_graph``/``use_coattention``/``use_transformer`` give the seven configurations
of Table VI (:data:`ABLATIONS`). ``use_text=False`` is the audio-only mode for
corpora without transcripts (URDU): graph attention over the audio nodes only,
no co-attention (it needs two modalities), one transformer layer, audio pooling.

:class:`MDATBaseline` is Sec. III-E: a BiLSTM per modality over the same
cropped/padded inputs, masked mean, concatenation, dense + dropout, output layer.

Readings
--------
Where the paper is ambiguous, this is what the model and its chapter
(`sercore/chapters/mdat.py`) implement:

- **Graph attention (Eqs. 2-6)** uses the GAT score of Veličković et al., which the paper
  cites: `A_ij = LeakyReLU(H_i·a₁ + H_j·a₂)` with `a = [a₁; a₂]`, softmax over the real nodes.
  The printed `Ha` with `a ∈ R^U` gives one number per node and cannot give the stated
  `(T_s+T_t) × (T_s+T_t)` matrix.
- **Co-attention outputs (Eqs. 7-15)** are `x'_s = α_s x_t` and `x'_t = α_t x_s` (the printed
  `x̃_s α_s` does not compose; this reading matches the stated `x'_s ∈ R^{T_s×D}`), and the
  scores are scaled by `1/√U` (`C = H_s H_tᵀ / √U`; ours, for a stable softmax: the paper has
  no scale). The classifier pools each modality by a masked mean (the paper does not say how).
- **Emo-DB has 4 classes, boredom merged into sad** (label map `emodb4_mdat`): Table II prints
  "7 classes", but Sec. IV-A uses 420 utterances with 143 "sad", which only adds up as sad (62)
  plus boredom (81); fear and disgust are dropped. EMOVO and URDU keep their four classes,
  IEMOCAP merges excited into happy.
- **k-shot is k labelled target utterances per class** (the paper says "k samples"): they
  fine-tune a copy of the source model, and the test set is every other target utterance
  (`sercore.protocols.make_kshot`; never both); k = 0 is the source model on the whole target.
- **Within-corpus splits**: the paper says "standard train-test splits" and no more; each
  corpus uses its own protocol (Emo-DB, EMOVO: leave one speaker out; IEMOCAP: leave one
  session out; synthetic: session 5 held out, validation speakers from sessions 1-4). URDU ties
  speakers to emotions, so leaving a speaker out tests one class: it runs label-stratified
  5-fold (`kfold_val`), and its Table II rows are marked not comparable with the paper's.
- **Cross-language source models** are trained on the source corpus (validation speakers
  carved from it) and tested on every target utterance; `cross_source: within` reuses the
  first within-corpus fold's model (trained on most, not all, of the source).
- **Ablations (Table VI)** run cross-language from `ablation_source` (the paper: IEMOCAP) to
  every other corpus; a run with a single corpus runs them within-corpus on its first fold,
  labelled so and not comparable with the paper's cells.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import MaskedBiLSTM, lengths_to_mask, masked_mean
from . import register

#: Table VI: model number -> modules (GA graph attention, CA co-attention, TE transformer encoder)
ABLATIONS: dict[int, tuple[str, ...]] = {
    1: ("GA", "CA", "TE"),
    2: ("GA", "CA"),
    3: ("GA",),
    4: ("CA",),
    5: ("TE",),
    6: ("CA", "TE"),
    7: ("GA", "TE"),
}


def ablation_flags(model: int) -> dict:
    """Config overrides of Table VI model ``model`` (1..7): ``use_graph``, ``use_coattention``, ``use_transformer``."""
    if model not in ABLATIONS:
        raise ValueError(f"Table VI has models 1..7, got {model!r}")
    mods = ABLATIONS[model]
    return {"use_graph": "GA" in mods, "use_coattention": "CA" in mods, "use_transformer": "TE" in mods}


# ----------------------------------------------------------------------------- input alignment

def pool_time(x: torch.Tensor, lengths: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked mean over non-overlapping windows of ``stride`` frames.

    x: (B, T, D), lengths: (B,) → ((B, ceil(T/stride), D), (B,) = ceil(lengths/stride)).
    A window never averages padding: it divides by its count of real frames.
    """
    if stride == 1:
        return x, lengths
    b, t, d = x.shape
    tp = -(-t // stride)
    mask = lengths_to_mask(lengths, t).to(x.dtype)                            # (B, T)
    x = F.pad(x * mask[..., None], (0, 0, 0, tp * stride - t))                # (B, tp*s, D)
    mask = F.pad(mask, (0, tp * stride - t))
    sums = x.view(b, tp, stride, d).sum(2)                                    # (B, tp, D)
    counts = mask.view(b, tp, stride).sum(2).clamp_min(1.0)                   # (B, tp)
    return sums / counts[..., None], -(-lengths // stride)


def crop_pad(x: torch.Tensor, lengths: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop ``x`` (B, T', D) to its first ``t`` frames or zero-pad it to ``t``; lengths clamp to ``t``."""
    if x.shape[1] >= t:
        x = x[:, :t]
    else:
        x = F.pad(x, (0, 0, 0, t - x.shape[1]))
    return x, lengths.clamp(max=t)


def _lengths(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    if lengths is None:
        return torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
    if lengths.shape != (x.shape[0],):
        raise ValueError(f"lengths must be (B,) = ({x.shape[0]},), got {tuple(lengths.shape)}")
    if bool((lengths < 1).any()):
        raise ValueError("every sequence needs at least one frame/token (a length of 0 came)")
    return lengths.to(x.device)


def _check(name: str, x: torch.Tensor | None, dim: int) -> None:
    if x is None or x.dim() != 3 or x.shape[-1] != dim:
        got = None if x is None else tuple(x.shape)
        raise ValueError(f"{name} must be (B, T, {dim}), got {got}")


# ----------------------------------------------------------------------------- the two attentions

class GraphAttention(nn.Module):
    """Eqs. 2-6 on a fully connected graph of the real nodes.

    forward(z, mask): z (B, N, D_in), mask (B, N) bool (True = real node) →
    (x̂_g (B, N, U) zero on padding, α (B, N, N)).
    """

    def __init__(self, d_in: int, d_out: int, slope: float = 0.2):
        super().__init__()
        self.W = nn.Linear(d_in, d_out, bias=False)                          # Eq. 3
        self.a_src = nn.Parameter(torch.empty(d_out))                         # a = [a_1; a_2] (GAT)
        self.a_dst = nn.Parameter(torch.empty(d_out))
        nn.init.normal_(self.a_src, std=d_out ** -0.5)
        nn.init.normal_(self.a_dst, std=d_out ** -0.5)
        self.slope = slope

    def forward(self, z: torch.Tensor, mask: torch.Tensor):
        h = self.W(z)                                                         # (B, N, U)
        scores = (h @ self.a_src)[:, :, None] + (h @ self.a_dst)[:, None, :]  # (B, N, N)
        scores = F.leaky_relu(scores, self.slope)                             # Eq. 4
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        alpha = scores.softmax(-1)                                            # Eq. 5
        out = (alpha @ h) * mask[..., None].to(h.dtype)                       # Eq. 6, (B, N, U)
        return out, alpha


class CoAttention(nn.Module):
    """Eqs. 7-15.

    forward(xs, ms, xt, mt): xs, xt (B, T, D); ms, mt (B, T) bool →
    (x̂_s (B, T, 2D), x̂_t (B, T, 2D), α_s (B, T_s, T_t), α_t (B, T_t, T_s)); zero on padding.
    """

    def __init__(self, dim: int, scale: bool = True):
        super().__init__()
        self.dense_s = nn.Linear(dim, dim)                                    # Eq. 7
        self.dense_t = nn.Linear(dim, dim)                                    # Eq. 8
        self.scale = dim ** -0.5 if scale else 1.0

    def forward(self, xs, ms, xt, mt):
        hs, ht = self.dense_s(xs), self.dense_t(xt)                           # (B, T, D)
        c = hs @ ht.transpose(1, 2) * self.scale                              # Eq. 9, (B, T_s, T_t)
        alpha_s = c.masked_fill(~mt[:, None, :], float("-inf")).softmax(-1)   # Eq. 10
        alpha_t = c.transpose(1, 2).masked_fill(~ms[:, None, :], float("-inf")).softmax(-1)  # Eq. 11
        att_s = alpha_s @ xt                                                  # Eq. 12, (B, T_s, D)
        att_t = alpha_t @ xs                                                  # Eq. 13, (B, T_t, D)
        out_s = torch.cat([xs, att_s], -1) * ms[..., None].to(xs.dtype)       # Eq. 14, (B, T, 2D)
        out_t = torch.cat([xt, att_t], -1) * mt[..., None].to(xt.dtype)       # Eq. 15
        return out_s, out_t, alpha_s, alpha_t


# ----------------------------------------------------------------------------- MDAT

@dataclass
class MDATConfig:
    audio_dim: int = 1024          # D_s: XLS-R (large) hidden size; 256 for the GE2E stand-in
    text_dim: int = 1024           # D_t: RoBERTa-large hidden size; 384 for the MiniLM stand-in
    n_classes: int = 4             # the paper's 4 classes (angry, happy, neutral, sad)
    max_len: int = 128             # common length T after crop/pad (Sec. III-A; not given in the paper)
    audio_stride: int = 1          # masked mean-pool audio frames by this factor first (ours; 1 = off)
    graph_dim: int | None = None   # U of Eq. 3; None = audio_dim
    graph_slope: float = 0.2       # LeakyReLU slope of Eq. 4 (GAT's 0.2)
    coatt_scale: bool = True       # divide C by sqrt(U) (ours, for stable softmax; the paper has none)
    heads: int = 4                 # heads of the transformer encoder layer
    ff_dim: int = 512              # feed-forward width of the transformer encoder layer
    hidden: int = 128              # dense layer of the classification head
    dropout: float = 0.2           # dropout in the transformer layer and the head
    use_graph: bool = True         # GA: graph attention (Table VI)
    use_coattention: bool = True   # CA: co-attention (Table VI)
    use_transformer: bool = True   # TE: transformer encoder layer per modality (Table VI)
    use_text: bool = True          # False: audio-only mode (no transcripts); no co-attention


class MDAT(nn.Module):
    """Multimodal dual attention transformer (see the module docstring for every shape).

    forward(audio, audio_lengths, text=None, text_lengths=None):
      audio (B, T_s, audio_dim), text (B, T_t, text_dim), lengths (B,) or None → logits (B, n_classes).
    ``self.last_attention`` holds the graph and co-attention matrices of the last call.
    """

    def __init__(self, cfg: MDATConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.audio_dim
        u = cfg.graph_dim or d
        if cfg.use_text:
            self.text_proj = nn.Conv1d(cfg.text_dim, d, kernel_size=1)       # Eq. 1
        self.graph = GraphAttention(d, u, cfg.graph_slope) if cfg.use_graph else None
        w = u if cfg.use_graph else d
        self.coatt = CoAttention(w, cfg.coatt_scale) if (cfg.use_coattention and cfg.use_text) else None
        if self.coatt is not None:
            w = 2 * w
        if cfg.use_transformer and w % cfg.heads:
            raise ValueError(f"transformer width {w} must be divisible by heads={cfg.heads}")
        n_mod = 2 if cfg.use_text else 1
        self.encoders = nn.ModuleList(
            [nn.TransformerEncoderLayer(w, cfg.heads, cfg.ff_dim, cfg.dropout, batch_first=True)
             for _ in range(n_mod)]) if cfg.use_transformer else None
        self.width = w
        self.head = nn.Sequential(nn.Linear(n_mod * w, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.hidden, cfg.n_classes))
        self.last_attention: dict = {}

    def align(self, audio, audio_lengths, text=None, text_lengths=None):
        """Steps 1-3: ``(x_s, m_s, x_t, m_t)``, each ``(B, T, D)`` / ``(B, T)``; text parts None in audio-only mode."""
        c = self.cfg
        _check("audio", audio, c.audio_dim)
        la = _lengths(audio, audio_lengths)
        xs, la = pool_time(audio, la, c.audio_stride)                         # (B, T_s', D)
        if not c.use_text:
            t = min(xs.shape[1], c.max_len)
            xs, la = crop_pad(xs, la, t)
            return xs, lengths_to_mask(la, t), None, None
        _check("text", text, c.text_dim)
        if text.shape[0] != audio.shape[0]:
            raise ValueError(f"audio and text batch sizes differ: {audio.shape[0]} vs {text.shape[0]}")
        lt = _lengths(text, text_lengths)
        xt = self.text_proj(text.transpose(1, 2)).transpose(1, 2)             # (B, T_t, D)
        t = min(max(xs.shape[1], xt.shape[1]), c.max_len)                      # common length T
        xs, la = crop_pad(xs, la, t)                                           # (B, T, D)
        xt, lt = crop_pad(xt, lt, t)                                           # (B, T, D)
        ms, mt = lengths_to_mask(la, t), lengths_to_mask(lt, t)
        return xs * ms[..., None].to(xs.dtype), ms, xt * mt[..., None].to(xt.dtype), mt

    def forward(self, audio, audio_lengths=None, text=None, text_lengths=None):
        xs, ms, xt, mt = self.align(audio, audio_lengths, text, text_lengths)
        att = {}
        t = xs.shape[1]
        if self.graph is not None:
            z = xs if xt is None else torch.cat([xs, xt], 1)                   # Eq. 2, (B, 2T, D)
            mz = ms if mt is None else torch.cat([ms, mt], 1)                  # (B, 2T)
            g, att["graph"] = self.graph(z, mz)                                # (B, 2T, U)
            xs, xt = (g, None) if xt is None else (g[:, :t], g[:, t:])        # (B, T, U) each
        if self.coatt is not None:
            xs, xt, att["coatt_s"], att["coatt_t"] = self.coatt(xs, ms, xt, mt)  # (B, T, 2U) each
        streams = [(xs, ms)] + ([] if xt is None else [(xt, mt)])
        pooled = []
        for i, (x, m) in enumerate(streams):
            if self.encoders is not None:
                x = self.encoders[i](x, src_key_padding_mask=~m)               # (B, T, W)
            pooled.append(masked_mean(x, m))                                   # (B, W)
        self.last_attention = att
        return self.head(torch.cat(pooled, -1))                                # (B, K)


# ----------------------------------------------------------------------------- baseline (Sec. III-E)

@dataclass
class MDATBaselineConfig:
    audio_dim: int = 1024          # D_s (XLS-R); 256 for the GE2E stand-in
    text_dim: int = 1024           # D_t (RoBERTa); 384 for the MiniLM stand-in
    n_classes: int = 4             # output classes
    max_len: int = 128             # common length after crop/pad, as for MDAT
    audio_stride: int = 1          # masked mean-pool audio frames first (ours; 1 = off)
    lstm_hidden: int = 64          # LSTM units per direction (not given in the paper)
    hidden: int = 128              # dense layer before the output
    dropout: float = 0.3           # dropout after the dense layer
    use_text: bool = True          # False: audio-only mode


class MDATBaseline(nn.Module):
    """BiLSTM per modality → masked mean → concatenation → dense + ReLU + dropout → output.

    forward(audio, audio_lengths, text=None, text_lengths=None) → logits (B, n_classes).
    The dense layer's "regularisation" of Sec. III-E is the optimiser's weight decay.
    """

    def __init__(self, cfg: MDATBaselineConfig):
        super().__init__()
        self.cfg = cfg
        self.lstm_a = MaskedBiLSTM(cfg.audio_dim, cfg.lstm_hidden)
        self.lstm_t = MaskedBiLSTM(cfg.text_dim, cfg.lstm_hidden) if cfg.use_text else None
        n_mod = 2 if cfg.use_text else 1
        self.head = nn.Sequential(nn.Linear(n_mod * 2 * cfg.lstm_hidden, cfg.hidden), nn.ReLU(),
                                  nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.n_classes))

    def forward(self, audio, audio_lengths=None, text=None, text_lengths=None):
        c = self.cfg
        _check("audio", audio, c.audio_dim)
        la = _lengths(audio, audio_lengths)
        xs, la = pool_time(audio, la, c.audio_stride)
        parts = []
        if c.use_text:
            _check("text", text, c.text_dim)
            lt = _lengths(text, text_lengths)
            t = min(max(xs.shape[1], text.shape[1]), c.max_len)
            xs, la = crop_pad(xs, la, t)
            xt, lt = crop_pad(text, lt, t)
        else:
            t = min(xs.shape[1], c.max_len)
            xs, la = crop_pad(xs, la, t)
        parts.append(masked_mean(self.lstm_a(xs, la), lengths_to_mask(la, t)))        # (B, 2H)
        if c.use_text:
            parts.append(masked_mean(self.lstm_t(xt, lt), lengths_to_mask(lt, t)))    # (B, 2H)
        return self.head(torch.cat(parts, -1))                                         # (B, K)


# ----------------------------------------------------------------------------- presets

#: the offline stand-ins' widths: GE2E frame states (256) and MiniLM token states (384)
#: (audio mean-pooled x8 in time: 12.5 frames/s, common length 48 = 3.8 s; small widths for 2 CPU cores)
STANDIN = dict(audio_dim=256, text_dim=384, audio_stride=8, max_len=48, graph_dim=64, ff_dim=128)

register("mdat", MDAT, MDATConfig())
register("mdat_standin", MDAT, MDATConfig(**STANDIN))
for _k in ABLATIONS:
    register(f"mdat_standin_m{_k}", MDAT, MDATConfig(**STANDIN, **ablation_flags(_k)))
register("mdat_baseline", MDATBaseline, MDATBaselineConfig())
register("mdat_baseline_standin", MDATBaseline,
         MDATBaselineConfig(audio_dim=256, text_dim=384, audio_stride=8, max_len=48))
