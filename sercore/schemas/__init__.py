"""Typed schemas of every run's parameters: one dataclass per paper (and the leaderboard).

``params/<paper>/_base.yaml`` (a paper's recipe) and ``params/<paper>/<dataset>.yaml`` are the
places where a run's values are written; :func:`sercore.runs.resolve` merges them, then the top
level with one profile's section, and validates the result against the paper's schema before any
data is read. A schema says
which keys exist, their types, their ranges and what each one means (``help``); it
holds no per-profile value.

This package imports nothing heavy (no torch), so the command line can refuse bad
parameters at once.
"""
from __future__ import annotations

import importlib

from .common import ParamsError, RunParams, describe, validate

#: paper (or study) key -> module under sercore.schemas holding its ``Params`` dataclass
_MODULES = ("ctmam", "ca_ser", "mlcct", "mcwsa_cmha", "mdat", "leaderboard")


def schema(paper: str) -> type:
    """The ``Params`` dataclass of ``paper`` (``ValueError`` naming the known papers otherwise)."""
    if paper not in _MODULES:
        raise ValueError(f"no parameter schema for {paper!r}; known: {', '.join(_MODULES)}")
    return importlib.import_module(f"{__name__}.{paper}").Params


__all__ = ["ParamsError", "RunParams", "describe", "schema", "validate"]
