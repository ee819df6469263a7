"""Results: ``metrics.json`` (write, read, validate), reported-vs-measured tables, plots.

Every executed notebook writes one ``results/PAPER/DATASET/PROFILE/metrics.json``
in the schema of DESIGN.md through :class:`Run`. Reported numbers come from the
paper reference tables (:mod:`sercore.reference`, copied with table and row);
measured numbers come from the run. :func:`collect` gathers every file for the
scoreboard.
"""
from __future__ import annotations

import json
import math
import os
import platform
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
            "started", "runtime_s", "device", "metrics", "per_class", "confusion", "comparisons", "extra")
COMPARISON_KEYS = ("table", "row", "metric", "reported", "measured", "note")

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
STRICT_SECTIONS = ("metrics", "per_class", "confusion", "comparisons")


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


def _clean(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN to None (only after :func:`validate_metrics`
    has refused non-finite numbers in :data:`STRICT_SECTIONS`)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def validate_metrics(data: dict) -> dict:
    """Check a ``metrics.json`` dict against the DESIGN.md schema; return it.

    Every number in :data:`STRICT_SECTIONS` (headline metrics, per-class table, confusion matrix,
    comparison rows) must be finite: NaN or Inf there is a problem named by its path, never null.
    Raises :class:`MetricsError` (a ``ValueError``) listing every problem found.
    """
    problems = [f"missing key {k!r}" for k in TOP_KEYS if k not in data]
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
            miss = [k for k in COMPARISON_KEYS if k not in c]
            if miss:
                problems.append(f"comparisons[{i}] misses {miss}")
    if problems:
        raise MetricsError("invalid metrics.json:\n  " + "\n  ".join(problems))
    return data_in


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
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read metrics.json ({e})") from e
    try:
        return validate_metrics(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


@dataclass
class ChapterResult:
    """What a chapter's ``run(P, corpus)`` measured: the headline, and everything its notebook shows.

    ``metrics``/``per_class``/``confusion``/``comparisons``/``extra`` go into ``metrics.json``
    (DESIGN.md's schema) through :meth:`Run.write`; ``figures`` holds the data the notebook's figures
    and tables are drawn from (histories, embeddings, frames) and is not written.
    """

    protocol: dict                              # sercore.protocols.describe(...) of the headline folds
    metrics: dict                               # wa, ua, macro_f1, weighted_f1 in percent
    per_class: dict                             # label -> precision, recall, f1, support
    confusion: dict                             # {"labels": [...], "matrix": [[...]]}
    comparisons: list = field(default_factory=list)   # results.comparison(...) rows beside the paper
    extra: dict = field(default_factory=dict)   # ablations, curves, parameter counts: metrics.json["extra"]
    figures: dict = field(default_factory=dict)  # data for the notebook's figures and tables (not written)


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

    def write(self, result: ChapterResult, *, corpus) -> dict:
        """Write ``metrics.json`` (and ``config.json`` with the parameters) and return the dict.

        ``corpus`` (:class:`sercore.experiment.Corpus`) is the data the headline was measured on:
        it says whether the run is synthetic, carries the corpus caveat and is fingerprinted.
        """
        data = {
            "paper": self.paper, "dataset": self.dataset, "profile": self.profile,
            "protocol": result.protocol, "synthetic": bool(corpus.synthetic), "corpus_note": corpus.note,
            "seed": self.seed, "git_sha": git_sha(), "started": self.started,
            "runtime_s": round(time.time() - self._t0, 2), "device": device_name(),
            "metrics": {k: result.metrics.get(k) for k in METRIC_KEYS},
            "per_class": result.per_class, "confusion": result.confusion,
            "comparisons": list(result.comparisons),
            "extra": {**result.extra, "environment": environment(), "params": self.params,
                      "corpus": corpus.record()},
        }
        try:
            write_metrics(data, self.metrics_path)
        except MetricsError as e:
            raise MetricsError(f"{self.paper} on {self.dataset} ({self.profile}, seed {self.seed}): not "
                               f"writing {self.metrics_path}: {e}") from None
        (self.out_dir / "config.json").write_text(json.dumps(
            _clean({"params": self.params, "seed": self.seed, "git_sha": data["git_sha"]}), indent=2))
        return _clean(data)


# ----------------------------------------------------------------------------- reported vs measured

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


def comparison_frame(comparisons: Iterable[dict]) -> pd.DataFrame:
    """Comparison rows as a table with the deviation ``measured - reported``."""
    df = pd.DataFrame(list(comparisons), columns=list(COMPARISON_KEYS))
    df["deviation"] = df["measured"] - df["reported"]
    return df[["table", "row", "metric", "reported", "measured", "deviation", "note"]]


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
    root = Path(root) if root else results_dir()
    out = []
    for p in sorted(root.glob("*/*/*/metrics.json")):
        try:
            d = read_metrics(p)
            d["_path"] = str(p)
            out.append(d)
        except ValueError as e:
            out.append({"_path": str(p), "error": str(e)})
    return out


def scoreboard(runs: Sequence[dict]) -> pd.DataFrame:
    """Every comparison row of every run: paper, dataset, profile, data used, reported, measured."""
    rows = []
    for d in runs:
        if "error" in d:
            continue
        data = "synthetic" if d["synthetic"] else d["dataset"]
        for c in d["comparisons"]:
            rows.append({"paper": d["paper"], "dataset": d["dataset"], "profile": d["profile"],
                         "data used": data, "synthetic": d["synthetic"], **c})
    cols = ["paper", "dataset", "profile", "data used", "synthetic", "table", "row", "metric",
            "reported", "measured", "note"]
    df = pd.DataFrame(rows, columns=cols)
    df.insert(10, "deviation", df["measured"] - df["reported"])
    return df


def runs_frame(runs: Sequence[dict]) -> pd.DataFrame:
    """One line per run: headline metrics, protocol, runtime, device, commit."""
    rows = []
    for d in runs:
        if "error" in d:
            rows.append({"paper": None, "error": d["error"], "path": d["_path"]})
            continue
        rows.append({"paper": d["paper"], "dataset": d["dataset"], "profile": d["profile"],
                     "synthetic": d["synthetic"], "protocol": d["protocol"].get("name"),
                     **{k.upper() if k in ("wa", "ua") else k: _round(d["metrics"][k]) for k in METRIC_KEYS},
                     "runtime_s": d["runtime_s"], "device": d["device"], "git_sha": d["git_sha"][:12]})
    return pd.DataFrame(rows)


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


def style_scoreboard(board: pd.DataFrame):
    """The scoreboard for display: numbers to two decimals, synthetic rows shaded, notes as
    footnote numbers (see :func:`scoreboard_notes`)."""
    notes = {n: i + 1 for i, n in enumerate(dict.fromkeys(board["note"].fillna("")))}
    shown = board.drop(columns=["note"]).assign(
        note=[f"[{notes[n]}]" if n else "" for n in board["note"].fillna("")])

    def shade(row):
        return ["background-color: #fff4e0" if row["synthetic"] else ""] * len(row)

    return (shown.style.apply(shade, axis=1)
            .format({"reported": "{:.2f}", "measured": "{:.2f}", "deviation": "{:+.2f}"}, na_rep="–")
            .hide(axis="index").set_table_attributes('class="sortable"'))


def sortable(df: pd.DataFrame, precision: int = 2):
    """A table the HTML book lets a reader sort by clicking a column header (``_static/sortable.js``)."""
    return df.style.format(precision=precision, na_rep="–").set_table_attributes('class="sortable"')


def scoreboard_notes(board: pd.DataFrame) -> pd.DataFrame:
    """The distinct notes of a scoreboard, numbered as :func:`style_scoreboard` cites them."""
    notes = [n for n in dict.fromkeys(board["note"].fillna("")) if n]
    return pd.DataFrame({"note": notes}, index=[f"[{i + 1}]" for i in range(len(notes))])
