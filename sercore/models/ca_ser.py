"""CA-SER: Cross-Attention Feature Fusion for Speech Emotion Recognition (Deeb, Savchenko, Makarov).

Two views of one utterance meet in a transformer-decoder-style cross-attention:

- **SSL branch**: the hidden states of the 9th transformer layer of wav2vec 2.0 base
  (``hidden_states[9]``, 768-d, ~50 frames/s), ``tanh`` to re-scale them, then a linear layer
  to ``d_model``.
- **MFCC branch** (the paper's Feature Encoder Module): 40 MFCCs every 10 ms → BiLSTM (hidden
  256 per direction) → linear to ``d_model`` → sinusoidal positions → self-attention encoder.
- **Fusion** (Feature Fusion Module): multi-head cross-attention with the MFCC frames as queries
  and the SSL frames as keys/values, add & norm, then a two-layer feed-forward network with
  GELU, add & norm: ``r`` ``(B, T_m, d_model)``.
- **Classifier**: global average pooling of ``r`` over the real MFCC frames, linear layer.

Two modes (:class:`CASERConfig.mode`), both complete models:

- ``"frozen"``: the encoder is not part of the model; its frame states are precomputed through
  the shared feature cache (``ssl`` extractor with ``layer=9``, or the offline GE2E stand-in).
  ``forward(ssl, ssl_lengths, mfcc, mfcc_lengths)`` with ``ssl`` ``(B, T_w, ssl_dim)``.
- ``"finetune"`` (the paper's): the model owns a Hugging Face encoder
  (``AutoModel.from_pretrained(encoder)``) and takes raw 16 kHz waveforms;
  ``forward(wave, wave_lengths, mfcc, mfcc_lengths)`` with ``wave`` ``(B, T_samples)``.
  The waveform is normalised to zero mean and unit variance over its real samples (what
  wav2vec 2.0's feature extractor does), ``hidden_states[ssl_layer]`` is selected, and the
  CNN feature encoder is frozen by default (the authors' release does the same). SpecAugment and
  LayerDrop are switched off: with LayerDrop, transformers collects ``hidden_states`` only from the
  layers that ran, so index 9 would drift to a higher layer whenever a lower one is dropped.

The two sequences have different frame rates (wav2vec 2.0: 20 ms; MFCC: 10 ms; GE2E: 10 ms), so
both lengths travel to where they matter: SSL lengths give the cross-attention key padding mask,
MFCC lengths the self-attention padding mask and the pooling mask. Padding never reaches the
pooled vector: a batched forward equals per-sample forwards in ``eval()`` (tested; in finetune
mode exactly so for encoders with a layer-normalised CNN, while wav2vec2-base's group-normalised
CNN sees the padded zeros, as in every Hugging Face batched run without attention-mask support).

Readings
--------
- **Sizes the paper leaves open** come from the authors' public release (`BasharBetta7/SER`): 2 BiLSTM
  layers (hidden 256 per direction, as the paper says), *d* = 512, 3 self-attention blocks (4 heads,
  feed-forward 1024), 8 cross-attention heads over a 256-d attention space projected back to *d*, a
  fusion feed-forward of 1024, and per-frame L2 normalisation of the MFCC vector.
- **Not used**: the release's auxiliary MFCC-branch loss, focal loss and max pooling, which the paper
  does not describe (the paper: global average pooling, cross-entropy).
- **"Early stopping on the weighted accuracy"** is read as keeping the epoch with the best validation WA;
  `patience` (off by default) also stops training early.
- **Validation data**: the paper names none; each fold validates on whole held-out speakers of its
  training part.
- **Short and long utterances**: 16 kHz, clipped after 8 s; shorter than 3 s, extended by repeating the
  utterance (the paper's "concatenating the audio until it reaches 3 seconds"). Both branches see the
  same prepared waveform.
- **Fine-tuning**: the wav2vec 2.0 CNN feature encoder stays frozen (as in the release); SpecAugment and
  LayerDrop are off, because with LayerDrop `hidden_states[9]` would drift to a higher layer whenever a
  lower one is dropped.
- **"About 108 M parameters"** is read as the head plus wav2vec 2.0 base; built from wav2vec 2.0 base's
  configuration (random weights, nothing downloaded) our reading counts 105.1 M.
- **Offline stand-in for wav2vec 2.0** (`encoder: null`): where no wav2vec 2.0 checkpoint can be loaded,
  the SSL branch reads the GE2E speaker encoder shipped with Resemblyzer, frozen, LSTM layer 2 of 3
  (`ge2e_layer`; 256-d, one frame per 10 ms) — a middle layer standing in for wav2vec 2.0 base's layer 9
  of 12. It is a pretrained *speaker-verification* network, not a self-supervised model, and every number
  it produces is labelled with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import MaskedBiLSTM, lengths_to_mask, masked_mean
from . import register

WAV2VEC2_BASE = "facebook/wav2vec2-base"


@dataclass
class CASERConfig:
    mode: str = "frozen"                 # frozen: input = precomputed SSL states; finetune: input = waveform
    encoder: str | None = None           # finetune: HF name or folder for AutoModel.from_pretrained
    ssl_layer: int = 9                   # finetune: hidden_states[k] (k-th transformer layer's output)
    freeze_feature_encoder: bool = True  # finetune: keep the wav2vec 2.0 CNN frozen (authors' release)
    ssl_dim: int = 768                   # frozen: feature size of the SSL states (768 wav2vec2-base, 256 GE2E)
    n_mfcc: int = 40                     # MFCC coefficients per 10 ms frame
    mfcc_norm: str = "l2"                # l2: unit-norm each MFCC frame (authors' release); none
    lstm_hidden: int = 256               # BiLSTM hidden size per direction (paper: 256)
    lstm_layers: int = 2                 # stacked BiLSTM layers (paper silent; release: 2)
    d_model: int = 512                   # width d of both branches and of the fused representation
    sa_layers: int = 3                   # self-attention encoder blocks on the MFCC branch
    sa_heads: int = 4                    # heads of each self-attention block
    sa_ff: int = 1024                    # feed-forward width inside each self-attention block
    ca_heads: int = 8                    # cross-attention heads (MFCC queries, SSL keys/values)
    ca_dim: int = 256                    # cross-attention inner width (projected back to d_model)
    ffn_dim: int = 1024                  # the fusion's two-layer GELU feed-forward width
    dropout: float = 0.1                 # dropout in the attention blocks and before the classifier
    n_classes: int = 4                   # emotion classes

    def __post_init__(self):
        if self.mode not in ("frozen", "finetune"):
            raise ValueError(f"mode must be 'frozen' or 'finetune', got {self.mode!r}")
        if self.mfcc_norm not in ("l2", "none"):
            raise ValueError(f"mfcc_norm must be 'l2' or 'none', got {self.mfcc_norm!r}")
        for name, dim, heads in (("d_model/sa_heads", self.d_model, self.sa_heads),
                                 ("ca_dim/ca_heads", self.ca_dim, self.ca_heads)):
            if dim % heads:
                raise ValueError(f"{name}: {dim} is not divisible by {heads} heads")


def sinusoidal_positions(t: int, d: int, device=None) -> torch.Tensor:
    """Transformer sine/cosine positions ``(t, d)``."""
    pos = torch.arange(t, dtype=torch.float32, device=device)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / d))
    pe = torch.zeros(t, d, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe


class CrossAttentionBlock(nn.Module):
    """Transformer-decoder cross-attention: queries from ``x``, keys/values from ``mem``.

    forward(x, mem, mem_mask): x (B, T_q, d), mem (B, T_k, d), mem_mask (B, T_k) bool
    (True = real frame) → (B, T_q, d). Post-norm: ``LN(x + attn)``, then ``LN(h + FFN(h))``
    with a two-layer GELU feed-forward network. Dropout acts on the residual branches, not on the
    attention weights. Set ``keep_attention`` to keep the weights of the next call in ``last_attention``.
    """

    def __init__(self, d: int, heads: int, inner: int, ffn: int, dropout: float):
        super().__init__()
        self.heads, self.inner = heads, inner
        self.q, self.k, self.v = nn.Linear(d, inner), nn.Linear(d, inner), nn.Linear(d, inner)
        self.out = nn.Linear(inner, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, d))
        self.drop = nn.Dropout(dropout)
        self.keep_attention = False                        # True: store the weights in last_attention
        self.last_attention: torch.Tensor | None = None   # (B, heads, T_q, T_k) of the last call

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.inner // self.heads).transpose(1, 2)   # (B, h, T, dh)

    def forward(self, x: torch.Tensor, mem: torch.Tensor, mem_mask: torch.Tensor | None = None):
        q, k, v = self._split(self.q(x)), self._split(self.k(mem)), self._split(self.v(mem))
        keep = None if mem_mask is None else mem_mask[:, None, None, :]         # (B, 1, 1, T_k)
        if self.keep_attention:
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])            # (B, h, T_q, T_k)
            if keep is not None:
                scores = scores.masked_fill(~keep, float("-inf"))
            attn = scores.softmax(-1)
            self.last_attention = attn.detach()
            ctx = attn @ v                                                        # (B, h, T_q, dh)
        else:   # fused kernel; no dropout on the attention weights (it costs more than the attention)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)        # (B, h, T_q, dh)
        ctx = ctx.transpose(1, 2).reshape(x.shape[0], x.shape[1], self.inner)   # (B, T_q, inner)
        h = self.ln1(x + self.drop(self.out(ctx)))                                # (B, T_q, d)
        return self.ln2(h + self.drop(self.ffn(h)))                               # (B, T_q, d)


class CASER(nn.Module):
    """CA-SER (see the module docstring).

    forward(ssl_or_wave, ssl_lengths, mfcc, mfcc_lengths, return_embedding=False):

    - frozen mode: ``ssl_or_wave`` (B, T_w, ssl_dim) SSL states, ``ssl_lengths`` (B,) frames;
    - finetune mode: ``ssl_or_wave`` (B, T_samples) 16 kHz waveforms, ``ssl_lengths`` (B,) samples;
    - ``mfcc`` (B, T_m, n_mfcc), ``mfcc_lengths`` (B,) frames. Lengths may be ``None`` (no padding).

    Returns logits (B, n_classes), or ``(logits, embedding (B, d_model))`` with
    ``return_embedding`` (the pooled utterance representation the paper's tool exports).
    """

    def __init__(self, cfg: CASERConfig, encoder: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg
        self.encoder = None
        ssl_dim = cfg.ssl_dim
        if cfg.mode == "finetune":
            if encoder is None:
                if not cfg.encoder:
                    raise ValueError("finetune mode needs cfg.encoder (a Hugging Face name or folder, "
                                     f"e.g. {WAV2VEC2_BASE!r}) or an encoder module")
                from transformers import AutoModel
                encoder = AutoModel.from_pretrained(cfg.encoder)
            self.encoder = encoder
            ecfg = encoder.config
            if hasattr(ecfg, "apply_spec_augment"):
                ecfg.apply_spec_augment = False           # the authors' release turns SpecAugment off
            if getattr(ecfg, "layerdrop", 0.0):
                # LayerDrop skips random layers in training; transformers records hidden_states from the
                # layers that ran, so hidden_states[9] would silently become a higher layer's output
                ecfg.layerdrop = 0.0
            n_layers = int(ecfg.num_hidden_layers)
            if not 0 <= cfg.ssl_layer <= n_layers:
                raise ValueError(f"ssl_layer must be in 0..{n_layers} for this encoder "
                                 f"({n_layers} transformer layers), got {cfg.ssl_layer}")
            ssl_dim = int(ecfg.hidden_size)
            if cfg.freeze_feature_encoder and hasattr(encoder, "feature_extractor"):
                for p in encoder.feature_extractor.parameters():
                    p.requires_grad = False
        self.ssl_dim = ssl_dim
        self.ssl_proj = nn.Linear(ssl_dim, cfg.d_model)
        self.lstm = MaskedBiLSTM(cfg.n_mfcc, cfg.lstm_hidden, cfg.lstm_layers, dropout=cfg.dropout)
        self.mfcc_proj = nn.Linear(2 * cfg.lstm_hidden, cfg.d_model)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.sa_heads, cfg.sa_ff, cfg.dropout,
                                           activation="gelu", batch_first=True)
        layer.self_attn.dropout = 0.0        # dropout on residual branches only, not on the (T, T) weights
        self.self_attn = nn.TransformerEncoder(layer, cfg.sa_layers, enable_nested_tensor=False)
        self.fusion = CrossAttentionBlock(cfg.d_model, cfg.ca_heads, cfg.ca_dim, cfg.ffn_dim, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)

    # ---------------------------------------------------------------- SSL states
    def encode_waveform(self, wave: torch.Tensor, lengths: torch.Tensor | None):
        """Finetune mode: waveforms (B, T) → (hidden_states[ssl_layer] (B, T_w, H), frame lengths (B,))."""
        if wave.dim() != 2:
            raise ValueError(f"finetune mode expects waveforms (B, T_samples), got {tuple(wave.shape)}")
        b, t = wave.shape
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long, device=wave.device)
        lengths = lengths.to(wave.device)
        mask = lengths_to_mask(lengths, t)                                       # (B, T)
        m = mask.to(wave.dtype)
        n = m.sum(1, keepdim=True).clamp_min(1.0)
        mean = (wave * m).sum(1, keepdim=True) / n
        var = (((wave - mean) * m) ** 2).sum(1, keepdim=True) / n
        x = (wave - mean) / torch.sqrt(var + 1e-7) * m                           # zero on padding
        out = self.encoder(x, attention_mask=mask.long(), output_hidden_states=True)
        states = out.hidden_states[self.cfg.ssl_layer]                           # (B, T_w, H)
        frames = self.encoder._get_feat_extract_output_lengths(lengths).long().clamp(1, states.shape[1])
        return states, frames

    # ---------------------------------------------------------------- forward
    def forward(self, ssl_or_wave: torch.Tensor, ssl_lengths: torch.Tensor | None,
                mfcc: torch.Tensor, mfcc_lengths: torch.Tensor | None = None,
                return_embedding: bool = False):
        cfg = self.cfg
        if mfcc.dim() != 3 or mfcc.shape[-1] != cfg.n_mfcc:
            raise ValueError(f"mfcc must be (B, T_m, {cfg.n_mfcc}), got {tuple(mfcc.shape)}")
        if ssl_or_wave.shape[0] != mfcc.shape[0]:
            raise ValueError(f"SSL input and MFCC batch sizes differ: {ssl_or_wave.shape[0]} vs {mfcc.shape[0]}")
        if cfg.mode == "finetune":
            ssl, ssl_lengths = self.encode_waveform(ssl_or_wave, ssl_lengths)
        else:
            ssl = ssl_or_wave
            if ssl.dim() != 3 or ssl.shape[-1] != self.ssl_dim:
                raise ValueError(f"frozen mode expects SSL states (B, T_w, {self.ssl_dim}), got {tuple(ssl.shape)}")
        b, t_w, _ = ssl.shape
        t_m = mfcc.shape[1]
        dev = mfcc.device
        ssl_mask = lengths_to_mask(ssl_lengths.to(dev), t_w) if ssl_lengths is not None else \
            torch.ones(b, t_w, dtype=torch.bool, device=dev)                      # (B, T_w)
        mfcc_mask = lengths_to_mask(mfcc_lengths.to(dev), t_m) if mfcc_lengths is not None else \
            torch.ones(b, t_m, dtype=torch.bool, device=dev)                      # (B, T_m)

        x_w = self.ssl_proj(torch.tanh(ssl.float()))                              # (B, T_w, d)

        x_m = F.normalize(mfcc, dim=-1) if cfg.mfcc_norm == "l2" else mfcc         # (B, T_m, n_mfcc)
        x_m = self.lstm(x_m, mfcc_mask.sum(1))                                    # (B, T_m, 2H)
        x_m = self.mfcc_proj(x_m) + sinusoidal_positions(t_m, cfg.d_model, dev)   # (B, T_m, d)
        x_m = self.self_attn(x_m, src_key_padding_mask=~mfcc_mask)                # (B, T_m, d)

        r = self.fusion(x_m, x_w, ssl_mask)                                       # (B, T_m, d)
        emb = masked_mean(r, mfcc_mask)                                           # (B, d)
        logits = self.head(self.drop(emb))                                        # (B, K)
        return (logits, emb) if return_embedding else logits

    def head_parameters(self) -> int:
        """Parameters outside the SSL encoder (the part trained in frozen mode)."""
        enc = {id(p) for p in self.encoder.parameters()} if self.encoder is not None else set()
        return sum(p.numel() for p in self.parameters() if id(p) not in enc)


register("ca_ser", CASER, CASERConfig())                                       # frozen, wav2vec2-base layer-9 states
register("ca_ser_ge2e", CASER, CASERConfig(ssl_dim=256))                       # frozen, GE2E stand-in states
register("ca_ser_finetune", CASER, CASERConfig(mode="finetune", encoder=WAV2VEC2_BASE))  # the paper's setting
