"""The schema machinery: typed fields with ranges and help, and one validator.

A schema is a ``@dataclass(kw_only=True, eq=False)`` whose fields are made with :func:`param`::

    @dataclass(kw_only=True, eq=False)
    class Params(TrainingParams):
        mixup_alpha: float = param("mixup Beta(alpha, alpha); 0 turns it off", ge=0)

Types are the plain ones papermill can inject: ``int``, ``float``, ``str``, ``bool``,
``list[...]`` of those, and ``X | None``. :func:`validate` checks a flat dict against a
schema and raises :class:`ParamsError` (one line: where, which key, what was expected,
what came) on an unknown key, a missing key, a wrong type or an out-of-range value.

An instance (what :func:`sercore.runs.resolve` returns) is typed (``P.epochs``) and is also a
read-only mapping of its fields (``P["epochs"]``, ``P.get``, ``dict(P)``, ``{**P}``), equal to any
mapping with the same keys and values: chapters and notebooks that take a dict take it unchanged.
``eq=False`` keeps that mapping equality (a dataclass's own ``__eq__`` compares instances only).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field

#: ``reference``: the paper's recipe where 2 CPU cores can run it (hours), published in ``records/``;
#: a params file without a ``reference:`` section has no reference run
PROFILES = ("smoke", "quick", "paper", "reference")
#: protocols of :mod:`sercore.protocols` a chapter may name (kept here so validation needs no torch)
PROTOCOLS = ("loso", "loso_speaker", "kfold_val", "official", "random", "cross_corpus", "kshot")
#: keys that belong to the run, not to a params file (the CLI and fanout set them)
RUN_KEYS = ("paper", "dataset", "profile", "seed", "data_root", "results_dir", "skip_bad")


class ParamsError(ValueError):
    """Bad parameters: the message is one line naming the file (or source), the key, what was
    expected and what came."""


def param(help: str, default=MISSING, *, factory=None, ge=None, gt=None, le=None, lt=None, choices=None):
    """A schema field. ``help`` is the one-line meaning (shown in notebooks' parameters cells);
    ``ge``/``gt``/``le``/``lt`` bound numbers (each element of a list); ``choices`` lists the allowed
    strings. A list default is copied for every instance; ``factory`` makes a default when it is used
    (one derived from the registry)."""
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": tuple(choices) if choices else None}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    if isinstance(default, list):
        return field(default_factory=lambda d=tuple(default): list(d), metadata=meta)
    return field(default=default, metadata=meta)


class ParamsMapping(Mapping):
    """A schema instance read as a mapping of its fields, in the schema's order (read-only: no item
    assignment; ``dict(P)`` gives a plain, JSON-able copy)."""

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))

    def __getitem__(self, key):
        if isinstance(key, str) and key in self._names():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


@dataclass(kw_only=True, eq=False)
class RunParams(ParamsMapping):
    """What every run has, set by the command line (``sercore run``), fanout or papermill, never a params file."""

    paper: str = param("chapter key (sercore.PAPERS) or study")
    dataset: str = param("params/<paper>/<dataset>.yaml that was resolved")
    profile: str = param("smoke | quick | paper | reference", choices=PROFILES)
    seed: int = param("seeds the split, the subsample and training", 0, ge=0)
    data_root: str | None = param("folder with one sub-folder per corpus (None: $SERCORE_DATA)", None)
    results_dir: str | None = param("where metrics.json goes (None: results/<paper>/<dataset>/<profile>)", None)
    skip_bad: bool = param("skip unreadable or invalid files, counted and reported (False: stop at the first)",
                           False)


@dataclass(kw_only=True, eq=False)
class CorpusParams(RunParams):
    """A run on one corpus, mapped to one label set, split by one protocol."""

    corpus: str = param("registered corpus name (sercore data list)")
    in_book: bool = param("make book runs this file's quick profile when its corpora are found (false: a study "
                          "run on demand; its published runs still show in the book)", True)
    languages: list[str] | None = param("keep these languages (None: all)", None)
    label_map: str = param("sercore.data.labels.LABEL_MAPS")
    n_per_class: int | None = param("at most this many training (and validation) utterances per class in each "
                                     "fold; test sets stay whole (None: all)", None, ge=1)
    protocol: str = param("sercore.protocols.PROTOCOLS", choices=PROTOCOLS)
    max_folds: int | None = param("run only the first folds (None: all)", None, ge=1)
    unfit_folds: str = param("a fold whose test set lacks classes or has fewer than min_test utterances: refuse "
                             "(stop with the reason) or flag (run it, marked not comparable)", "refuse",
                             choices=("refuse", "flag"))
    min_test: int | None = param("fewest test utterances a fold may have (None: 2 per class)", None, ge=1)
    test_sessions: list[int] | None = param("protocol official: these sessions are the test set", None)
    test_fraction: float = param("protocol random: share of utterances tested", 0.2, gt=0, lt=1)
    stratify: bool = param("protocol random: stratify the split by class (false: a plain random draw, as some "
                           "authors' releases split)", True)
    k: int = param("protocol kfold_val: number of parts", 10, ge=3)
    val: str | None = param("validation: speaker | fold (None: the protocol's default)", None,
                            choices=("speaker", "fold"))


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in inner) + " or null"
    if origin is list:
        inner = typing.get_args(tp)[0]
        return "a list of " + {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(inner, str(inner))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _got(v) -> str:
    kind = {str: "the string", bool: "the boolean", int: "the integer", float: "the number",
            list: "the list", dict: "a mapping", type(None): "null"}.get(type(v), type(v).__name__)
    return kind if v is None else f"{kind} {v!r}"


def _coerce(tp, v):
    """``v`` as type ``tp``, or raise TypeError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(inner[0], v)
    if origin is list:
        if not isinstance(v, (list, tuple)):
            raise TypeError
        return [_coerce(typing.get_args(tp)[0], i) for i in v]
    if tp is bool:
        if isinstance(v, bool):
            return v
        raise TypeError
    if tp is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise TypeError
    if tp is float:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
        raise TypeError
    if tp is str:
        if isinstance(v, str):
            return v
        raise TypeError
    raise TypeError


def _range_problem(meta: dict, v) -> str | None:
    items = v if isinstance(v, list) else [v]
    for x in items:
        if x is None:
            continue
        if meta["choices"] and x not in meta["choices"]:
            return f"one of {', '.join(map(str, meta['choices']))}"
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            for op, bound, text in (("ge", meta["ge"], ">="), ("gt", meta["gt"], ">"),
                                    ("le", meta["le"], "<="), ("lt", meta["lt"], "<")):
                if bound is None:
                    continue
                ok = {"ge": x >= bound, "gt": x > bound, "le": x <= bound, "lt": x < bound}[op]
                if not ok:
                    lo = [f"{t} {b}" for t, b in ((">=", meta["ge"]), (">", meta["gt"])) if b is not None]
                    hi = [f"{t} {b}" for t, b in (("<=", meta["le"]), ("<", meta["lt"])) if b is not None]
                    return "a value " + " and ".join(lo + hi)
    return None


def validate(cls: type, values: dict, *, source: str, where: dict | None = None) -> dict:
    """``values`` checked against schema ``cls``: every field, in the schema's order, with defaults
    filled in. ``source`` names the file (or 'notebook parameters') in errors; ``where`` maps a key to
    the part of the file it came from (e.g. "section 'quick'").

    Raises :class:`ParamsError` at the first problem, in one line.
    """
    where = where or {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}

    def fail(key, expected, got):
        at = f" ({where[key]})" if key in where else ""
        raise ParamsError(f"{source}: key {key!r}{at}: expected {expected}, got {got}")

    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            fail(key, "a key of the " + cls.__module__.rsplit(".", 1)[-1] + " schema"
                 + (f" (did you mean {close[0]!r}?)" if close else ""), "an unknown key")
    out = {}
    for name, f in fields.items():
        if name in values:
            v = values[name]
            try:
                v = _coerce(hints[name], v)
            except TypeError:
                hint = ""
                if hints[name] in (float, float | None) and isinstance(v, str):
                    hint = " (YAML reads 1e-3 as a string: write 0.001 or 1.0e-3)"
                fail(name, _type_name(hints[name]), _got(v) + hint)
            problem = _range_problem(f.metadata, v)
            if problem:
                fail(name, problem, _got(v))
        elif f.default is not MISSING:
            v = f.default
        elif f.default_factory is not MISSING:
            v = f.default_factory()
        else:
            fail(name, _type_name(hints[name]) + " (a required key)", "nothing")
        out[name] = v
    try:
        cls(**out)                      # cross-field checks in __post_init__, if a schema has them
    except ValueError as e:
        raise ParamsError(f"{source}: {e}") from None
    return out


def describe(cls: type) -> list[dict]:
    """Every field of a schema: name, type, default (or 'required') and help, for docs and cells."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = (f.default if f.default is not MISSING else
                   f.default_factory() if f.default_factory is not MISSING else "required")
        rows.append({"key": f.name, "type": _type_name(hints[f.name]), "default": default,
                     "help": f.metadata.get("help", "")})
    return rows


@dataclass(kw_only=True, eq=False)
class TrainingParams(CorpusParams):
    """A chapter that trains: the optimiser's numbers and how long."""

    epochs: int = param("training epochs", ge=1)
    batch_size: int = param("utterances (or segments) per optimiser step", ge=1)
    lr: float = param("learning rate", gt=0)
    weight_decay: float = param("weight decay (L2)", 0.0, ge=0)
