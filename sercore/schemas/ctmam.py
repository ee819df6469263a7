"""Parameters of the CTMAM chapter (``params/ctmam/*.yaml``, ``book/ctmam.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Paper
from .common import TrainingParams, param

ABLATIONS = ("no_tsa", "no_lstm", "no_lct", "conv_lct", "no_ca", "no_se")
EFFICIENCY = ("convffn_l", "convffn_s", "transformer", "mobilevit1_d2", "mobilevit1_d3", "mobilevit2_d2",
              "mobilevit2_d3", "mobilevit3_d2", "mobilevit3_d3")


#: the paper, declared once (sercore.registry): its key, the corpora and modalities of its reported numbers
PAPER = Paper(key="ctmam", chapter="sercore.chapters.ctmam", order=1,
              title="Speech Emotion Recognition via CNN-Transformer and Multidimensional Attention Mechanism "
                    "(Tang et al.)",
              corpora=("iemocap", "emodb"), modalities=("audio",))


@dataclass(kw_only=True, eq=False)
class Params(TrainingParams):
    model: str = param("ctmam (IEMOCAP release: depth 3, 2 heads) | ctmam_emodb (Emo-DB release: depth 1, "
                       "1 head)", choices=("ctmam", "ctmam_emodb"))
    mixup_alpha: float = param("mixup Beta(alpha, alpha); 0 turns mixup off (paper: 0.2)", ge=0)
    lr_gamma: float = param("learning rate x gamma per epoch (paper: 0.95)", gt=0, le=1)
    lr_min: float = param("floor of the decayed learning rate (paper: 1e-6)", ge=0)
    max_segments: int | None = param("at most this many evenly spaced segments per utterance "
                                     "(None: all, as in the paper)", None, ge=1)
    ablations: list[str] = param("Table V variants trained beside the proposed model", [], choices=ABLATIONS)
    efficiency: list[str] = param("Table VI variants trained (parameter counts are always listed)", [],
                                  choices=EFFICIENCY)
    report_test_selection: bool = param("also evaluate the test set after every epoch, only to report what "
                                        "choosing the best epoch on the test set gives (the authors' "
                                        "train_Emodb.py practice); the headline stays the last epoch", False)
    checkpoint: bool = param("checkpoint every epoch beside the results folder and resume a killed run", False)
