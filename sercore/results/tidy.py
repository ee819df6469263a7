"""The tidy export (``sercore results export``): every run and comparison row, one number per line, to a
``.csv`` or ``.parquet`` file; a run whose predictions do not give its headline again is refused."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..paths import atomic_write, results_dir
from .collection import collect, collect_seeds
from .metrics_json import METRIC_KEYS, PREDICTION_COLUMNS, PREDICTIONS_FILE
from .predictions import load_predictions, prediction_arrays


EXPORT_COLUMNS = ("kind", "paper", "dataset", "profile", "synthetic", "method", "seed", "fold", "metric",
                  "value", "low", "high", "confidence", "reported", "inside", "verdict", "table", "row",
                  "source")


def _predictions_problem(run: dict) -> dict | None:
    """``{"_path", "error"}`` when a collected run's test predictions cannot be read, hold values that are
    not class indices, or do not give its headline WA/UA/macro F1 again; None when sound (or none kept)."""
    from .. import stats

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
    from ..metrics import classification_report

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
