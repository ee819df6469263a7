"""Typed schemas of every run's parameters: one dataclass per paper (and the leaderboard).

``params/<paper>/_base.yaml`` (a paper's recipe) and ``params/<paper>/<dataset>.yaml`` are the
places where a run's values are written; :func:`sercore.runs.resolve` merges them, then the top
level with one profile's section, and validates the result against the paper's schema before any
data is read. A schema says
which keys exist, their types, their ranges and what each one means (``help``); it
holds no per-profile value.

Each paper's (or study's) module also declares it: ``PAPER = Paper(...)`` (its key, the corpora and
modalities of its reported numbers, its chapter; :mod:`sercore.registry`), so the list of papers is
derived from these modules. This package imports nothing heavy (no torch), so the command line can
refuse bad parameters at once.
"""
from __future__ import annotations

import importlib

from .common import ParamsError, RunParams, describe, validate


def schema(paper: str) -> type:
    """The ``Params`` dataclass of ``paper`` (or study): ``sercore/schemas/<paper>.py``, the module that
    declares it (:func:`sercore.registry.papers`); ``ValueError`` naming the known ones otherwise."""
    from ..registry import papers

    known = papers()
    if paper not in known:
        raise ValueError(f"no parameter schema for {paper!r}; known: {', '.join(known)}")
    return importlib.import_module(f"{__name__}.{paper}").Params


__all__ = ["ParamsError", "RunParams", "describe", "schema", "validate"]
