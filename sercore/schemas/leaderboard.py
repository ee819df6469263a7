"""Parameters of the leaderboard (``params/leaderboard/*.yaml``, ``book/leaderboard.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from .common import CorpusParams, param

METHODS = ("baselines", "ctmam", "ca_ser", "mlcct", "mcwsa_cmha", "mdat")


@dataclass(kw_only=True)
class Params(CorpusParams):
    methods: list[str] = param("methods on the board: baselines and chapter keys", list(METHODS), choices=METHODS)
    seeds: list[int] = param("training seeds (at least 3 on quick and paper)", ge=0)
    epochs: int | None = param("one shared epoch budget for every method (None: each chapter's own)", ge=1)
    baseline_epochs: int = param("epochs of the baselines when epochs is None", ge=1)
