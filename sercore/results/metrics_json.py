"""``metrics.json``: its keys, its validation (every problem named by its path), writing and reading.

The schema is ``docs/contracts.md``'s. :class:`MetricsError` is what an unsound file raises.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..paths import atomic_write


METRIC_KEYS = ("wa", "ua", "macro_f1", "weighted_f1")
TOP_KEYS = ("paper", "dataset", "profile", "protocol", "synthetic", "corpus_note", "seed", "git_sha",
            "started", "runtime_s", "device", "metrics", "intervals", "per_class", "confusion", "comparisons",
            "extra")
#: keys added since the first schema: a file written before lacks them and is still read
#: (``per_class_intervals``: {label: {"precision" | "recall" | "f1": interval}}, from the same resamples as ``intervals``)
OPTIONAL_TOP_KEYS = ("per_class_intervals",)
CLASS_STATS = ("precision", "recall", "f1")
COMPARISON_KEYS = ("table", "row", "metric", "reported", "measured", "note")
# what Run.write adds to each comparison row: our interval of the measured number ([low, high] or
# None) and whether the paper's number lies inside it (True/False, or None: not comparable, why in
# ``verdict``)
COMPARISON_STAT_KEYS = ("interval", "inside", "verdict")
INTERVAL_KEYS = ("estimate", "low", "high", "confidence", "method", "n", "folds", "seeds", "n_resamples")
PREDICTION_COLUMNS = ("method", "seed", "fold", "row", "y_true", "y_pred")
PREDICTIONS_FILE = "test_predictions.csv"   # (ctmam writes its own predictions.csv of every variant)


class MetricsError(ValueError):
    """A ``metrics.json`` that is not a sound result (schema problems, or a non-finite number where a
    measured value belongs); the message lists every problem."""


# Sections whose numbers are the measured result: each number in them must be finite. A value that
# was not measured is ``None`` (e.g. a per-class recall of a class absent from the test set, or a
# comparison row the run does not measure); NaN/Inf is never turned into null here. ``extra`` is
# free-form (curves, a std over one fold) and is written with NaN/Inf as null.
STRICT_SECTIONS = ("metrics", "intervals", "per_class_intervals", "per_class", "confusion", "comparisons")


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
              "per_class": (dict,), "per_class_intervals": (dict,), "confusion": (dict,), "comparisons": (list,),
              "extra": (dict,)}


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
    ivs = [(f"intervals.{m}", iv) for m, iv in data["intervals"].items()]
    for label, stats in data.get("per_class_intervals", {}).items():
        if want(f"per_class_intervals.{label}", stats, (dict,)):
            ivs += [(f"per_class_intervals.{label}.{st}", iv) for st, iv in stats.items()]
    for path, iv in ivs:
        if want(path, iv, (dict,)):
            for k in ("estimate", "low", "high", "confidence"):
                if k in iv:
                    want(f"{path}.{k}", iv[k], ("number",))
            for k in ("n", "folds", "seeds", "n_resamples"):
                if k in iv:
                    want(f"{path}.{k}", iv[k], (int,))
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
        problems += _per_class_interval_problems(data.get("per_class_intervals", {}), data["per_class"])
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
        out += _one_interval_problems(f"intervals.{m}", iv, metrics.get(m), f"the headline metrics.{m}")
    return out


def _one_interval_problems(path: str, iv: dict, value, what: str) -> list[str]:
    """What is wrong with one interval (``path`` names it), whose estimate must be ``value`` (``what``
    names it; None: not checked)."""
    miss = [k for k in INTERVAL_KEYS if k not in iv]
    if miss:
        return [f"{path} misses {miss}"]
    out = []
    if not iv["low"] <= iv["estimate"] <= iv["high"]:
        out.append(f"{path}: need low <= estimate <= high, got {iv['low']}, {iv['estimate']}, {iv['high']}")
    if not (0 <= iv["low"] and iv["high"] <= 100):
        out.append(f"{path} must be in percent (0-100), got [{iv['low']}, {iv['high']}]")
    if not 0 < iv["confidence"] < 1 or not isinstance(iv["method"], str) or not iv["method"]:
        out.append(f"{path}: confidence in (0, 1) and a method description are required")
    if not isinstance(iv["n"], int) or iv["n"] < 1:
        out.append(f"{path}.n must be the number of test utterances (>= 1), got {iv['n']!r}")
    if value is not None and abs(value - iv["estimate"]) > 1e-6 * max(1.0, abs(value)):
        out.append(f"{path}.estimate {iv['estimate']} is not {what} {value}: "
                   "the interval was computed from other predictions than the headline's")
    return out


def _per_class_interval_problems(per_class_intervals: dict, per_class: dict) -> list[str]:
    """What is wrong with ``metrics.json["per_class_intervals"]`` ({label: {stat: interval}}): a label of
    ``per_class``, a statistic of :data:`CLASS_STATS`, and (one seed: ``per_class`` is that seed's table)
    an estimate equal to the per-class table's value."""
    out = []
    for label, stats in per_class_intervals.items():
        if label not in per_class:
            out.append(f"per_class_intervals.{label}: not a class of per_class ({sorted(per_class)})")
            continue
        for st, iv in stats.items():
            if st not in CLASS_STATS:
                out.append(f"per_class_intervals.{label}.{st}: not a per-class statistic (expected one of {CLASS_STATS})")
                continue
            value = per_class[label].get(st) if iv.get("seeds") == 1 else None
            out += _one_interval_problems(f"per_class_intervals.{label}.{st}", iv, value, f"per_class.{label}.{st}")
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
