"""The gap between a paper's number and ours, as a sum of measured parts.

A chapter that can break its gap down (``gap_parts(items)`` in ``sercore/chapters/<paper>.py``) measures
each known difference between its published runs and the paper's procedure with a run of its own, and
:func:`gap_table` sets them out: the paper's number, our seed mean, the gap, each part with the runs it
comes from, and the unexplained rest (the gap minus the parts' sum). Each part is measured alone against
the same published runs, so parts that interact may not add up exactly; the rest says how much is left.
Nothing here is typed by hand: every value is computed from the records it names.
"""
from __future__ import annotations

import statistics
from typing import Sequence

import pandas as pd

#: the columns of :func:`gap_table`
COLUMNS = ("part", "points", "spread", "measured by")


def _mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    vals = [float(v) for v in values]
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def gap_table(metric: str, paper: tuple[float, str], published: Sequence[float], source: str,
              parts: Sequence[dict]) -> pd.DataFrame:
    """One metric's gap as a table.

    ``paper``: (the paper's number, "Table II, Proposed"); ``published``: our number per seed (the
    headline of each published run) and ``source`` the records they are (``records/ctmam/emodb/reference,
    seeds 0-2``); ``parts``: ``{"part": what differs, "values": per-seed differences (points the paper's
    practice adds to ours, + when it raises our number), "from": the runs that measured it}`` — a part whose
    ``values`` is empty is listed as not measured, with its ``from`` saying why.
    Rows: paper, published mean, gap (paper − published), each part, the parts' sum, the unexplained rest.
    ``points`` are the means over seeds; ``spread`` their standard deviation over seeds (blank for one).
    """
    mean, sd = _mean_sd(published)
    gap = float(paper[0]) - mean
    rows = [{"part": f"paper: {metric.upper()} ({paper[1]})", "points": float(paper[0]), "spread": None,
             "measured by": "copied from the paper"},
            {"part": f"measured: {metric.upper()}, mean of {len(published)} seed(s)", "points": mean,
             "spread": sd, "measured by": source},
            {"part": "gap (paper − measured)", "points": gap, "spread": None, "measured by": "the two rows above"}]
    total = 0.0
    for p in parts:
        if p["values"]:
            m, s = _mean_sd(p["values"])
            total += m
            rows.append({"part": f"part: {p['part']}", "points": m, "spread": s, "measured by": p["from"]})
        else:
            rows.append({"part": f"part: {p['part']}", "points": None, "spread": None,
                         "measured by": f"not measured: {p['from']}"})
    rows.append({"part": "sum of the measured parts", "points": total, "spread": None,
                 "measured by": "the parts above, each measured alone"})
    rest = gap - total
    rows.append({"part": "unexplained rest (gap − parts)", "points": rest, "spread": None,
                 "measured by": "what no run here explains" if rest >= 0 else
                 "negative: the measured parts overlap (each was measured alone, and together they explain more "
                 "than the whole gap)"})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def seeds_text(items: Sequence[dict]) -> str:
    """Where a cell's runs are: ``records/<paper>/<dataset>/<profile>, seed(s) 0, 1, 2`` for published
    records, ``this build's <profile> run, seed(s) 0`` for runs of a build (no provenance)."""
    m = items[0]["metrics"]
    seeds = ", ".join(str(i["metrics"].get("seed", 0)) for i in items)
    if items[0].get("provenance"):
        return f"records/{m['paper']}/{m['dataset']}/{m['profile']}, seed(s) {seeds}"
    return f"this build's {m['profile']} run of {m['paper']} on {m['dataset']}, seed(s) {seeds}"


def for_run(out: dict, profile: str = "reference", records_root=None) -> tuple[pd.DataFrame | None, str]:
    """The gap table a chapter page shows for its run ``out`` (the chapter's metrics.json dict), and one
    sentence saying what it stands on: the published ``profile`` runs of the same paper and dataset in
    ``records/`` when there are any, else this build's run alone. The parts come from the chapter's own
    ``gap_parts(items)`` (``sercore/chapters/<paper>.py``); ``(None, why)`` where the chapter has none or
    the run is not one it can break down (another corpus, no gap checks kept)."""
    import importlib

    from .records import published_cells

    items = published_cells(records_root, out["paper"], out["dataset"]).get((out["paper"], out["dataset"], profile), [])
    published = bool(items)
    if not items:
        items = [{"folder": None, "provenance": None, "metrics": out}]
    from .registry import papers

    module = papers()[out["paper"]].chapter         # a chapter, or a study (the leaderboard: no gap to a paper)
    fn = getattr(importlib.import_module(module), "gap_parts", None)
    table = fn(items, records_root=records_root) if fn else None
    if table is None:
        return None, (f"{out['paper']} does not break its gap to the paper into measured parts on "
                      f"{out['dataset']}: the chapter has no such breakdown for this corpus, or the runs keep no "
                      "gap checks (the reference profile keeps them).")
    where = seeds_text(items)
    return table, (f"**The gap to the paper, as measured parts** ({where}"
                   + ("" if published else "; no published run of this cell is in records/, so the parts come from "
                      "this build's run, whose profile may keep fewer checks") + "). Each part is the difference a "
                   "run measured when it changed one thing toward the paper's procedure; the rest is what no run "
                   "explains.")


def show(out: dict, profile: str = "reference", records_root=None) -> None:
    """Display :func:`for_run`'s sentence and table in a notebook (numbers to 2 decimals)."""
    from IPython.display import Markdown, display

    table, text = for_run(out, profile, records_root)
    display(Markdown(text))
    if table is not None:
        display(table.round(2))
