"""Parameters of the CA-SER chapter (``params/ca_ser/*.yaml``, ``book/ca_ser.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Paper
from .common import TrainingParams, param


#: the paper, declared once (sercore.registry): its key, the corpora and modalities of its reported numbers
PAPER = Paper(key="ca_ser", chapter="sercore.chapters.ca_ser", order=2,
              title="CA-SER: Cross-Attention Feature Fusion for Speech Emotion Recognition (Deeb et al.)",
              corpora=("iemocap",), modalities=("audio",))


@dataclass(kw_only=True, eq=False)
class Params(TrainingParams):
    protocols: list[str] | None = param("Table 1 loso (CV-5, sessions), Table 2 loso_speaker (CV-10, speakers); "
                                        "includes `protocol` (None: protocol alone, as a manifest corpus runs)",
                                        choices=("loso", "loso_speaker"))
    mode: str = param("frozen: SSL states from the feature cache | finetune: train the encoder (GPU)",
                      choices=("frozen", "finetune"))
    encoder: str | None = param("None: offline GE2E stand-in; else a HF wav2vec 2.0 name or folder", None)
    ssl_layer: int = param("hidden_states[ssl_layer] of the HF encoder (the paper: 9)", 9, ge=0)
    ge2e_layer: int = param("LSTM layer of the GE2E stand-in (1..3)", 2, ge=1, le=3)
    n_mfcc: int = param("MFCCs of the MFCC branch (paper: 40)", 40, ge=1)
    max_s: float = param("clip longer utterances (seconds; paper 8)", gt=0)
    min_s: float = param("extend shorter ones by repetition (seconds)", gt=0)
    lstm_hidden: int = param("BiLSTM units per direction (paper: 256)", ge=1)
    lstm_layers: int = param("BiLSTM layers (authors' release: 2)", ge=1)
    d_model: int = param("width of both branches (authors' release: 512)", ge=1)
    sa_layers: int = param("self-attention blocks of the MFCC branch", ge=1)
    sa_heads: int = param("their heads", ge=1)
    sa_ff: int = param("their feed-forward width", ge=1)
    ca_heads: int = param("cross-attention heads", ge=1)
    ca_dim: int = param("cross-attention width", ge=1)
    ffn_dim: int = param("feed-forward width after the fusion", ge=1)
    dropout: float = param("dropout", 0.1, ge=0, lt=1)
    grad_accum: int = param("micro-batches per optimiser step (paper: 4)", 1, ge=1)
    patience: int | None = param("None: keep the best epoch on validation WA, no early stop", None, ge=1)
    demo_files: int = param("held-out files the demo tool classifies", 6, ge=1)
    checkpoint: bool = param("checkpoint every epoch of every fold beside the results folder and resume a "
                             "killed run", False)

    def __post_init__(self):
        if self.protocols is not None and self.protocol not in self.protocols:
            raise ValueError(f"key 'protocol': expected one of protocols {self.protocols} (the headline is "
                             f"one of the runs), got {self.protocol!r}")
        if self.mode == "finetune" and not self.encoder:
            raise ValueError("key 'encoder': expected a Hugging Face wav2vec 2.0 name or folder with mode "
                             "finetune (e.g. facebook/wav2vec2-base), got null")
        if self.min_s > self.max_s:
            raise ValueError(f"key 'min_s': expected at most max_s ({self.max_s}), got {self.min_s}")
