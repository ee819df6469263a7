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
        importlib.import_module(f"{__name__}.{m}")


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


def readings(module: str) -> str:
    """The *Readings* section of ``sercore/models/<module>.py``'s docstring, as Markdown.

    Where a paper is ambiguous, the reading we implement is written once, in the model's docstring
    under a heading ``Readings`` underlined with dashes; the notebooks and chapter pages render it
    from here, so the three cannot drift. The section runs to the next underlined heading.
    """
    if module not in _MODULES:
        raise KeyError(f"unknown model module {module!r}; known: {', '.join(_MODULES)}")
    doc = importlib.import_module(f"{__name__}.{module}").__doc__ or ""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == "Readings" and set(lines[i + 1].strip()) == {"-"}:
            body = []
            for j in range(i + 2, len(lines)):
                nxt = lines[j + 1].strip() if j + 1 < len(lines) else ""
                if lines[j].strip() and nxt and set(nxt) == {"-"}:
                    break
                body.append(lines[j])
            text = "\n".join(body).strip()
            if text:
                return text
    raise ValueError(f"sercore/models/{module}.py: its docstring has no 'Readings' section "
                     "(a line 'Readings' underlined with dashes, then the readings)")
