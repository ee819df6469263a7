"""MLCCT: "A Multi-Level Circulant Cross-Modal Transformer for Multimodal Speech Emotion
Recognition" (Gong, Liu, Wu, Han, Wang, He; CMC 2022).

Pipeline (Fig. 1 of the paper), for a batch of B utterances::

    audio frames (B, Ta, Da), text tokens (B, Ts, Ds)          # SSE embeddings (TERA / RoBERTa)
      -> Bi-LSTM per modality, masked mean over real steps      # a (B, 2Ha), s (B, 2Hs)
      -> low-level circulant interaction, Eqs. (7)-(9)          # A (B, d), S (B, d)
      -> each d-vector read as d tokens (Q_A in R^{d x 1}),     # (B, d, e)
         lifted to e = token_dim features (+ position embedding)
      -> n_cross two-stream residual cross-modal blocks,        # Y_A, Y_S (B, d, e)
         Eqs. (10)-(11): audio queries text, text queries audio
      -> concat along tokens, Eq. (13)                          # (B, 2d, e)
      -> n_self multi-head self-attention blocks, Eq. (12)      # (B, 2d, e)
      -> W^o read-out to one value per token                    # (B, 2d)
      -> fully connected classifier                             # (B, n_classes)

Readings
--------

Where the paper is ambiguous, we read it as follows.

* **Circulant interaction.** Eq. (7) writes ``A = Ã ⊙ (W_s s) = (1/d) Σ_i a_i ⊙ (W_s s)`` with
  ``a_i`` the rows of ``Ã = circ(W_a a)``. Summed over the rows, every element of the sum
  equals ``sum(W_a a)``, so the literal formula collapses to ``mean(W_a a) · (W_s s)`` and the
  circulant structure does nothing. The default ``circulant="row"`` takes the Hadamard product
  of every row with ``W_s s`` and sums *within* the row: ``A_i = (1/d) <a_i, W_s s>``, i.e.
  ``A = (1/d) Ã (W_s s)`` — the "circulant matrices multiplied by each other" of the text (a
  circular cross-correlation). ``circulant="literal"`` keeps the printed formula.
  Row ``i`` of ``circ(v)`` is ``v`` rolled right by ``i``: ``circ(v)[i, j] = v[(j - i) mod d]``.
* **Attention over vectors.** A and S are single vectors, and the paper writes
  ``Q_A = A W_QA ∈ R^{d×1}``: each of the d entries is a token with one feature. Attention
  over one token would be trivial (softmax of one score is 1), so we keep the d tokens and
  lift each scalar to ``token_dim`` features with a shared linear map plus a learned position
  embedding (multi-head attention needs more than one feature per token). Blocks are
  pre-norm (LayerNorm before attention and before the feed-forward layer); Eq. (10)'s residual
  ``Y_A = A + attn`` is kept.
* **Blocks vs heads (Table 8).** Table 8's columns are "Cross-modal attention block",
  "Self-attention block", "Cross-model head", "Self-attention head"; the row that reproduces
  Table 6 (ACC-6 51.2, F1 82.0) is 2 / 4 / 2 / 4, while Sec. 4.3.2 says "two cross-modal
  attention blocks with four heads and two self-attention blocks with four heads". We follow
  the table's row under its printed header: ``n_cross=2, n_self=4, cross_heads=2,
  self_heads=4`` (the ``mlcct`` preset).
* **Unimodal variants** (Tables 3, 5, 6 audio / text rows): the paper does not describe them.
  With one modality there is nothing to interact with, so the audio-only / text-only model is
  Bi-LSTM → projection W to d → tokens → self-attention blocks → FC.
* **Ablations (Table 7).** ``low_level=False`` (strategy B) replaces the circulant interaction
  by the projections alone (A = W_a a, S = W_s s); ``high_level=False`` (strategy A) drops
  the cross-modal blocks; strategy C (no SSE) is a change of input features (log-mel and
  static word embeddings), made by the chapter, with the D model.
* **Table 7's letters.** The text of Sec. 4.3.1 shifts the strategy letters against the
  table (it calls the 28.12 model "Strategy B"); we follow the table.
* **CMU-MOSEI labels.** Each segment is read single-label: the emotion of highest intensity
  (all-zero segments are neutral and dropped by the ``mosei6`` label map).
* **Metrics.** "Acc" is read as the accuracy over all test utterances (WA); "F1" as the
  weighted F1 over classes (the paper does not say which F1); the per-class "Acc" of Table 4
  and the recognition rates of Figs. 4-6 as class recall. Table 8's ACC-6 is WA over the
  corpus' classes; its ACC-2 is not defined for six emotions in the paper and is not measured.
* **Sizes and training.** Hidden sizes, dropout, the projection size d, the optimiser, the
  learning rate, the epochs and the batch size are not given in the paper: the presets
  choose the sizes (see the config), ``params/mlcct/*.yaml`` the training settings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import MaskedBiLSTM, lengths_to_mask, masked_mean
from . import register

MODALITY_NAMES = ("audio", "text")
CIRCULANT_MODES = ("row", "literal")


# ----------------------------------------------------------------------------- circulant interaction

def circulant_matrix(v: torch.Tensor) -> torch.Tensor:
    """Batched circulant matrices: ``v`` (B, d) → (B, d, d) with row i = v rolled right by i.

    ``out[b, i, j] = v[b, (j - i) mod d]``.
    """
    if v.dim() != 2:
        raise ValueError(f"v must be (B, d), got {tuple(v.shape)}")
    d = v.shape[1]
    ar = torch.arange(d, device=v.device)
    idx = (ar[None, :] - ar[:, None]) % d                               # (d, d): (j - i) mod d
    return v[:, idx]                                                     # (B, d, d)


def circulant_interaction(v: torch.Tensor, u: torch.Tensor, mode: str = "row") -> torch.Tensor:
    """Eq. (7)/(8): interact ``v`` through its circulant matrix with ``u``; both (B, d) → (B, d).

    mode ``"row"``: ``out_i = (1/d) Σ_j circ(v)[i, j] · u_j`` (Hadamard of each row with u,
    summed within the row; our reading). mode ``"literal"``: ``(1/d) Σ_i circ(v)[i, :] ⊙ u``
    (the printed sum over rows, = ``mean(v) · u``).
    Vectorised with a gather of the circulant index; the test compares it with a loop.
    """
    if v.dim() != 2 or u.shape != v.shape:
        raise ValueError(f"v and u must both be (B, d), got {tuple(v.shape)} and {tuple(u.shape)}")
    if mode not in CIRCULANT_MODES:
        raise ValueError(f"circulant mode must be one of {CIRCULANT_MODES}, got {mode!r}")
    d = v.shape[1]
    prod = circulant_matrix(v) * u[:, None, :]                          # (B, d, d): row i ⊙ u
    return prod.sum(2) / d if mode == "row" else prod.sum(1) / d        # (B, d)


def circulant_interaction_fft(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The ``"row"`` interaction in O(d log d): ``(1/d) IFFT(conj(FFT v) · FFT u)``; (B, d) → (B, d)."""
    if v.dim() != 2 or u.shape != v.shape:
        raise ValueError(f"v and u must both be (B, d), got {tuple(v.shape)} and {tuple(u.shape)}")
    d = v.shape[1]
    out = torch.fft.irfft(torch.conj(torch.fft.rfft(v.float(), dim=1)) * torch.fft.rfft(u.float(), dim=1),
                          n=d, dim=1)
    return (out / d).to(v.dtype)


# ----------------------------------------------------------------------------- config

@dataclass
class MLCCTConfig:
    audio_dim: int = 768           # Da: audio SSE feature size (TERA base 768; GE2E stand-in 256)
    text_dim: int = 1024           # Ds: text SSE feature size (RoBERTa-large 1024; MiniLM stand-in 384)
    modalities: tuple = ("audio", "text")   # ("audio", "text") multimodal, ("audio",) or ("text",) unimodal
    lstm_hidden: int = 128         # Bi-LSTM hidden size per direction (not given in the paper)
    lstm_layers: int = 1           # stacked Bi-LSTM layers per modality
    d: int = 128                   # projection size of W_a, W_s: A, S in R^d (not given in the paper)
    token_dim: int = 32            # e: features per token after lifting each of the d entries (our reading)
    n_cross: int = 2               # two-stream residual cross-modal blocks (Table 8 chosen row)
    cross_heads: int = 2           # heads of the cross-modal attention (Table 8 chosen row)
    n_self: int = 4                # multi-head self-attention fusion blocks (Table 8 chosen row)
    self_heads: int = 4            # heads of the self-attention blocks (Table 8 chosen row)
    ffn_mult: int = 2              # feed-forward width of every block = ffn_mult * token_dim
    low_level: bool = True         # circulant interaction, Eqs. (7)-(9); False = Table 7 strategy B
    high_level: bool = True        # cross-modal blocks, Eqs. (10)-(11); False = Table 7 strategy A
    circulant: str = "row"         # "row" (our reading) | "literal" (printed sum over rows); see module doc
    input_norm: bool = True        # LayerNorm on every input frame/token before the Bi-LSTM
    dropout: float = 0.1           # dropout in the blocks and before the classifier
    n_classes: int = 4             # output classes


# ----------------------------------------------------------------------------- blocks

class _MHA(nn.Module):
    """Multi-head attention on (B, Tq, e) queries and (B, Tk, e) keys/values via SDPA."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"token_dim {dim} must be divisible by the number of heads {heads}")
        self.h = heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, xq: torch.Tensor, xkv: torch.Tensor) -> torch.Tensor:
        b, tq, e = xq.shape
        split = lambda t: t.view(b, t.shape[1], self.h, e // self.h).transpose(1, 2)  # (B, h, T, e/h)
        # no dropout on the attention weights: on CPU it forces SDPA's slow math path
        out = F.scaled_dot_product_attention(split(self.q(xq)), split(self.k(xkv)), split(self.v(xkv)))
        return self.o(out.transpose(1, 2).reshape(b, tq, e))             # (B, Tq, e)


class _FFN(nn.Sequential):
    def __init__(self, dim: int, mult: int, dropout: float):
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, mult * dim), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(mult * dim, dim), nn.Dropout(dropout))


class CrossModalBlock(nn.Module):
    """Two-stream residual cross-modal transformer block, Eqs. (10)-(11).

    forward(ya, ys): both (B, d, e) → (Y_A, Y_S), both (B, d, e);
    ``Y_A = A + MHA(Q=LN(A), K=V=LN(S))`` and ``Y_S = S + MHA(Q=LN(S), K=V=LN(A))`` from the
    same inputs, each followed by a residual feed-forward layer.
    """

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float):
        super().__init__()
        self.na, self.ns = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.a_from_s, self.s_from_a = _MHA(dim, heads, dropout), _MHA(dim, heads, dropout)
        self.ffa, self.ffs = _FFN(dim, ffn_mult, dropout), _FFN(dim, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, ya: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        na, ns = self.na(ya), self.ns(ys)
        ya2 = ya + self.drop(self.a_from_s(na, ns))                     # Eq. (10)
        ys2 = ys + self.drop(self.s_from_a(ns, na))                     # Eq. (11)
        return ya2 + self.ffa(ya2), ys2 + self.ffs(ys2)


class SelfAttentionBlock(nn.Module):
    """Pre-norm multi-head self-attention block (fusion, Eq. (12)): (B, T, e) → (B, T, e)."""

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.att = _MHA(dim, heads, dropout)
        self.ffn = _FFN(dim, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.norm(x)
        x = x + self.drop(self.att(n, n))
        return x + self.ffn(x)


class _Encoder(nn.Module):
    """One modality's low level: (LayerNorm →) Bi-LSTM → masked mean → (B, 2H)."""

    def __init__(self, dim: int, cfg: MLCCTConfig):
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(dim) if cfg.input_norm else nn.Identity()
        self.lstm = MaskedBiLSTM(dim, cfg.lstm_hidden, cfg.lstm_layers, dropout=cfg.dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        mask = lengths_to_mask(lengths.to(x.device), x.shape[1]) if lengths is not None else None
        h = self.lstm(self.norm(x), lengths)                            # (B, T, 2H), zero on padding
        return masked_mean(h, mask)                                      # (B, 2H)


# ----------------------------------------------------------------------------- model

class MLCCT(nn.Module):
    """Multi-level circulant cross-modal transformer (see the module docstring).

    forward(*inputs): for each modality of ``cfg.modalities``, in order, a feature tensor
    ``(B, T_m, D_m)`` and its lengths ``(B,)`` (or None = no padding). The default
    multimodal model is called ``model(audio, audio_lengths, text, text_lengths)`` with
    audio (B, Ta, audio_dim) and text (B, Ts, text_dim). Returns logits (B, n_classes).
    """

    def __init__(self, cfg: MLCCTConfig):
        super().__init__()
        mods = tuple(cfg.modalities)
        if not mods or len(set(mods)) != len(mods) or any(m not in MODALITY_NAMES for m in mods):
            raise ValueError(f"modalities must be ('audio', 'text'), ('audio',) or ('text',), got {cfg.modalities!r}")
        if cfg.circulant not in CIRCULANT_MODES:
            raise ValueError(f"circulant must be one of {CIRCULANT_MODES}, got {cfg.circulant!r}")
        for name in ("d", "token_dim", "lstm_hidden", "n_classes"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
        self.cfg, self.mods = cfg, mods
        self.multimodal = len(mods) == 2
        dims = {"audio": cfg.audio_dim, "text": cfg.text_dim}
        self.enc = nn.ModuleDict({m: _Encoder(dims[m], cfg) for m in mods})
        # W_a, W_s of Eqs. (7)-(9): Bi-LSTM vector (2H) -> R^d
        self.proj = nn.ModuleDict({m: nn.Linear(2 * cfg.lstm_hidden, cfg.d, bias=False) for m in mods})
        self.vec_norm = nn.ModuleDict({m: nn.LayerNorm(cfg.d) for m in mods})
        # each entry of A / S becomes a token: scalar -> token_dim, plus a position embedding
        self.lift = nn.ModuleDict({m: nn.Linear(1, cfg.token_dim) for m in mods})
        self.pos = nn.ParameterDict({m: nn.Parameter(0.02 * torch.randn(cfg.d, cfg.token_dim)) for m in mods})
        use_cross = self.multimodal and cfg.high_level
        self.cross = nn.ModuleList([CrossModalBlock(cfg.token_dim, cfg.cross_heads, cfg.ffn_mult, cfg.dropout)
                                    for _ in range(cfg.n_cross if use_cross else 0)])
        self.fusion = nn.ModuleList([SelfAttentionBlock(cfg.token_dim, cfg.self_heads, cfg.ffn_mult, cfg.dropout)
                                     for _ in range(cfg.n_self)])
        self.out_norm = nn.LayerNorm(cfg.token_dim)
        self.readout = nn.Linear(cfg.token_dim, 1)                       # W^o: token -> one value
        self.drop = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(len(mods) * cfg.d, cfg.n_classes)            # FC of Eq. (12)

    # -- helpers -------------------------------------------------------------------------
    def _split_inputs(self, inputs: tuple) -> dict:
        if len(inputs) != 2 * len(self.mods):
            names = ", ".join(f"{m}, {m}_lengths" for m in self.mods)
            raise ValueError(f"MLCCT with modalities {self.mods} takes ({names}); got {len(inputs)} inputs")
        out, batch = {}, None
        dims = {"audio": self.cfg.audio_dim, "text": self.cfg.text_dim}
        for k, m in enumerate(self.mods):
            x, lengths = inputs[2 * k], inputs[2 * k + 1]
            if not torch.is_tensor(x) or x.dim() != 3 or x.shape[-1] != dims[m]:
                raise ValueError(f"{m} must be (B, T, {dims[m]}), got "
                                 f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")
            if lengths is not None and (lengths.dim() != 1 or lengths.shape[0] != x.shape[0]):
                raise ValueError(f"{m}_lengths must be ({x.shape[0]},), got {tuple(lengths.shape)}")
            if batch is not None and x.shape[0] != batch:
                raise ValueError(f"batch sizes differ between modalities: {batch} vs {x.shape[0]} ({m})")
            batch = x.shape[0]
            out[m] = (x.float(), lengths)
        return out

    def vectors(self, *inputs) -> dict:
        """Low level: ``{modality: (B, d)}`` — A and S after the circulant interaction
        (or the plain projections when ``low_level`` is off or the model is unimodal)."""
        xs = self._split_inputs(inputs)
        proj = {m: self.proj[m](self.enc[m](*xs[m])) for m in self.mods}   # W_a a, W_s s: (B, d)
        if self.multimodal and self.cfg.low_level:
            va, vs = proj["audio"], proj["text"]
            proj = {"audio": circulant_interaction(va, vs, self.cfg.circulant),   # Eq. (7): A
                    "text": circulant_interaction(vs, va, self.cfg.circulant)}    # Eq. (8): S
        return proj

    def forward(self, *inputs) -> torch.Tensor:
        vec = self.vectors(*inputs)
        tok = {m: self.lift[m](self.vec_norm[m](vec[m])[..., None]) + self.pos[m]
               for m in self.mods}                                       # (B, d, e) each
        if self.cross:
            ya, ys = tok["audio"], tok["text"]
            for blk in self.cross:
                ya, ys = blk(ya, ys)                                     # Eqs. (10)-(11)
            tok = {"audio": ya, "text": ys}
        z = torch.cat([tok[m] for m in self.mods], dim=1)                # Eq. (13): (B, M*d, e)
        for blk in self.fusion:
            z = blk(z)                                                   # (B, M*d, e)
        z = self.readout(self.out_norm(z)).squeeze(-1)                   # (B, M*d)
        return self.fc(self.drop(z))                                     # (B, n_classes)


# ----------------------------------------------------------------------------- presets

#: Table 7 strategies: which interaction levels the model keeps (C also changes the inputs)
ABLATIONS = {
    "A": dict(low_level=True, high_level=False),
    "B": dict(low_level=False, high_level=True),
    "C": dict(low_level=True, high_level=True),     # no SSE: the chapter feeds log-mel + static embeddings
    "D": dict(low_level=True, high_level=True),
}

#: Table 8 rows as printed: (cross-modal blocks, self-attention blocks, cross-modal heads, self-attention heads)
TABLE8_GRID = [(1, 1, 1, 1), (1, 1, 2, 4), (2, 4, 1, 1), (2, 4, 2, 4), (2, 4, 4, 8), (4, 8, 2, 4), (4, 8, 4, 8)]


def table8_overrides(row) -> dict:
    """Config overrides of one Table 8 row ``(n_cross, n_self, cross_heads, self_heads)``."""
    n_cross, n_self, ch, sh = (int(v) for v in row)
    return dict(n_cross=n_cross, n_self=n_self, cross_heads=ch, self_heads=sh)


def table8_label(row) -> str:
    """The reference-CSV row name of a Table 8 setting."""
    n_cross, n_self, ch, sh = (int(v) for v in row)
    return (f"cross-modal blocks={n_cross}, self-attention blocks={n_self}, "
            f"cross-modal heads={ch}, self-attention heads={sh}")


# the paper's setting: TERA (768) + RoBERTa-large (1024), Table 8's chosen row, 4 IEMOCAP classes
register("mlcct", MLCCT, MLCCTConfig())
register("mlcct_audio", MLCCT, MLCCTConfig(modalities=("audio",)))
register("mlcct_text", MLCCT, MLCCTConfig(modalities=("text",)))
register("mlcct_meld", MLCCT, MLCCTConfig(n_classes=7))
register("mlcct_mosei", MLCCT, MLCCTConfig(n_classes=6))
for _k in "ABD":
    register(f"mlcct_mosei_{_k}", MLCCT, MLCCTConfig(n_classes=6, **ABLATIONS[_k]))
# offline stand-ins: GE2E frame states (256) + MiniLM tokens (384), small enough for 2 CPU cores
register("mlcct_small", MLCCT, MLCCTConfig(audio_dim=256, text_dim=384, lstm_hidden=64, d=32, token_dim=16))
