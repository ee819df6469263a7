"""Corpora and papers, each declared once by its own module; every list of them is derived here.

A **corpus** is declared by its loader module in :mod:`sercore.data` (``sercore/data/<name>.py``)::

    CORPUS = Corpus(name="emodb", dirname="emodb", title="Emo-DB", layout=LAYOUT, load=load,
                    label_map="emodb7", label_maps=(EMODB7, EMODB4_MDAT), modalities=("audio", "text"),
                    protocol="loso_speaker", write_fixture=write_fixture, fixture={...})

A **paper** (or a study of every paper, such as the leaderboard) is declared by its parameter schema
module in :mod:`sercore.schemas` (``sercore/schemas/<key>.py``), beside its ``Params``::

    PAPER = Paper(key="ctmam", title="...", corpora=("iemocap", "emodb"), modalities=("audio",),
                  chapter="sercore.chapters.ctmam", order=1)

Discovery imports every public module of those two packages (both are light: no torch) and keeps the
ones that declare; ``sercore.data.CORPORA``, ``sercore.PAPERS``, ``sercore.runs.RUNNABLE``, the
reference tables' corpus names, comparability, ``sercore data list``, the fixtures and the tests'
tables all read these two lists. A package path added to ``sercore.data.__path__`` or
``sercore.schemas.__path__`` (a plug-in folder) is discovered the same way after :func:`refresh`.

This module imports nothing of sercore at import time, so every layer may use it.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

#: what a corpus or method can offer / need
MODALITIES = ("audio", "text", "video")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True)
class Corpus:
    """One corpus the book knows, as its loader module declares it."""

    name: str                          # registry key: --dataset, params/<paper>/<name>.yaml, the manifest's corpus
    dirname: str                       # its folder under the data root (SERCORE_DATA/<dirname>)
    title: str                         # how people name it ("Emo-DB")
    layout: str                        # the official layout, shown when the folder is missing or wrong
    load: Callable                     # load(folder, on_error="raise") -> manifest (sercore.data.manifest)
    label_map: str                     # the label map its runs use by default (the leaderboard's)
    modalities: tuple[str, ...]        # what its manifest can offer: audio, text, video
    protocol: str                      # its default protocol (the leaderboard's), sercore.protocols
    label_maps: tuple = ()             # the LabelMaps this module defines (sercore.data.labels.LabelMap)
    compares_as: str | None = ""       # the corpus a paper's number on it is ("" = itself, None = none:
                                       # iemocap_text compares as "iemocap"; the synthetic corpus as nothing)
    write_fixture: Callable | None = None   # write_fixture(folder, speech) -> dict (sercore.data.fixtures)
    fixture: dict | None = None        # what its loader reads from that fixture: utterances, speakers, labels
    generated: bool = False            # made by the package (the synthetic corpus), not read from the data root
    order: int = 100                   # position in listings (built-ins first, then by name)

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ValueError(f"corpus name {self.name!r} is not a name (lower-case letters, digits and '_')")
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise ValueError(f"corpus {self.name!r}: modalities must be a non-empty subset of {MODALITIES}, "
                             f"got {self.modalities}")
        if (self.write_fixture is None) != (self.fixture is None):
            raise ValueError(f"corpus {self.name!r}: a fixture writer and its expected counts go together")

    @property
    def reference_name(self) -> str | None:
        """The corpus a paper's reported number on this one is (None: no paper's number is on it)."""
        return self.name if self.compares_as == "" else self.compares_as


@dataclass(frozen=True)
class Paper:
    """One chapter of the book (a paper) or a study of every chapter (the leaderboard), as its schema
    module declares it."""

    key: str                           # params/<key>/, book/<key>.ipynb, sercore/schemas/<key>.py, `sercore run KEY`
    title: str                         # the paper's title (or the study's name)
    chapter: str                       # module that computes the page: sercore.chapters.<key>, sercore.leaderboard
    corpora: tuple[str, ...] = ()      # corpora of its reported numbers, as the reference tables name them
    modalities: tuple[str, ...] = ()   # modalities of its reported numbers
    study: bool = False                # a study of every chapter (no reported numbers of its own)
    order: int = 100                   # position in the book
    numbers: str | None = None         # CSV of its reported numbers (None: sercore/reference/<key>.csv)

    def __post_init__(self):
        if not _NAME.match(self.key):
            raise ValueError(f"paper key {self.key!r} is not a name (lower-case letters, digits and '_')")
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad:
            raise ValueError(f"paper {self.key!r}: modalities must be a subset of {MODALITIES}, got {self.modalities}")


def _discover(package: str, attr: str, kind: type, key: Callable, same_name: bool = False) -> dict:
    pkg = importlib.import_module(package)
    found: dict = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        obj = getattr(importlib.import_module(f"{package}.{info.name}"), attr, None)
        if not isinstance(obj, kind):
            continue
        name = key(obj)
        if same_name and name != info.name:
            raise ValueError(f"{package}.{info.name} declares {name!r}: the module must be named as it declares")
        if name in found:
            raise ValueError(f"{package}.{info.name} declares {name!r}, which another module declares too")
        found[name] = obj
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


@lru_cache(maxsize=None)
def corpora() -> dict[str, Corpus]:
    """Every declared corpus, name -> :class:`Corpus`, in listing order."""
    return _discover("sercore.data", "CORPUS", Corpus, lambda c: c.name)


@lru_cache(maxsize=None)
def papers() -> dict[str, Paper]:
    """Every declared paper and study, key -> :class:`Paper`, in book order."""
    return _discover("sercore.schemas", "PAPER", Paper, lambda p: p.key, same_name=True)


def paper_keys() -> tuple[str, ...]:
    """The papers (chapters with reported numbers), in book order."""
    return tuple(k for k, p in papers().items() if not p.study)


def study_keys() -> tuple[str, ...]:
    """The studies of every chapter (the leaderboard)."""
    return tuple(k for k, p in papers().items() if p.study)


def reference_corpora() -> frozenset[str]:
    """Every corpus some paper reports a number on (the reference tables' ``dataset`` values)."""
    return frozenset(c for p in papers().values() for c in p.corpora)


def dataset_corpora(dataset: str) -> tuple[str, ...] | None:
    """The declared corpora a dataset name is made of, in order (``emodb_urdu`` -> ``("emodb", "urdu")``,
    ``iemocap_text`` -> ``("iemocap_text",)``): the name split at ``_`` into whole corpus names, longest
    first; None when it is not made of them (a manifest corpus, ``my_emodb_copy``)."""
    names = sorted(corpora(), key=len, reverse=True)

    def split(rest: str) -> tuple[str, ...] | None:
        if not rest:
            return ()
        for n in names:
            if rest == n or rest.startswith(n + "_"):
                tail = split(rest[len(n) + 1:])
                if tail is not None:
                    return (n, *tail)
        return None

    return split(str(dataset))


def compared_corpora(dataset: str) -> set[str]:
    """The corpora a run on ``dataset`` measures, as the papers' reference tables name them (each
    corpus's ``reference_name``: ``iemocap_text`` -> {iemocap}, ``emodb_urdu`` -> {emodb, urdu}); empty for
    the synthetic corpus and for any dataset not made of declared corpora (a manifest corpus): no paper
    reports a number on those."""
    parts = dataset_corpora(dataset) or ()
    table = corpora()
    return {table[n].reference_name for n in parts if table[n].reference_name}


def refresh() -> None:
    """Forget what was discovered (after a plug-in folder was added to a package's ``__path__``)."""
    corpora.cache_clear()
    papers.cache_clear()


class LazyMapping(Mapping):
    """A read-only mapping computed on first use (so importing a module does not discover anything)."""

    def __init__(self, build: Callable[[], Mapping], what: str):
        self._build, self._what = build, what

    def __getitem__(self, key):
        try:
            return self._build()[key]
        except KeyError:
            raise KeyError(f"unknown {self._what} {key!r}; known: {', '.join(self._build())}") from None

    def __iter__(self):
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return f"<{self._what}s: {', '.join(self._build())}>"
