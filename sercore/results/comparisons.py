"""Reported vs measured: comparison rows beside the paper's reference cells, what test data they stand
on, and :func:`decide`, the one decision of what is comparable (and the verdict)."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .display import fmt_interval, fmt_num


HEADLINE_TOLERANCE = 0.005 + 1e-9  # a row rounded to 2 decimals still names the headline value
METRIC_ALIASES = {"accuracy": "wa"}   # a comparison row's metric -> the headline metric it is
#: a row's metric -> the run-wide metrics it may be (the one whose estimate is the row's measured number is);
#: a paper's unnamed "F1" is the weighted or the macro F1 (the chapter's note says which)
HEADLINE_CANDIDATES = {"wa": ("wa",), "accuracy": ("wa",), "acc6": ("wa",), "ua": ("ua",),
                       "macro_f1": ("macro_f1",), "weighted_f1": ("weighted_f1",), "f1": ("weighted_f1", "macro_f1")}
#: a per-class row's metric (the row names a class) -> the per-class statistic it may be; a paper's per-class
#: "accuracy" (recognition rate) is the class recall when the measured number is
CLASS_CANDIDATES = {"precision": ("precision",), "recall": ("recall",), "accuracy": ("recall",), "f1": ("f1",)}


def run_corpora(dataset: str) -> set[str]:
    """The corpora a run on ``dataset`` (a params file name) measures, in the reference tables' names:
    ``iemocap_text`` -> {iemocap}, ``emodb_urdu`` -> {emodb, urdu}; empty for the synthetic corpus and a
    corpus no paper reports on (derived from the corpora's declarations: :func:`sercore.registry.compared_corpora`)."""
    from ..registry import compared_corpora

    return compared_corpora(dataset)


def paper_corpora(paper: str) -> tuple[str, ...] | None:
    """The corpora of a paper's reported numbers (its declaration), or None for a study or an unknown key."""
    from ..registry import papers

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
    from .. import reference

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


def row_class(row, labels) -> str | None:
    """The class of ``labels`` a comparison row names, or None: the row is the class ("Neutral" for
    ``neutral``) or ends with it in brackets ("MLCCT [Happy]"); case does not matter."""
    import re

    by_lower = {str(lab).lower(): lab for lab in labels}
    text = str(row).strip()
    m = re.search(r"\[([^\]]+)\]\s*$", text)
    for name in (text, m.group(1) if m else None):
        if name is not None and name.strip().lower() in by_lower:
            return by_lower[name.strip().lower()]
    return None


def row_interval(c: dict, intervals: dict | None, per_class_intervals: dict | None = None,
                 metrics: dict | None = None) -> tuple[dict | None, str]:
    """The run's interval of comparison row ``c``'s measured number, or why there is none.

    A row that names a class (:func:`row_class`) is that class's precision, recall or F1
    (``per_class_intervals``, {label: {stat: interval}}); any other row is a run-wide metric
    (``intervals``, {metric: interval}). Of the candidates its metric may be (:data:`HEADLINE_CANDIDATES`,
    :data:`CLASS_CANDIDATES`), the interval is the one whose estimate is the measured number (within
    :data:`HEADLINE_TOLERANCE`: a chapter may round to 2 decimals; an interval without ``estimate`` is
    of the headline value ``metrics[k]``): a number of another model (an ablation variant, a baseline)
    matches none, as the run keeps its headline model's predictions only.
    A row that carries its own interval (``own_interval``: a chapter that bootstraps each row from that
    row's own test predictions, e.g. MDAT's per-corpus and cross-language rows) is decided on it.
    Returns ``(interval, "")`` or ``(None, "no interval: <why>")``.
    """
    own = c.get("own_interval")
    if own and c.get("measured") is not None and abs(float(c["measured"]) - float(own["estimate"])) <= HEADLINE_TOLERANCE:
        return own, ""
    intervals, per_class_intervals = intervals or {}, per_class_intervals or {}
    label = row_class(c["row"], per_class_intervals)
    metric = c["metric"]
    if label is not None:
        found, kinds = per_class_intervals[label], CLASS_CANDIDATES.get(metric, ())
        what = " or ".join(kinds) + f" of class {label}"
    elif metric in CLASS_CANDIDATES and metric not in HEADLINE_CANDIDATES:      # precision, recall: of a class
        found, kinds = {}, CLASS_CANDIDATES[metric]
        what = f"per-class {metric} for the class of row {c['row']!r}"
    else:
        found, kinds = intervals, HEADLINE_CANDIDATES.get(metric, (metric,) if metric in intervals else ())
        what = " or ".join(kinds)
    if not kinds:
        return None, (f"no interval: a 95% interval is computed for WA, UA, macro and weighted F1 and per-class "
                      f"precision, recall and F1; this row is {metric}")
    if not intervals and not per_class_intervals:
        return None, "no interval: the run kept no test predictions"
    if not [k for k in kinds if k in found]:
        return None, (f"no interval: the run's metrics.json holds no interval of {what} (written before they "
                      f"were computed, and no test predictions to derive them from)")
    for k in kinds:
        iv = found.get(k)
        est = None if iv is None else iv.get("estimate", (metrics or {}).get(k) if found is intervals else None)
        if est is not None and abs(float(c["measured"]) - float(est)) <= HEADLINE_TOLERANCE:
            return iv, ""
    return None, (f"no interval: the number is not the headline model's {what} (an ablation or other model; "
                  f"the run keeps the test predictions of its headline model only)")


def _why_in_note(note) -> str:
    """The reason a chapter wrote into a row's note as ``not comparable: <why>`` (rows written before the
    chapter also set ``why``), or ''."""
    head, sep, why = str(note or "").partition("not comparable: ")
    return why.strip() if sep else ""


def decide(c: dict, metrics: dict, intervals: dict | None, synthetic: bool, paper: str | None = None,
           dataset: str | None = None, per_class_intervals: dict | None = None) -> dict:
    """The decision for one comparison row ``c`` (``table, row, metric, reported, measured`` and the
    marks ``comparable``/``why``/``scope`` of :func:`sercore.results._scoped`) of a run with headline
    ``metrics``, ``intervals`` (``{metric: {"low", "high", "estimate", ...}}``) and
    ``per_class_intervals`` (``{label: {"precision" | "recall" | "f1": interval}}``); the row's interval is
    :func:`row_interval`'s.

    Returns ``{"interval": [low, high] | None, "inside": bool | None, "comparable": bool, "verdict": str}``:
    ``verdict`` is inside | below | above (a score) | equal | not equal (a count) | ``not comparable: <why>``
    and ``comparable`` is True exactly for the first five. The row's input mark is read from
    ``scope_comparable`` when present (a row this function already decided), else ``comparable``.
    """
    intervals = intervals or {}
    ours = run_corpora(dataset) if dataset else set()
    theirs_all = paper_corpora(paper) if paper and dataset else None
    elsewhere = theirs_all is not None and not (ours & set(theirs_all))
    iv, why_none = (row_interval(c, intervals, per_class_intervals, metrics) if c["measured"] is not None
                    else (None, "not measured by this run"))
    interval = [iv["low"], iv["high"]] if iv is not None else None
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
        return no(c.get("why") or _why_in_note(c.get("note")) or c.get("scope") or "the chapter marks this row so")
    if paper and ours and (theirs := paper_corpus(paper, c)) and theirs not in ours:
        return no(f"the paper's number is on {theirs}, this run on {dataset}")
    if elsewhere:
        return no("the paper reports no number on this corpus")
    if c["metric"] in CHECK_METRICS:
        same = _same_count(c["measured"], c["reported"])
        return {"interval": None, "inside": None, "comparable": True, "verdict": "equal" if same else "not equal"}
    if iv is None:
        return no(why_none)
    inside = bool(iv["low"] <= c["reported"] <= iv["high"])
    return {"interval": interval, "inside": inside, "comparable": True,
            "verdict": "inside" if inside else ("below" if iv["high"] < c["reported"] else "above")}


def attach_intervals(comparisons: Sequence[dict], metrics: dict, intervals: dict, synthetic: bool,
                     paper: str | None = None, dataset: str | None = None,
                     per_class_intervals: dict | None = None) -> list[dict]:
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
        c.update(decide(c, metrics, intervals, synthetic, paper, dataset, per_class_intervals))
        c["scope_comparable"] = bool(mark) if mark is not None else True
        out.append(c)
    return out


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
    from .. import reference

    out = []
    for metric, value in measured.items():
        rep = reference.get(paper, table, row, metric, column=column, dataset=dataset, default=None)
        out.append(comparison(table, row if column is None else f"{row} [{column}]", metric, rep, value,
                              note))
    return out


def row_key(c: dict) -> tuple:
    """What identifies a comparison row across seeds: table, row, metric and the corpus of the paper's number
    (``paper_dataset``). A run over several corpora has one "Table II / MDAT / ua" row per corpus (84.5 on
    EMODB, 82.81 on EMOVO, 94.33 on URDU): keyed on table, row and metric alone they were pooled as if they
    were seeds of one row."""
    return (c["table"], c["row"], c["metric"], c.get("paper_dataset"))


def row_label(c: dict) -> str:
    """The row's name for a table, with the corpus of the paper's number when the name does not say it
    ("MDAT (EMOVO)")."""
    row, ds = str(c["row"]), c.get("paper_dataset")
    return f"{row} ({ds.upper()})" if ds and ds.lower() not in row.lower() else row


def comparison_frame(comparisons: Iterable[dict]) -> pd.DataFrame:
    """Comparison rows (``metrics.json``'s) as a table for people: the paper's number (``reported``),
    ours (``measured``) with its 95% interval and the test data it stands on (``scope``), the deviation
    ``measured - reported`` and the note. Cells are text (:func:`fmt_num`): a parameter count in the
    same column as percentages must not turn the column into scientific notation."""
    rows = []
    for c in comparisons:
        rep, mea = c.get("reported"), c.get("measured")
        dev = mea - rep if rep is not None and mea is not None else None
        rows.append({"table": c["table"], "row": row_label(c), "metric": c["metric"], "reported": fmt_num(rep),
                     "measured": fmt_num(mea), "95% interval": fmt_interval(c.get("interval")),
                     "deviation": fmt_num(dev, signed=True), "test data": c.get("scope") or "",
                     "note": c.get("note") or ""})
    return pd.DataFrame(rows, columns=["table", "row", "metric", "reported", "measured", "95% interval",
                                       "deviation", "test data", "note"])


def reference_table(paper: str, table: str) -> pd.DataFrame:
    """A paper's table as printed (reported numbers only), pivoted row × metric/column."""
    from .. import reference

    ref = reference.load(paper)
    t = ref[ref.table == table].copy()
    if t.empty:
        raise KeyError(f"{paper}: no reference table {table!r}; known: {reference.tables(paper)}")
    t["col"] = np.where(t.column.fillna("") != "", t.column.fillna("") + " " + t.metric, t.metric)
    order = list(dict.fromkeys(t.row))
    cols = list(dict.fromkeys(t.col))
    return t.pivot_table(index="row", columns="col", values="value", aggfunc="first").loc[order, cols]
