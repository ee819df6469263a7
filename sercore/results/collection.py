"""Every run's ``metrics.json`` collected, and the scoreboard drawn from them: one row per comparison,
verdicts per paper, one line per run, and the scoreboard as the book shows it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..paths import results_dir
from .comparisons import attach_intervals
from .metrics_json import read_metrics


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
                                 d["paper"], d["dataset"], per_class_intervals=d.get("per_class_intervals"))
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


def collect_seeds(root: str | os.PathLike | None = None) -> list[dict]:
    """Every ``metrics.json`` of a run of another seed than the book's (``results/PAPER/DATASET/seeds/
    PROFILE/seed-S/``, where ``sercore run --seed S`` and a fan-out's further seeds write), as
    :func:`collect` gives them."""
    return _read_all(root, "*/*/seeds/*/seed-*/metrics.json")


def _round(x, nd: int = 2):
    return None if x is None else round(float(x), nd)


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


def scoreboard_notes(board: pd.DataFrame) -> pd.DataFrame:
    """The distinct notes of a scoreboard, numbered as :func:`scoreboard_display` cites them."""
    notes = [n for n in dict.fromkeys(board["note"].fillna("")) if n]
    return pd.DataFrame({"note": notes}, index=[f"[{i + 1}]" for i in range(len(notes))])
