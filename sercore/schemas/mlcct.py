"""Parameters of the MLCCT chapter (``params/mlcct/*.yaml``, ``book/mlcct.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Paper
from .common import TrainingParams, param


#: the paper, declared once (sercore.registry): its key, the corpora and modalities of its reported numbers
PAPER = Paper(key="mlcct", chapter="sercore.chapters.mlcct", order=3,
              title="A Multi-Level Circulant Cross-Modal Transformer for Multimodal Speech Emotion "
                    "Recognition (Gong et al.)",
              corpora=("iemocap", "meld", "mosei"), modalities=("audio", "text"))


@dataclass(kw_only=True, eq=False)
class Params(TrainingParams):
    reference_dataset: str = param("the paper's tables the main numbers sit beside",
                                   choices=("iemocap", "meld", "mosei"))
    modalities: list[str] = param("used when the corpus has them (the rest are left out)", choices=("audio", "text"))
    audio_feature: str = param("ge2e (offline TERA stand-in) | ssl (audio_model)", choices=("ge2e", "ssl"))
    audio_model: str | None = param("HF audio encoder name or folder (audio_feature: ssl)", None)
    audio_layer: int | None = param("encoder layer of the audio frame states (None: the last)", None)
    audio_pool: int = param("average this many consecutive audio frames", 1, ge=1)
    audio_max_s: float | None = param("clip audio to this many seconds (None: whole utterance)", None, gt=0)
    text_feature: str = param("minilm (offline RoBERTa stand-in) | text (text_model)", choices=("minilm", "text"))
    text_model: str | None = param("HF text encoder name or folder (text_feature: text)", None)
    text_layer: int | None = param("encoder layer of the token states (None: the last)", None)
    preset: str = param("sercore.models preset; the paper-sized ones are mlcct, mlcct_meld, mlcct_mosei",
                        choices=("mlcct_small", "mlcct", "mlcct_meld", "mlcct_mosei"))
    optimizer: str = param("adamw | adam", "adamw", choices=("adamw", "adam"))
    clip_norm: float | None = param("max global gradient norm (None: no clipping)", 1.0, gt=0)
    unimodal: bool = param("also train audio-only and text-only models (multimodal corpora)", True)
    ablations: list[str] = param("Table 7 strategies besides D (the main model)", [], choices=("A", "B", "C"))
    table8_rows: list[int] = param("indices into Table 8's rows; 3 is the chosen 2/4/2/4 (the main model)", [],
                                   ge=0, le=6)
