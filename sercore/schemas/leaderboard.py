"""Parameters of the leaderboard (``params/leaderboard/*.yaml``, ``book/leaderboard.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from .common import CorpusParams, param

METHODS = ("baselines", "ctmam", "ca_ser", "mlcct", "mcwsa_cmha", "mdat")


@dataclass(kw_only=True, eq=False)
class Params(CorpusParams):
    methods: list[str] = param("methods on the board: baselines and chapter keys", list(METHODS), choices=METHODS)
    seeds: list[int] = param("training seeds (at least 3 on quick and paper)", ge=0)
    epochs: int | None = param("one shared epoch budget for every method, capping its pre-training and fine-tuning "
                              "epochs too (None: each chapter's own)", ge=1)
    baseline_epochs: int = param("epochs of the baselines when epochs is None", ge=1)
    encoder: str | None = param("a Hugging Face wav2vec 2.0 name or folder for the methods whose params name "
                                "one (CA-SER's paper profile fine-tunes facebook/wav2vec2-base); None: each "
                                "chapter's own", None)
