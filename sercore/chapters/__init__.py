"""Chapter orchestration: what each paper notebook calls, one module per paper.

A notebook stays thin (parameters, then one call per stage); the stages that are
specific to one paper — its ablation grid, its efficiency table, its k-shot curve —
live in ``sercore/chapters/<paper>.py`` so they are importable, tested and reused
by the leaderboard.

Every chapter module exposes the same two entry points:

- ``run(P, corpus) -> sercore.results.ChapterResult``: everything its notebook measures, from
  the run's resolved parameters ``P`` (:func:`sercore.runs.resolve`) and the prepared corpus;
- ``method(P, have) -> Method``: the paper's model as the leaderboard trains it on a shared
  split. :class:`Method` is the contract between a chapter and :mod:`sercore.leaderboard`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..train import TrainConfig

#: modalities a method may need; a corpus provides ``audio`` always, ``text`` when its
#: manifest has transcripts, ``video`` when it has a ``video`` column.
MODALITIES = ("audio", "text", "video")


@dataclass
class Method:
    """One method as the leaderboard trains it on someone else's folds.

    features(manifest) must return one entry per manifest row in the form
    :class:`sercore.train.FeatureDataset` accepts (arrays, segment stacks when
    ``segmented``, or dicts of arrays whose keys ``train.inputs`` names).
    build(n_classes) returns a fresh, untrained model.
    run_cv, when set, replaces :func:`sercore.train.cross_validate` (same
    signature and return type) for methods with their own schedule (two-stage
    training); leave it ``None`` otherwise.
    """

    name: str                                   # row name on the leaderboard, e.g. "CTMAM"
    paper: str                                  # chapter key (sercore.PAPERS) or "baseline"
    modalities: tuple                           # subset of MODALITIES the method consumes
    features: Callable                          # manifest (DataFrame) -> per-row features
    build: Callable                             # n_classes -> nn.Module
    train: TrainConfig = field(default_factory=TrainConfig)  # epochs, batch size, optimiser, inputs
    segmented: bool = False                     # features are segment stacks; predictions averaged per utterance
    run_cv: Callable | None = None              # optional replacement for train.cross_validate
    note: str = ""                              # deviations from the paper in this setting (encoder stand-ins...)

    def __post_init__(self):
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise ValueError(f"{self.name}: modalities must be a non-empty subset of {MODALITIES}, got {self.modalities}")


def method(paper: str, P: dict, have: Sequence[str] = MODALITIES) -> Method:
    """The leaderboard :class:`Method` of chapter ``paper``: ``sercore.chapters.<paper>.method(P, have)``.

    ``P`` is the chapter's resolved parameters (:func:`sercore.runs.resolve`) with the leaderboard's
    shared settings applied; ``have`` the modalities the corpus offers (:func:`sercore.data.modalities`),
    which a chapter adapts to where its paper allows (unimodal variants, audio-only mode).
    """
    return importlib.import_module(f"{__name__}.{paper}").method(P, have=tuple(have))
