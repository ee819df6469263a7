"""Models: one file per paper, plus baselines; a registry of named presets.

``create(name, **overrides)`` builds a preset (a config dataclass filled with the
paper's values) with some fields overridden; ``available()`` lists the names.
A model file registers its presets with :func:`register`.
"""
from __future__ import annotations

import importlib
from dataclasses import fields, replace
from typing import Callable

from torch import nn

_REGISTRY: dict[str, tuple[Callable, object]] = {}
#: modules imported on first use of the registry (each registers its presets)
_MODULES = ("baselines", "ctmam", "ca_ser", "mlcct", "mcwsa_cmha", "mdat")


def register(name: str, cls: Callable, config) -> None:
    """Register preset ``name``: ``cls(config)`` builds it."""
    if name in _REGISTRY:
        raise ValueError(f"model preset {name!r} is registered twice")
    _REGISTRY[name] = (cls, config)


def _load_all() -> None:
    for m in _MODULES:
        try:
            importlib.import_module(f"{__name__}.{m}")
        except ModuleNotFoundError as e:   # a paper module not written yet; any other missing import is an error
            if e.name != f"{__name__}.{m}":
                raise


def available() -> list[str]:
    """Names of every registered preset."""
    _load_all()
    return sorted(_REGISTRY)


def preset(name: str):
    """The config dataclass of a preset (a copy you may change)."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {available()}")
    return replace(_REGISTRY[name][1])


def create(name: str, **overrides) -> nn.Module:
    """Build preset ``name`` with config fields overridden, e.g. ``create("ctmam", n_classes=7)``."""
    cfg = preset(name)
    known = {f.name for f in fields(cfg)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise TypeError(f"{name}: unknown config field(s) {bad}; known: {sorted(known)}")
    return _REGISTRY[name][0](replace(cfg, **overrides))
