"""Parameters of the MCWSA-CMHA chapter (``params/mcwsa_cmha/*.yaml``, ``book/mcwsa_cmha.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Paper
from .common import TrainingParams, param

#: the paper's Table II/III columns, in its order (also the chapter's)
COLUMNS = ("A+V", "A+T", "V+T", "A+V+T (NP)", "A+V+T")


#: the paper, declared once (sercore.registry): its key, the corpora and modalities of its reported numbers
PAPER = Paper(key="mcwsa_cmha", chapter="sercore.chapters.mcwsa_cmha", order=4,
              title="Multi-channel Weight-sharing Autoencoder Based on Cascade Multi-head Attention (Zheng et "
                    "al.)",
              corpora=("iemocap", "msp_improv", "mnist"), modalities=("audio", "text", "video"))


@dataclass(kw_only=True, eq=False)
class Params(TrainingParams):
    modalities: list[str] = param("wanted; the corpus may offer fewer", choices=("audio", "text", "video"))
    video: str = param("randproj | gradproj (offline stand-ins) | resnet (torchvision + video_weights)",
                       "randproj", choices=("randproj", "gradproj", "resnet"))
    video_weights: str | None = param("ImageNet ResNet-50 state_dict file (for video: resnet)", None)
    word2vec: str | None = param("gensim KeyedVectors file (300-d word2vec); None: MiniLM stand-in", None)
    pretrain_epochs: int = param("stage 1 (reconstruction) epochs; paper up to 200", ge=1)
    latent_dim: int | None = param("model widths; None: the paper preset (32 x 300 latent, dropout 0.5)", None,
                                   ge=1)
    heads: int | None = param("attention heads (None: paper)", None, ge=1)
    audio_channels: int | None = param("audio encoder channels (None: paper)", None, ge=1)
    video_hidden: int | None = param("video encoder width (None: paper)", None, ge=1)
    text_layers: int | None = param("text encoder layers (None: paper)", None, ge=1)
    text_ff: int | None = param("text encoder feed-forward width (None: paper)", None, ge=1)
    head_hidden: int | None = param("classifier hidden width (None: paper)", None, ge=1)
    tfn_rank: int | None = param("TFN baseline rank (None: paper)", None, ge=1)
    dropout: float | None = param("dropout (None: paper)", None, ge=0, lt=1)
    reference_dataset: str = param("the paper's column our numbers sit beside", choices=("iemocap", "msp_improv"))
    table2_fusions: list[str] = param("Table II fusions", ["cmha", "mult", "concat", "tfn"],
                                      choices=("cmha", "mult", "concat", "tfn"))
    table2_columns: list[str] = param("Table II columns (paper: all five)", choices=COLUMNS)
    table3_extractors: list[str] = param("Table III video extractors", choices=("randproj", "gradproj", "resnet"))
    table3_columns: list[str] = param("Table III columns", choices=COLUMNS)
    tsne_perplexity: float = param("t-SNE perplexity (Figs. 5, 7)", 30.0, gt=0)
    mine_steps: int = param("MINE optimiser steps (Fig. 8)", ge=1)
    dcca_steps: int = param("DCCA optimiser steps (Fig. 9)", ge=1)
    digits_epochs: int = param("epochs of the digits check (Fig. 6)", ge=1)
    digits_train: int = param("training images of the digits check", ge=1)
