"""A run's writer: what a chapter measured (:class:`ChapterResult`) written by :class:`Run` into
``results/PAPER/DATASET/PROFILE/`` (``metrics.json``, ``config.json``, the test predictions), with its
provenance (commit, libraries, device)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..paths import atomic_write, results_dir
from .comparisons import _scoped, attach_intervals, scope
from .metrics_json import (METRIC_KEYS, PREDICTION_COLUMNS, PREDICTIONS_FILE, MetricsError, _clean,
                           validate_metrics, write_metrics)
from .predictions import run_intervals


# ----------------------------------------------------------------------------- provenance

def git_sha(repo: str | os.PathLike | None = None) -> str:
    """Commit of the code that ran (``+dirty`` when tracked files were modified), or ``unknown``."""
    cwd = str(repo or Path(__file__).resolve().parents[2])
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
    def _intervals(result: ChapterResult, metrics: dict, where: str) -> tuple[dict, dict, dict | None]:
        """``metrics.json["intervals"]`` and ``["per_class_intervals"]`` from the headline's predictions
        (:func:`run_intervals`), and the record of the predictions file (``({}, {}, None)`` when the
        chapter handed no predictions)."""
        pred = result.predictions
        if pred is None:
            return {}, {}, None
        miss = [c for c in PREDICTION_COLUMNS if c not in pred.columns]
        if miss:
            raise ValueError(f"{where}: ChapterResult.predictions lacks columns {miss} (expected "
                             f"{list(PREDICTION_COLUMNS)}; see results.cv_predictions)")
        methods = list(dict.fromkeys(pred["method"]))
        head = result.extra.get("headline_method") if len(methods) > 1 else methods[0]
        if head not in methods:
            raise ValueError(f"{where}: predictions of several methods {methods} but extra['headline_method'] "
                             f"is {head!r}: say which method the headline metrics are")
        keys = [m for m in METRIC_KEYS if metrics.get(m) is not None]
        intervals, per_class = run_intervals(pred, list(result.confusion["labels"]), head, metrics=keys)
        return intervals, per_class, {"file": PREDICTIONS_FILE, "rows": int(len(pred)), "methods": methods,
                           "headline_method": head, "columns": list(PREDICTION_COLUMNS)}

    def write(self, result: ChapterResult, *, corpus) -> dict:
        """Write ``metrics.json`` (and ``config.json`` with the parameters) and return the dict.

        ``corpus`` (:class:`sercore.experiment.Corpus`) is the data the headline was measured on:
        it says whether the run is synthetic, carries the corpus caveat and is fingerprinted.
        """
        metrics = {k: result.metrics.get(k) for k in METRIC_KEYS}
        where = f"{self.paper} on {self.dataset} ({self.profile}, seed {self.seed})"
        intervals, per_class_intervals, pred_record = self._intervals(result, metrics, where)
        data = {
            "paper": self.paper, "dataset": self.dataset, "profile": self.profile,
            "protocol": result.protocol, "synthetic": bool(corpus.synthetic), "corpus_note": corpus.note,
            "seed": self.seed, "git_sha": git_sha(), "started": self.started,
            "runtime_s": round(time.time() - self._t0, 2), "device": device_name(),
            "metrics": metrics, "intervals": intervals,
            "per_class": result.per_class, "per_class_intervals": per_class_intervals, "confusion": result.confusion,
            "comparisons": attach_intervals(_scoped(result.comparisons, result.protocol, corpus), metrics,
                                            intervals, bool(corpus.synthetic), self.paper, self.dataset,
                                            per_class_intervals=per_class_intervals),
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
