"""Results: ``metrics.json`` (write, read, validate), reported-vs-measured tables, plots.

Every executed notebook writes one ``results/PAPER/DATASET/PROFILE/metrics.json``
in the schema of ``docs/contracts.md`` through :class:`Run`. Reported numbers come from the
paper reference tables (:mod:`sercore.reference`, copied with table and row);
measured numbers come from the run. :func:`collect` gathers every file for the
scoreboard.
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import __version__
from .paths import atomic_write, results_dir

METRIC_KEYS = ("wa", "ua", "macro_f1", "weighted_f1")
TOP_KEYS = ("paper", "dataset", "profile", "protocol", "synthetic", "corpus_note", "seed", "git_sha",
            "started", "runtime_s", "device", "metrics", "intervals", "per_class", "confusion", "comparisons",
            "extra")
COMPARISON_KEYS = ("table", "row", "metric", "reported", "measured", "note")
# what Run.write adds to each comparison row: our interval of the measured number ([low, high] or
# None) and whether the paper's number lies inside it (True/False, or None: not comparable, why in
# ``verdict``)
COMPARISON_STAT_KEYS = ("interval", "inside", "verdict")
INTERVAL_KEYS = ("estimate", "low", "high", "confidence", "method", "n", "folds", "seeds", "n_resamples")
PREDICTION_COLUMNS = ("method", "seed", "fold", "row", "y_true", "y_pred")
PREDICTIONS_FILE = "test_predictions.csv"   # (ctmam writes its own predictions.csv of every variant)

SYNTHETIC_BANNER = ("**Synthetic corpus.** These numbers were measured on sercore's generated speech "
                    "(espeak-ng prosody profiles). They check that the pipeline works and are **not "
                    "comparable** with the papers' numbers.")


# ----------------------------------------------------------------------------- provenance

def git_sha(repo: str | os.PathLike | None = None) -> str:
    """Commit of the code that ran (``+dirty`` when tracked files were modified), or ``unknown``."""
    cwd = str(repo or Path(__file__).resolve().parent.parent)
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    """Library versions and machine, for the provenance panel."""
    import torch

    env = {"sercore": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "pandas": pd.__version__, "platform": platform.platform(),
           "cpu_count": os.cpu_count(), "cuda": torch.version.cuda if torch.cuda.is_available() else None}
    for mod in ("transformers", "sklearn"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            env[mod] = None
    return env


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu ({os.cpu_count()} cores)"


# ----------------------------------------------------------------------------- metrics.json

class MetricsError(ValueError):
    """A ``metrics.json`` that is not a sound result (schema problems, or a non-finite number where a
    measured value belongs); the message lists every problem."""


# Sections whose numbers are the measured result: each number in them must be finite. A value that
# was not measured is ``None`` (e.g. a per-class recall of a class absent from the test set, or a
# comparison row the run does not measure); NaN/Inf is never turned into null here. ``extra`` is
# free-form (curves, a std over one fold) and is written with NaN/Inf as null.
STRICT_SECTIONS = ("metrics", "intervals", "per_class", "confusion", "comparisons")


def nonfinite_paths(obj, path: str = "") -> list[str]:
    """Where ``obj`` holds NaN or Inf, as ``path=value`` (``metrics.ua=nan``, ``confusion.matrix[1][0]=inf``)."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in nonfinite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in nonfinite_paths(v, f"{path}[{i}]")]
    if isinstance(obj, np.ndarray):
        return nonfinite_paths(obj.tolist(), path)
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return [f"{path}={float(obj)}"]
    return []


def _clean(obj, keep_nonfinite: bool = False):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN to None (only after :func:`validate_metrics`
    has refused non-finite numbers in :data:`STRICT_SECTIONS`; ``keep_nonfinite``: kept as floats)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v, keep_nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v, keep_nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist(), keep_nonfinite)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj) and not keep_nonfinite:
        return None
    return obj


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _shown(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


#: top-level keys and the type each must have (``None`` allowed where listed)
_TOP_TYPES = {"paper": (str,), "dataset": (str,), "profile": (str,), "protocol": (dict,), "synthetic": (bool,),
              "corpus_note": (str, type(None)), "seed": (int,), "git_sha": (str,), "started": (str,),
              "runtime_s": ("number",), "device": (str,), "metrics": (dict,), "intervals": (dict,),
              "per_class": (dict,), "confusion": (dict,), "comparisons": (list,), "extra": (dict,)}


def _type_problems(data: dict) -> list[str]:
    """Where ``data`` holds a value of the wrong type (a string where a measured number belongs, a list
    where a mapping does): each as ``path: expected ..., got ...``. Nothing else is checked until these
    are fixed, so no check stumbles over a wrong type."""
    out = []

    def want(path, v, kinds):
        ok = any((k == "number" and _is_num(v)) or (k is int and isinstance(v, (int, np.integer))
                                                     and not isinstance(v, bool))
                 or (k not in ("number", int) and isinstance(v, k)) for k in kinds)
        if not ok:
            names = " or ".join("a number" if k == "number" else "null" if k is type(None) else k.__name__
                                for k in kinds)
            out.append(f"{path}: expected {names}, got {_shown(v)}")
        return ok

    for k, kinds in _TOP_TYPES.items():
        if k in data:
            want(k, data[k], kinds)
    if out:
        return out
    for k in METRIC_KEYS:
        if k in data["metrics"]:
            want(f"metrics.{k}", data["metrics"][k], ("number", type(None)))
    for label, row in data["per_class"].items():
        if want(f"per_class.{label}", row, (dict,)):
            for k, v in row.items():
                want(f"per_class.{label}.{k}", v, ("number", type(None)))
    conf = data["confusion"]
    if isinstance(conf.get("labels"), list):
        for i, lab in enumerate(conf["labels"]):
            want(f"confusion.labels[{i}]", lab, (str, int))
    elif "labels" in conf:
        want("confusion.labels", conf["labels"], (list,))
    if isinstance(conf.get("matrix"), list):
        for i, row in enumerate(conf["matrix"]):
            if want(f"confusion.matrix[{i}]", row, (list,)):
                for j, v in enumerate(row):
                    want(f"confusion.matrix[{i}][{j}]", v, ("number",))
    elif "matrix" in conf:
        want("confusion.matrix", conf["matrix"], (list,))
    for m, iv in data["intervals"].items():
        if want(f"intervals.{m}", iv, (dict,)):
            for k in ("estimate", "low", "high", "confidence"):
                if k in iv:
                    want(f"intervals.{m}.{k}", iv[k], ("number",))
            for k in ("n", "folds", "seeds", "n_resamples"):
                if k in iv:
                    want(f"intervals.{m}.{k}", iv[k], (int,))
    for i, c in enumerate(data["comparisons"]):
        if not want(f"comparisons[{i}]", c, (dict,)):
            continue
        for k, kinds in (("table", (str,)), ("row", (str, int)), ("metric", (str,)),
                         ("reported", ("number", type(None))), ("measured", ("number", type(None))),
                         ("note", (str, type(None))), ("inside", (bool, type(None))),
                         ("verdict", (str, type(None))), ("interval", (list, type(None)))):
            if k in c:
                want(f"comparisons[{i}].{k}", c[k], kinds)
        if isinstance(c.get("interval"), list):
            for j, v in enumerate(c["interval"]):
                want(f"comparisons[{i}].interval[{j}]", v, ("number",))
    return out


def validate_metrics(data: dict) -> dict:
    """Check a ``metrics.json`` dict against its schema (``docs/contracts.md``); return it.

    Every value has its type (:func:`_type_problems`: a measured number is a number, never a string).
    Every number in :data:`STRICT_SECTIONS` (headline metrics, per-class table, confusion matrix,
    comparison rows) must be finite: NaN or Inf there is a problem named by its path, never null.
    Raises :class:`MetricsError` (a ``ValueError``) listing every problem found.
    """
    if not isinstance(data, dict):
        raise MetricsError(f"invalid metrics.json:\n  expected a JSON object, got {type(data).__name__}")
    problems = [f"missing key {k!r}" for k in TOP_KEYS if k not in data]
    if not problems:
        problems = _type_problems(_clean(data, keep_nonfinite=True))
        if problems:
            raise MetricsError("invalid metrics.json:\n  " + "\n  ".join(problems[:20])
                               + (f"\n  ... ({len(problems)} in all)" if len(problems) > 20 else ""))
    bad = [p for k in STRICT_SECTIONS if k in data for p in nonfinite_paths(data[k], k)]
    if bad:
        problems.append(f"non-finite number(s) where a measured value belongs: {', '.join(bad[:10])}"
                        f"{f' ... ({len(bad)} in all)' if len(bad) > 10 else ''}; a run whose metrics are "
                        "NaN/Inf is not a result (non-finite features, or a model that diverged)")
    data_in, data = data, _clean(data)
    if not problems:
        if not isinstance(data["synthetic"], bool):
            problems.append(f"'synthetic' must be a bool, got {type(data['synthetic']).__name__}")
        for k in METRIC_KEYS:
            v = data["metrics"].get(k, "missing")
            if v is not None and not isinstance(v, (int, float)):
                problems.append(f"metrics.{k} must be a number in percent or null, got {v!r}")
            elif isinstance(v, (int, float)) and not 0 <= v <= 100:
                problems.append(f"metrics.{k} must be in percent (0-100), got {v}")
        conf = data["confusion"]
        if set(conf) != {"labels", "matrix"}:
            problems.append(f"confusion must have labels and matrix, got {sorted(conf)}")
        else:
            n = len(conf["labels"])
            m = conf["matrix"]
            if len(m) != n or any(len(r) != n for r in m):
                problems.append(f"confusion matrix must be {n}x{n} for labels {conf['labels']}")
            if set(data["per_class"]) - set(conf["labels"]):
                problems.append("per_class has labels not in confusion.labels")
        for i, c in enumerate(data["comparisons"]):
            miss = [k for k in COMPARISON_KEYS + COMPARISON_STAT_KEYS if k not in c]
            if miss:
                problems.append(f"comparisons[{i}] misses {miss}")
            elif c["interval"] is not None and (len(c["interval"]) != 2 or c["interval"][0] > c["interval"][1]):
                problems.append(f"comparisons[{i}].interval must be [low, high] with low <= high, got "
                                f"{c['interval']}")
        problems += _interval_problems(data["intervals"], data["metrics"])
    if problems:
        raise MetricsError("invalid metrics.json:\n  " + "\n  ".join(problems))
    return data_in


def _interval_problems(intervals, metrics: dict) -> list[str]:
    """What is wrong with ``metrics.json["intervals"]`` ({metric: interval}; {} when the run kept no
    test predictions)."""
    if not isinstance(intervals, dict):
        return [f"intervals must be a dict metric -> interval, got {type(intervals).__name__}"]
    out = []
    for m, iv in intervals.items():
        if m not in METRIC_KEYS:
            out.append(f"intervals.{m}: not a headline metric (expected one of {METRIC_KEYS})")
            continue
        miss = [k for k in INTERVAL_KEYS if k not in iv]
        if miss:
            out.append(f"intervals.{m} misses {miss}")
            continue
        if not iv["low"] <= iv["estimate"] <= iv["high"]:
            out.append(f"intervals.{m}: need low <= estimate <= high, got {iv['low']}, {iv['estimate']}, {iv['high']}")
        if not (0 <= iv["low"] and iv["high"] <= 100):
            out.append(f"intervals.{m} must be in percent (0-100), got [{iv['low']}, {iv['high']}]")
        if not 0 < iv["confidence"] < 1 or not isinstance(iv["method"], str) or not iv["method"]:
            out.append(f"intervals.{m}: confidence in (0, 1) and a method description are required")
        if not isinstance(iv["n"], int) or iv["n"] < 1:
            out.append(f"intervals.{m}.n must be the number of test utterances (>= 1), got {iv['n']!r}")
        head = metrics.get(m)
        if head is not None and abs(head - iv["estimate"]) > 1e-6 * max(1.0, abs(head)):
            out.append(f"intervals.{m}.estimate {iv['estimate']} is not the headline metrics.{m} {head}: "
                       "the interval was computed from other predictions than the headline's")
    return out


def write_metrics(data: dict, path: str | os.PathLike) -> Path:
    """Validate and write ``metrics.json`` atomically; returns the path. Nothing is written (no folder
    is created) when :func:`validate_metrics` refuses ``data``."""
    validate_metrics(data)
    data = _clean(data)
    text = json.dumps(data, indent=2, sort_keys=False)
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_metrics(path: str | os.PathLike) -> dict:
    """Read and validate one ``metrics.json``; the error names the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:          # a JSON error, or bytes that are not text
        raise MetricsError(f"{path}: cannot read metrics.json ({e})") from e
    try:
        return validate_metrics(data)
    except ValueError as e:
        raise MetricsError(f"{path}: {e}") from e


@dataclass
class ChapterResult:
    """What a chapter's ``run(P, corpus)`` measured: the headline, and everything its notebook shows.

    ``metrics``/``per_class``/``confusion``/``comparisons``/``extra`` go into ``metrics.json``
    (its schema: ``docs/contracts.md``) through :meth:`Run.write`; ``figures`` holds the data the notebook's figures
    and tables are drawn from (histories, embeddings, frames) and is not written.
    """

    protocol: dict                              # sercore.protocols.describe(...) of the headline folds
    metrics: dict                               # wa, ua, macro_f1, weighted_f1 in percent
    per_class: dict                             # label -> precision, recall, f1, support
    confusion: dict                             # {"labels": [...], "matrix": [[...]]}
    comparisons: list = field(default_factory=list)   # results.comparison(...) rows beside the paper
    extra: dict = field(default_factory=dict)   # ablations, curves, parameter counts: metrics.json["extra"]
    figures: dict = field(default_factory=dict)  # data for the notebook's figures and tables (not written)
    # per-utterance test predictions behind the headline (:func:`cv_predictions`): one row per
    # (method, seed, test utterance), columns PREDICTION_COLUMNS; written to predictions.csv, and the
    # source of metrics.json["intervals"]. Several methods (the leaderboard): the headline is
    # extra["headline_method"]. None: no interval (said on the scoreboard).
    predictions: pd.DataFrame | None = None


def cv_predictions(cv, method: str, seed: int = 0) -> pd.DataFrame:
    """The test predictions of a :class:`sercore.train.CVResult` as :attr:`ChapterResult.predictions`
    rows: method, seed, fold (the fold's name), row (manifest row), y_true, y_pred (class indices)."""
    parts = []
    for f in cv.folds:
        rep = f["report"]
        n = len(rep["rows"])
        parts.append(pd.DataFrame({"method": [method] * n, "seed": int(seed), "fold": str(f["name"]),
                                   "row": rep["rows"], "y_true": rep["y_true"], "y_pred": rep["y_pred"]}))
    if not parts:
        raise ValueError(f"{method}: the cross-validation result holds no fold, so no test predictions")
    return pd.concat(parts, ignore_index=True)


def records_predictions(records, method: str, seed: int = 0) -> pd.DataFrame:
    """:attr:`ChapterResult.predictions` from per-utterance dicts with fold, row, y_true, y_pred
    (class indices), e.g. what a chapter kept of its headline's cross-validation."""
    df = pd.DataFrame(list(records))
    miss = [c for c in ("fold", "row", "y_true", "y_pred") if c not in df.columns]
    if miss:
        raise ValueError(f"{method}: prediction records lack {miss} (got columns {list(df.columns)})")
    return df.assign(method=method, seed=int(seed), fold=df["fold"].astype(str))[list(PREDICTION_COLUMNS)]


def prediction_arrays(pred: pd.DataFrame, method: str | None = None) -> dict:
    """One method's predictions as the arrays :mod:`sercore.stats` takes, utterances aligned over seeds.

    Returns {"y_true": (N,), "fold": (N,) fold index, "y_pred": (S, N), "seeds": [...], "rows": (N,),
    "folds": fold names}. Every seed must have tested the same (fold, row) utterances, else ValueError.
    """
    if method is not None:
        pred = pred[pred["method"] == method]
    if pred.empty:
        raise ValueError(f"no predictions for method {method!r}")
    seeds = sorted(pred["seed"].unique())
    by_seed = {s: g.sort_values(["fold", "row"], kind="stable").reset_index(drop=True) for s, g in pred.groupby("seed")}
    first = by_seed[seeds[0]]
    key = ["fold", "row", "y_true"]
    for s in seeds[1:]:
        g = by_seed[s]
        if len(g) != len(first) or not (g[key].astype(str).to_numpy() == first[key].astype(str).to_numpy()).all():
            raise ValueError(f"{method or 'predictions'}: seed {s} tested other utterances than seed {seeds[0]} "
                             f"({len(g)} vs {len(first)} rows); seeds can only be pooled on one test set")
    fold_names = list(dict.fromkeys(first["fold"]))
    return {"y_true": first["y_true"].to_numpy(np.int64),
            "fold": first["fold"].map({f: i for i, f in enumerate(fold_names)}).to_numpy(np.int64),
            "y_pred": np.stack([by_seed[s]["y_pred"].to_numpy(np.int64) for s in seeds]),
            "seeds": [int(s) for s in seeds], "rows": first["row"].to_numpy(), "folds": fold_names}


def headline_intervals(pred: pd.DataFrame, n_classes: int, method: str | None = None, **kw) -> dict:
    """95% bootstrap intervals of WA, UA and macro F1 from the headline's predictions
    (:func:`sercore.stats.bootstrap_ci`; folds pooled, strata fold x class, seeds as a second level)."""
    from . import stats

    a = prediction_arrays(pred, method)
    return stats.bootstrap_ci(a["y_true"], a["y_pred"], a["fold"], n_classes=n_classes, **kw)


HEADLINE_TOLERANCE = 0.005 + 1e-9  # a row rounded to 2 decimals still names the headline value
METRIC_ALIASES = {"accuracy": "wa"}   # a comparison row's metric -> the headline metric it is


def run_corpora(dataset: str) -> set[str]:
    """The corpora a run on ``dataset`` (a params file name) measures, in the reference tables' names:
    ``iemocap_text`` -> {iemocap}, ``emodb_urdu`` -> {emodb, urdu}; empty for the synthetic corpus and a
    corpus no paper reports on (derived from the corpora's declarations: :func:`sercore.registry.compared_corpora`)."""
    from .registry import compared_corpora

    return compared_corpora(dataset)


def paper_corpora(paper: str) -> tuple[str, ...] | None:
    """The corpora of a paper's reported numbers (its declaration), or None for a study or an unknown key."""
    from .registry import papers

    p = papers().get(paper)
    return None if p is None or p.study else p.corpora


def paper_corpus(paper: str, c: dict) -> str | None:
    """The corpus of the paper's number in comparison row ``c``: its ``paper_dataset`` when set, else the
    one reference cell of ``paper`` with the row's table, metric, value and row name; None when that
    is not unique (nothing is then assumed)."""
    if c.get("paper_dataset"):
        return c["paper_dataset"]
    if c.get("reported") is None:
        return None
    from . import reference

    if paper not in reference.PAPERS:
        return None
    df = reference.load(paper)                  # values as floats; the CSV is read once per process
    row = str(c["row"])
    hit = df[(df["table"] == c["table"]) & (df["metric"] == c["metric"])
             & ((df["value"] - float(c["reported"])).abs() < 1e-9)
             & df["row"].map(lambda r: row == r or row.startswith(f"{r} ["))]
    names = set(hit["dataset"].astype(str))
    return names.pop() if len(names) == 1 else None



# ----------------------------------------------------------------------------- comparability

#: verdicts of a comparable score: the paper's number inside our 95% interval, or the interval below / above it
SCORE_VERDICTS = ("inside", "below", "above")
#: verdicts of a count (parameters, utterances): checked equal / not equal, never a reproduction
CHECK_VERDICTS = ("equal", "not equal")
#: metrics that are counts, not scores
CHECK_METRICS = ("params", "count")

def metric_key(metric: str) -> str:
    """The headline metric a row's metric is (``accuracy`` -> ``wa``), else the metric itself."""
    return METRIC_ALIASES.get(metric, metric)


def comparable_verdict(verdict: str | None) -> bool:
    """Whether a verdict belongs to a comparable pair (inside / below / above / equal / not equal)."""
    return verdict in SCORE_VERDICTS + CHECK_VERDICTS


def _same_count(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) < 0.5


def decide(c: dict, metrics: dict, intervals: dict | None, synthetic: bool, paper: str | None = None,
           dataset: str | None = None) -> dict:
    """The decision for one comparison row ``c`` (``table, row, metric, reported, measured`` and the
    marks ``comparable``/``why``/``scope`` of :func:`sercore.results._scoped`) of a run with headline
    ``metrics`` and ``intervals`` (``{metric: {"low", "high", ...}}``).

    Returns ``{"interval": [low, high] | None, "inside": bool | None, "comparable": bool, "verdict": str}``:
    ``verdict`` is inside | below | above (a score) | equal | not equal (a count) | ``not comparable: <why>``
    and ``comparable`` is True exactly for the first five. The row's input mark is read from
    ``scope_comparable`` when present (a row this function already decided), else ``comparable``.
    """
    intervals = intervals or {}
    ours = run_corpora(dataset) if dataset else set()
    theirs_all = paper_corpora(paper) if paper and dataset else None
    elsewhere = theirs_all is not None and not (ours & set(theirs_all))
    key = c["metric"] if c["metric"] in intervals else metric_key(c["metric"])
    iv = intervals.get(key)
    head = metrics.get(key)
    # chapters may round a row to 2 decimals: within half of that unit it is the headline value
    is_head = (iv is not None and c["measured"] is not None and head is not None
               and abs(c["measured"] - head) <= HEADLINE_TOLERANCE)
    interval = [iv["low"], iv["high"]] if is_head else None
    marked = c.get("scope_comparable", c.get("comparable"))

    def no(why: str) -> dict:
        return {"interval": interval, "inside": None, "comparable": False, "verdict": f"not comparable: {why}"}

    if elsewhere and not ours and not synthetic:      # a corpus no paper reports on (a manifest corpus)
        return no("the paper reports no number on this corpus")
    if c["reported"] is None:
        return no("the paper reports no number here")
    if c["measured"] is None:
        return no("not measured by this run")
    if synthetic:
        return no("synthetic corpus")
    if marked is False:
        return no(c.get("why") or c.get("scope") or "the chapter marks this row so")
    if paper and ours and (theirs := paper_corpus(paper, c)) and theirs not in ours:
        return no(f"the paper's number is on {theirs}, this run on {dataset}")
    if elsewhere:
        return no("the paper reports no number on this corpus")
    if c["metric"] in CHECK_METRICS:
        same = _same_count(c["measured"], c["reported"])
        return {"interval": None, "inside": None, "comparable": True, "verdict": "equal" if same else "not equal"}
    if not is_head:
        if key not in ("wa", "ua", "macro_f1"):
            why = f"no interval: 95% intervals are computed for WA, UA and macro F1 only, this row is {c['metric']}"
        elif not intervals:
            why = "no interval: the run kept no test predictions"
        else:
            why = "no interval: the number is not the run's headline model (intervals are kept for it only)"
        return no(why)
    inside = bool(iv["low"] <= c["reported"] <= iv["high"])
    return {"interval": interval, "inside": inside, "comparable": True,
            "verdict": "inside" if inside else ("below" if iv["high"] < c["reported"] else "above")}


def attach_intervals(comparisons: Sequence[dict], metrics: dict, intervals: dict, synthetic: bool,
                     paper: str | None = None, dataset: str | None = None) -> list[dict]:
    """Each comparison row with ``interval`` (ours, [low, high]), ``inside`` (the paper's number within
    it), ``verdict`` (inside | below | above | equal | not equal | not comparable: <why>) and
    ``comparable`` (True exactly when the verdict is not "not comparable"), as
    :func:`sercore.results.decide` decides them: the one place that says what is comparable.

    The row's own mark (``comparable`` from :func:`_scoped`: fewer folds than the protocol, or the
    chapter said so) is kept as ``scope_comparable``, so a row decided here is decided the same way when
    read again (the scoreboard does, so a run written before a fix gets it).
    """

    out = []
    for c in comparisons:
        c = dict(c)
        mark = c.get("scope_comparable", c.get("comparable", True))
        c.update(decide(c, metrics, intervals, synthetic, paper, dataset))
        c["scope_comparable"] = bool(mark) if mark is not None else True
        out.append(c)
    return out


class Run:
    """One (paper, dataset, profile) run: knows where its results go and what to record.

    Create it at the top of a notebook from the resolved parameters (it notes the start time),
    then call :meth:`write` once at the end with the chapter's :class:`ChapterResult`.
    """

    def __init__(self, params: dict):
        self.params = dict(params)
        self.paper, self.dataset = params["paper"], params["dataset"]
        self.profile, self.seed = params["profile"], int(params.get("seed", 0))
        out_dir = params.get("results_dir")
        self.out_dir = Path(out_dir) if out_dir else results_dir() / self.paper / self.dataset / self.profile
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._t0 = time.time()

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.json"

    @staticmethod
    def _intervals(result: ChapterResult, metrics: dict, where: str) -> tuple[dict, dict | None]:
        """``metrics.json["intervals"]`` from the headline's predictions, and the record of the
        predictions file (``({}, None)`` when the chapter handed no predictions)."""
        pred = result.predictions
        if pred is None:
            return {}, None
        miss = [c for c in PREDICTION_COLUMNS if c not in pred.columns]
        if miss:
            raise ValueError(f"{where}: ChapterResult.predictions lacks columns {miss} (expected "
                             f"{list(PREDICTION_COLUMNS)}; see results.cv_predictions)")
        methods = list(dict.fromkeys(pred["method"]))
        head = result.extra.get("headline_method") if len(methods) > 1 else methods[0]
        if head not in methods:
            raise ValueError(f"{where}: predictions of several methods {methods} but extra['headline_method'] "
                             f"is {head!r}: say which method the headline metrics are")
        keys = [m for m in ("wa", "ua", "macro_f1") if metrics.get(m) is not None]
        intervals = headline_intervals(pred, len(result.confusion["labels"]), head, metrics=keys)
        return intervals, {"file": PREDICTIONS_FILE, "rows": int(len(pred)), "methods": methods,
                           "headline_method": head, "columns": list(PREDICTION_COLUMNS)}

    def write(self, result: ChapterResult, *, corpus) -> dict:
        """Write ``metrics.json`` (and ``config.json`` with the parameters) and return the dict.

        ``corpus`` (:class:`sercore.experiment.Corpus`) is the data the headline was measured on:
        it says whether the run is synthetic, carries the corpus caveat and is fingerprinted.
        """
        metrics = {k: result.metrics.get(k) for k in METRIC_KEYS}
        where = f"{self.paper} on {self.dataset} ({self.profile}, seed {self.seed})"
        intervals, pred_record = self._intervals(result, metrics, where)
        data = {
            "paper": self.paper, "dataset": self.dataset, "profile": self.profile,
            "protocol": result.protocol, "synthetic": bool(corpus.synthetic), "corpus_note": corpus.note,
            "seed": self.seed, "git_sha": git_sha(), "started": self.started,
            "runtime_s": round(time.time() - self._t0, 2), "device": device_name(),
            "metrics": metrics, "intervals": intervals,
            "per_class": result.per_class, "confusion": result.confusion,
            "comparisons": attach_intervals(_scoped(result.comparisons, result.protocol, corpus), metrics,
                                            intervals, bool(corpus.synthetic), self.paper, self.dataset),
            "scope": scope(result.protocol),
            "extra": {**result.extra, "environment": environment(), "params": self.params,
                      "corpus": corpus.record(), "predictions": pred_record},
        }
        try:
            validate_metrics(data)
        except MetricsError as e:
            raise MetricsError(f"{where}: not writing {self.metrics_path}: {e}") from None
        # metrics.json is what makes a folder a finished run: it is written last, after the files it
        # names, and a folder being rewritten stops claiming the earlier run first (its metrics.json, and
        # run_key.json, the key of the run that made the earlier files)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (self.metrics_path, self.out_dir / "run_key.json"):
            stale.unlink(missing_ok=True)
        if result.predictions is not None:
            cols = list(PREDICTION_COLUMNS)
            atomic_write(self.out_dir / PREDICTIONS_FILE, lambda tmp: result.predictions[cols].to_csv(tmp, index=False))
        config = json.dumps(_clean({"params": self.params, "seed": self.seed, "git_sha": data["git_sha"]}), indent=2)
        atomic_write(self.out_dir / "config.json", lambda tmp: tmp.write_text(config))
        write_metrics(data, self.metrics_path)
        return _clean(data)


# ----------------------------------------------------------------------------- reported vs measured

def scope(protocol: dict) -> dict:
    """What a run's test sets cover, from its protocol record (:func:`sercore.experiment.describe_folds`):
    ``{"complete": bool, "text": "2 of 10 folds; training trimmed to 6 per class"}``. A run that
    tests on fewer folds than the protocol has measures a different thing than the paper's number."""
    n, total = protocol.get("n_folds"), protocol.get("n_folds_total")
    parts = []
    complete = not (total and n is not None and n < total)
    if not complete:
        parts.append(f"{n} of {total} folds")
    tests = sum(f["sizes"]["test"] for f in protocol.get("folds", []))
    if tests:
        parts.append(f"{tests} test utterances")
    unfit = protocol.get("not_comparable") or []
    if unfit:
        parts.append(f"{len(unfit)} fold(s) flagged: {unfit[0]['reason']}")
    t = protocol.get("training_trimmed")
    if t:
        parts.append(f"training trimmed to {t['n_per_class']} per class")
    return {"complete": complete, "text": "; ".join(parts)}



def test_set_text(ts: dict) -> str:
    """A row's own test set (``test_set``: corpus, utterances, classes, folds) as one phrase:
    "URDU: 400 test utterances, 4 classes; every target utterance (0-shot)"."""
    return (f"{ts['corpus']}: {int(ts['utterances']):,} test utterances, {int(ts['classes'])} classes"
            + (f"; {ts['folds']}" if ts.get("folds") else ""))


def _scoped(comparisons, protocol: dict, corpus) -> list[dict]:
    """Comparison rows with ``comparable`` (False on synthetic data, or when the run tested on fewer
    folds than the protocol has, or when the chapter said so) and ``scope`` (what the test sets
    covered, e.g. "2 of 10 folds; 98 test utterances").

    A row that carries its own ``test_set`` (a multi-corpus run's cross-language or second-corpus row, whose
    test data is not the main corpus's folds) is scoped by it instead: its text, and ``complete`` for
    whether it tested all the data it names. A count (parameters, utterances) stands on no test set: no
    scope, and the folds tested do not make it incomparable."""

    sc = scope(protocol)
    fit = bool(protocol.get("comparable", True))       # False when a fold was flagged unfit
    out = []
    for c in comparisons:
        c = dict(c)
        ts = c.get("test_set")
        if c["metric"] in CHECK_METRICS:            # a count of the model or corpus: no test set behind it
            complete, text, own_fit = True, "", True
        elif ts:
            complete, text, own_fit = bool(ts.get("complete", True)), test_set_text(ts), True
        else:
            complete, text, own_fit = sc["complete"], sc["text"], fit
        c["comparable"] = bool(c.get("comparable", True)) and own_fit and complete and not corpus.synthetic
        c["scope"] = text
        out.append(c)
    return out


def comparison(table: str, row: str, metric: str, reported: float | None, measured: float | None,
               note: str = "") -> dict:
    """One row of the reported-vs-measured table (``reported`` copied from the paper)."""
    return {"table": table, "row": row, "metric": metric,
            "reported": None if reported is None else float(reported),
            "measured": None if measured is None else float(measured), "note": note}


def compare_with_paper(paper: str, table: str, row: str, measured: dict, *, column: str | None = None,
                       dataset: str | None = None, note: str = "") -> list[dict]:
    """Comparison rows for each metric in ``measured`` against the paper's reference cell.

    A metric the paper does not report gets ``reported=None`` (it is still shown); a question that
    matches several cells is an error (:func:`sercore.reference.get`).
    """
    from . import reference

    out = []
    for metric, value in measured.items():
        rep = reference.get(paper, table, row, metric, column=column, dataset=dataset, default=None)
        out.append(comparison(table, row if column is None else f"{row} [{column}]", metric, rep, value,
                              note))
    return out


def fmt_num(v, signed: bool = False) -> str:
    """A number as a table cell for people: two decimals; from 100,000 up whole, with thousands
    separators (a parameter count beside percentages); blank when absent. ``signed``: always a sign
    (a deviation)."""
    if v is None or v != v:
        return ""
    v = float(v)
    sign = "+" if signed else ""
    return f"{v:{sign},.0f}" if abs(v) >= 1e5 else f"{v:{sign}.2f}"


def fmt_interval(interval) -> str:
    """``[low, high]`` as a table cell, blank when there is none."""
    if not interval or any(v is None or v != v for v in interval):
        return ""
    return f"[{fmt_num(interval[0])}, {fmt_num(interval[1])}]"


def comparison_frame(comparisons: Iterable[dict]) -> pd.DataFrame:
    """Comparison rows (``metrics.json``'s) as a table for people: the paper's number (``reported``),
    ours (``measured``) with its 95% interval and the test data it stands on (``scope``), the deviation
    ``measured - reported`` and the note. Cells are text (:func:`fmt_num`): a parameter count in the
    same column as percentages must not turn the column into scientific notation."""
    rows = []
    for c in comparisons:
        rep, mea = c.get("reported"), c.get("measured")
        dev = mea - rep if rep is not None and mea is not None else None
        rows.append({"table": c["table"], "row": c["row"], "metric": c["metric"], "reported": fmt_num(rep),
                     "measured": fmt_num(mea), "95% interval": fmt_interval(c.get("interval")),
                     "deviation": fmt_num(dev, signed=True), "test data": c.get("scope") or "",
                     "note": c.get("note") or ""})
    return pd.DataFrame(rows, columns=["table", "row", "metric", "reported", "measured", "95% interval",
                                       "deviation", "test data", "note"])


def reference_table(paper: str, table: str) -> pd.DataFrame:
    """A paper's table as printed (reported numbers only), pivoted row × metric/column."""
    from . import reference

    ref = reference.load(paper)
    t = ref[ref.table == table].copy()
    if t.empty:
        raise KeyError(f"{paper}: no reference table {table!r}; known: {reference.tables(paper)}")
    t["col"] = np.where(t.column.fillna("") != "", t.column.fillna("") + " " + t.metric, t.metric)
    order = list(dict.fromkeys(t.row))
    cols = list(dict.fromkeys(t.col))
    return t.pivot_table(index="row", columns="col", values="value", aggfunc="first").loc[order, cols]


# ----------------------------------------------------------------------------- collection

def collect(root: str | os.PathLike | None = None) -> list[dict]:
    """Every valid ``metrics.json`` under ``root`` (default ``results/``), sorted by path.

    An invalid file is reported in the returned list as ``{"path", "error"}``,
    never dropped silently.
    """
    return _read_all(root, "*/*/*/metrics.json")


def _read_all(root: str | os.PathLike | None, pattern: str) -> list[dict]:
    """Every ``metrics.json`` matching ``pattern`` under ``root`` (default ``results/``), sorted by path,
    each with ``_path``; an invalid one as ``{"_path", "error"}``."""
    root = Path(root) if root else results_dir()
    out = []
    for p in sorted(root.glob(pattern)):
        try:
            d = read_metrics(p)
            d["_path"] = str(p)
            out.append(d)
        except ValueError as e:
            out.append({"_path": str(p), "error": str(e)})
    return out


VERDICTS = ("inside", "below", "above", "not comparable")


def scoreboard(runs: Sequence[dict]) -> pd.DataFrame:
    """Every comparison row of every run: paper, dataset, profile, data used, table, row, metric,
    reported (the paper's), measured (ours), low/high (our 95% interval), inside (the paper's number
    within it), verdict (inside | below | above | equal | not equal | not comparable: why; one run's own
    interval: :func:`sercore.reproduction.summary` pools the seeds), deviation, note."""
    rows = []
    for d in runs:
        if "error" in d:
            continue
        data = "synthetic" if d["synthetic"] else d["dataset"]
        # verdicts are decided again (sercore.results.decide), so a run written before a fix gets it
        comps = attach_intervals(d["comparisons"], d["metrics"], d.get("intervals") or {}, d["synthetic"],
                                 d["paper"], d["dataset"])
        for c in comps:
            iv = c.get("interval") or [None, None]
            rows.append({"paper": d["paper"], "dataset": d["dataset"], "profile": d["profile"],
                         "data used": data, "synthetic": d["synthetic"], **c, "low": iv[0], "high": iv[1]})
    cols = ["paper", "dataset", "profile", "data used", "synthetic", "table", "row", "metric",
            "reported", "measured", "low", "high", "inside", "verdict", "note"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("reported", "measured", "low", "high"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df.insert(len(cols) - 1, "deviation", df["measured"] - df["reported"])
    return df


def paper_summary(board: pd.DataFrame) -> pd.DataFrame:
    """Per paper: how many comparison rows reproduced (the paper's number inside our 95% interval),
    how many came out below or above it, and how many are not comparable (synthetic data, fewer folds,
    no interval, no reported number)."""
    kind = board["verdict"].fillna("not comparable").str.split(":").str[0]
    t = pd.crosstab(board["paper"], kind).reindex(columns=list(VERDICTS), fill_value=0)
    t.columns = ["reproduced (inside)", "ours below", "ours above", "not comparable"]
    t["rows"] = t.sum(axis=1)
    return t


def summary_text(summary: pd.DataFrame, what: str = "row") -> str:
    """The reading of per-paper verdict counts (:func:`paper_summary`, or
    :func:`sercore.reproduction.verdict_counts` with ``what="headline claim"``)."""
    if summary.empty:
        return f"No comparison {what}s: no chapter has been run."
    parts = []
    for paper, r in summary.iterrows():
        comparable = int(r["rows"] - r["not comparable"])
        if comparable == 0:
            parts.append(f"{paper}: none of its {int(r['rows'])} {what}(s) is comparable with the paper")
        else:
            parts.append(f"{paper}: {int(r['reproduced (inside)'])} of {comparable} comparable {what}(s) reproduce "
                         f"the paper's number within our 95% interval ({int(r['ours below'])} below, "
                         f"{int(r['ours above'])} above; {int(r['not comparable'])} not comparable)")
    return "; ".join(parts) + "."


def runs_frame(runs: Sequence[dict]) -> pd.DataFrame:
    """One line per run: headline metrics, protocol, runtime, device, commit."""
    rows = []
    for d in runs:
        if "error" in d:
            rows.append({"paper": None, "error": d["error"], "path": d["_path"]})
            continue
        iv = d.get("intervals", {})
        ci = {f"{k.upper()} 95% CI": (f"[{iv[k]['low']:.1f}, {iv[k]['high']:.1f}]" if k in iv else "–")
              for k in ("wa", "ua")}
        rows.append({"paper": d["paper"], "dataset": d["dataset"], "profile": d["profile"],
                     "synthetic": d["synthetic"], "protocol": d["protocol"].get("name"),
                     "WA": _round(d["metrics"]["wa"]), **{"WA 95% CI": ci["WA 95% CI"]},
                     "UA": _round(d["metrics"]["ua"]), **{"UA 95% CI": ci["UA 95% CI"]},
                     "macro_f1": _round(d["metrics"]["macro_f1"]), "weighted_f1": _round(d["metrics"]["weighted_f1"]),
                     "test utterances": next((v["n"] for v in iv.values()), None),
                     "runtime_s": d["runtime_s"], "device": d["device"], "git_sha": d["git_sha"][:12]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- export

EXPORT_COLUMNS = ("kind", "paper", "dataset", "profile", "synthetic", "method", "seed", "fold", "metric",
                  "value", "low", "high", "confidence", "reported", "inside", "verdict", "table", "row",
                  "source")


def load_predictions(run: dict) -> pd.DataFrame | None:
    """A collected run's per-utterance test predictions (``test_predictions.csv`` beside its
    ``metrics.json``), or None when it kept none. A missing file that metrics.json names is an error."""
    rec = (run.get("extra") or {}).get("predictions")
    if not rec:
        return None
    path = Path(run["_path"]).parent / rec["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{run['_path']} names test predictions {rec['file']} but {path} is missing")
    return pd.read_csv(path, dtype={"fold": str})


def collect_seeds(root: str | os.PathLike | None = None) -> list[dict]:
    """Every ``metrics.json`` of a run of another seed than the book's (``results/PAPER/DATASET/seeds/
    PROFILE/seed-S/``, where ``sercore run --seed S`` and a fan-out's further seeds write), as
    :func:`collect` gives them."""
    return _read_all(root, "*/*/seeds/*/seed-*/metrics.json")


def _predictions_problem(run: dict) -> dict | None:
    """``{"_path", "error"}`` when a collected run's test predictions cannot be read, hold values that are
    not class indices, or do not give its headline WA/UA/macro F1 again; None when sound (or none kept)."""
    from . import stats

    try:
        pred = load_predictions(run)
        if pred is None:
            return None
        miss = [c for c in PREDICTION_COLUMNS if c not in pred.columns]
        if miss:
            raise ValueError(f"its {PREDICTIONS_FILE} lacks the columns {miss}")
        n = len(run["confusion"]["labels"])
        head = (run["extra"].get("predictions") or {}).get("headline_method") or run["paper"]
        g = pred[pred["method"] == head]
        if g.empty:
            raise ValueError(f"its {PREDICTIONS_FILE} holds no row of the headline method {head!r}")
        for c in ("seed", "y_true", "y_pred"):
            if not pd.api.types.is_integer_dtype(pred[c]):
                raise ValueError(f"its {PREDICTIONS_FILE} column {c!r} holds values that are not whole numbers")
        if pred[["y_true", "y_pred"]].min().min() < 0 or pred[["y_true", "y_pred"]].max().max() >= n:
            raise ValueError(f"its {PREDICTIONS_FILE} holds class indices outside 0..{n - 1}")
        keys = [k for k in ("wa", "ua", "macro_f1") if run["metrics"].get(k) is not None]
        if keys:
            a = prediction_arrays(pred, head)
            got = stats.point_estimates(a["y_true"], a["y_pred"], a["fold"], n_classes=n, metrics=keys)
            off = [k for k in keys if abs(got[k] - float(run["metrics"][k])) > 1e-4]
            if off:
                raise ValueError("its headline " + ", ".join(f"{k} {float(run['metrics'][k]):.4f}" for k in off)
                                 + f" is not what its {PREDICTIONS_FILE} gives ("
                                 + ", ".join(f"{got[k]:.4f}" for k in off) + ")")
    except (ValueError, FileNotFoundError, KeyError, TypeError, pd.errors.ParserError) as e:
        return {"_path": run["_path"], "error": f"{run['_path']}: {e}"}
    return None


def export_frame(runs: Sequence[dict]) -> pd.DataFrame:
    """Every run and comparison row as one tidy table (one number per line), columns EXPORT_COLUMNS.

    kind ``headline``: a run's headline metric with its 95% interval; ``fold``: the metric of one
    (method, seed, fold) from the kept test predictions; ``comparison``: a row beside the paper
    (reported, inside, verdict, table and row of the paper). ``source`` is the metrics.json path.
    """
    from .metrics import classification_report

    rows = []
    for d in runs:
        if "error" in d:
            continue
        base = {"paper": d["paper"], "dataset": d["dataset"], "profile": d["profile"], "synthetic": d["synthetic"],
                "source": d["_path"]}
        head = (d["extra"].get("predictions") or {}).get("headline_method") or d["paper"]
        for k in METRIC_KEYS:
            iv = d.get("intervals", {}).get(k, {})
            rows.append({**base, "kind": "headline", "method": head, "seed": d["seed"], "fold": "all", "metric": k,
                         "value": d["metrics"].get(k), "low": iv.get("low"), "high": iv.get("high"),
                         "confidence": iv.get("confidence")})
        pred = load_predictions(d)
        if pred is not None:
            labels = d["confusion"]["labels"]
            for (m, s, f), g in pred.groupby(["method", "seed", "fold"], sort=False):
                rep = classification_report(g["y_true"], g["y_pred"], labels)["metrics"]
                rows += [{**base, "kind": "fold", "method": m, "seed": int(s), "fold": f, "metric": k, "value": v}
                         for k, v in rep.items()]
        for c in d["comparisons"]:
            iv = c.get("interval") or [None, None]
            rows.append({**base, "kind": "comparison", "method": head, "seed": d["seed"], "fold": "all",
                         "metric": c["metric"], "value": c["measured"], "low": iv[0], "high": iv[1],
                         "reported": c["reported"], "inside": c.get("inside"), "verdict": c.get("verdict"),
                         "table": c["table"], "row": c["row"]})
    return pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))


def export(path: str | os.PathLike, root: str | os.PathLike | None = None,
           skip_invalid: bool = False) -> tuple[Path, pd.DataFrame, list[str]]:
    """Write :func:`export_frame` of every run under ``root`` (default ``results/``) to ``path``
    (``.csv`` or ``.parquet``, the latter needs pyarrow). A run whose metrics.json is invalid (e.g.
    written before intervals existed) stops the export with every such path listed, or, with
    ``skip_invalid``, is left out and returned in the third element (the caller reports them)."""
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"export path must end in .csv or .parquet, got {path}")
    runs = collect(root) + collect_seeds(root)
    for r in runs:                          # its predictions must be readable and give its headline
        if "error" not in r:
            problem = _predictions_problem(r)
            if problem:
                r.clear()
                r.update(problem)
    bad = [r["error"] for r in runs if "error" in r]
    if bad and not skip_invalid:
        raise ValueError(f"{len(bad)} invalid metrics.json under {root or results_dir()} (run them again, or "
                         f"pass --skip-invalid to export the others):\n" + "\n".join(bad))
    df = export_frame(runs)
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as e:
            raise RuntimeError(f"writing {path}: Parquet needs pyarrow (pip install pyarrow), or use a .csv path") from e
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    else:
        atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
    return path, df, bad


def _round(x, nd: int = 2):
    return None if x is None else round(float(x), nd)


# ----------------------------------------------------------------------------- plots

def plot_confusion(confusion: dict, ax=None, normalize: bool = True, title: str | None = None):
    """Heat map of a confusion matrix (rows: true, columns: predicted), row-normalised in %."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(confusion["matrix"], dtype=float)
    labels = confusion["labels"]
    if normalize:
        cm = 100 * cm / np.clip(cm.sum(1, keepdims=True), 1, None)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.7 * len(labels), 0.8 + 0.6 * len(labels)))
    sns.heatmap(cm, annot=True, fmt=".0f" if normalize else "g", cmap="Blues", cbar=False,
                xticklabels=labels, yticklabels=labels, ax=ax, vmin=0, vmax=100 if normalize else None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: Sequence[dict], metrics: Sequence[str] = ("train_loss", "val_ua"), ax=None,
                 title: str | None = None):
    """Learning curves of one fit: losses on the left axis, percent metrics on the right."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    ep = [h["epoch"] for h in history]
    right = None
    handles = []
    for i, m in enumerate(metrics):
        if not history or m not in history[0]:
            continue
        on_right = "loss" not in m
        if on_right and right is None:
            right = ax.twinx()
            right.set_ylabel("%")
        a = right if on_right else ax
        handles += a.plot(ep, [h[m] for h in history], marker="o", ms=3, label=m, color=f"C{i}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if handles:
        ax.legend(handles=handles, labels=[h.get_label() for h in handles], loc="best")
    if title:
        ax.set_title(title)
    return ax


def scoreboard_display(board: pd.DataFrame) -> pd.DataFrame:
    """The scoreboard as the book shows it: numbers to two decimals, our interval as ``[low, high]``,
    notes as footnote numbers (see :func:`scoreboard_notes`)."""
    notes = {n: i + 1 for i, n in enumerate(dict.fromkeys(board["note"].fillna("")))}
    out = board.drop(columns=["note", "synthetic", "low", "high", "inside"]).copy()
    for c in ("reported", "measured", "deviation"):
        out[c] = out[c].round(2)
    out.insert(out.columns.get_loc("measured") + 1, "ours 95% interval",
               [f"[{lo:.2f}, {hi:.2f}]" if pd.notna(lo) else "–" for lo, hi in zip(board["low"], board["high"])])
    out["note"] = [f"[{notes[n]}]" if n else "" for n in board["note"].fillna("")]
    return out


def readable_tables(max_rows: int = 500, max_columns: int = 100) -> None:
    """Call once at the top of a notebook: every DataFrame it shows is whole and reads as a table.

    pandas shortens a long cell to "...", a long table to its first and last rows and a wide one to its
    first and last columns, which a reader of the HTML book cannot open, and writes an absent value as
    "NaN" (a paper's table leaves such cells blank). After this, cells are whole, tables up to
    ``max_rows`` rows and ``max_columns`` columns are whole, and an absent value is a dash. Outside
    IPython only the pandas options are set."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", max_rows)
    pd.set_option("display.max_columns", max_columns)
    try:
        from IPython import get_ipython
    except ImportError:                          # pragma: no cover - IPython is a dependency
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)


def frame_html(df: pd.DataFrame) -> str:
    """A DataFrame as the notebook's HTML (the same markup as pandas' own), an absent value as a dash,
    within pandas' display options (:func:`readable_tables` sets them)."""
    return df.to_html(na_rep="\u2013", notebook=True, max_rows=pd.get_option("display.max_rows"),
                      max_cols=pd.get_option("display.max_columns"), show_dimensions="truncate",
                      float_format=pd.get_option("display.float_format"))


_ITABLES_EMITTED = False


def table(df: pd.DataFrame, *, caption: str | None = None, page_length: int = 25, column_filters: bool = True):
    """An interactive table for the HTML book (itables' bundled DataTables, works offline): a search
    box, a filter box above every column (type a paper, dataset or profile), sorting by clicking a
    header, and pages of ``page_length`` rows. Numbers read as :func:`fmt_num` writes them (a parameter
    count whole, with separators) and sort as numbers; an absent one is a dash. The first table of a
    kernel also carries the DataTables bundle, so a static page needs nothing else. Returns an
    ``IPython.display.HTML``."""
    import itables
    from IPython.display import HTML
    from itables import javascript, options

    global _ITABLES_EMITTED
    shown = df.copy()
    for c in shown.columns:                    # None/NaN as a dash, never "NaN"/"null" in a cell
        if shown[c].dtype == object or str(shown[c].dtype) in ("str", "string", "bool", "boolean"):
            shown[c] = shown[c].map(lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
    show_index = not isinstance(shown.index, pd.RangeIndex)
    with pd.option_context("display.float_format", fmt_num):    # itables shows floats as pandas formats them
        html = itables.to_html_datatable(
            shown, caption=caption, connected=False, showIndex=show_index, pageLength=page_length,
            lengthMenu=[10, 25, 100, -1], column_filters="header" if column_filters else False,
            classes="display compact", maxBytes=0, allow_html=False)
    # an absent number in a float column: shown as a dash (itables writes "NaN"); it still sorts as NaN.
    # Both in the data of the interactive table and in the plain table shown without JavaScript.
    html = html.replace('[\\"NaN\\", \\"___NaN___\\"]', '[\\"\\u2013\\", \\"___NaN___\\"]')
    html = re.sub(r"(<td[^>]*>)NaN(</td>)", "\\1\u2013\\2", html)
    if not _ITABLES_EMITTED:
        html = javascript.generate_init_offline_itables_html(options.dt_bundle) + html
        _ITABLES_EMITTED = True
    return HTML(html)


def scoreboard_notes(board: pd.DataFrame) -> pd.DataFrame:
    """The distinct notes of a scoreboard, numbered as :func:`scoreboard_display` cites them."""
    notes = [n for n in dict.fromkeys(board["note"].fillna("")) if n]
    return pd.DataFrame({"note": notes}, index=[f"[{i + 1}]" for i in range(len(notes))])
