"""Did we reproduce the paper? One decision for every place that says so.

:func:`decide` is the only function that says whether a measured number and a paper's number are
comparable, and what the verdict is. A pair is comparable when it is measured

- on the same corpus (not the synthetic corpus, not a corpus the paper reports no number on, and the
  paper's number is on the run's corpus: :func:`sercore.results.paper_corpus`);
- with the same modalities and protocol, on the full test set: the chapter's and the run's own marks
  (``comparable: False`` with ``why`` for a row of another modality or setting; :func:`sercore.results._scoped`
  for a run tested on fewer folds than its protocol or with a fold flagged unfit);
- with the metric defined the same: a row's metric is a measured score with a 95% interval of the run's
  headline model (WA, UA, macro F1; a paper's overall "accuracy" is WA). A parameter or utterance count
  is not a reproduction: it is checked equal / not equal (verdict ``equal`` or ``not equal``), and a
  score of another model, or one with no interval kept, names why it has none.

:func:`sercore.results.attach_intervals` (each ``metrics.json`` comparison row, and the scoreboard,
which reads every row again) writes the decision, so a row's ``comparable`` flag is True exactly when
its verdict is ``inside``, ``below``, ``above`` or ``equal``/``not equal``.

:func:`summary` is the book's reproduction summary: one row per headline claim of a paper (a number
the paper reports for its proposed model's headline metric, or that model's parameter count), seeds
pooled. A paper number printed in two tables (CTMAM's 90.65 in Tables II and IV) is one claim.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Sequence

import pandas as pd

# the one decision of comparability lives in sercore.results (which writes the `comparable` flag); the summary
# reads it from there
from .results import (CHECK_METRICS, CHECK_VERDICTS, SCORE_VERDICTS, comparable_verdict,  # noqa: F401
                      decide, metric_key)
from .results.comparisons import _same_count

#: the columns of :func:`verdict_counts` (the first four are :func:`sercore.results.paper_summary`'s)
COUNT_COLUMNS = ("reproduced (inside)", "ours below", "ours above", "not comparable", "rows",
                 "params equal", "params not equal", "params not comparable")
#: the columns of :func:`summary`
SUMMARY_COLUMNS = ("paper", "claim", "paper's number", "ours (mean ± std)", "ours 95% interval", "test data",
                   "verdict", "gap parts")


# ----------------------------------------------------------------------------- the summary

def _kind(verdict: str) -> str:
    return verdict.split(":")[0]


def _is_claim_row(c: dict, metrics: dict) -> bool:
    """A headline score: the row's measured value is the run's headline WA/UA/macro F1/weighted F1."""
    from .results import HEADLINE_TOLERANCE, METRIC_KEYS

    key = metric_key(c["metric"])
    head = metrics.get(key) if key in METRIC_KEYS else None
    return (c.get("reported") is not None and c.get("measured") is not None and head is not None
            and abs(float(c["measured"]) - float(head)) <= HEADLINE_TOLERANCE)


def _same_model(row: str, heads: set[str]) -> bool:
    """A count row of the headline model: its row label is a headline row's, or one is the other plus a
    qualifier (``CA-SER`` and ``CA-SER [OURS]``)."""
    return any(row == h or h.startswith(row + " ") or row.startswith(h + " ") for h in heads)


def claim_rows(run: dict) -> list[dict]:
    """A run's headline claims, decided (:func:`decide`): the comparison rows of its headline scores
    (:func:`_is_claim_row`) and the parameter counts of the same model; each row gets ``corpus`` (the
    corpus of the paper's number, the run's dataset when the reference does not say). A number that
    two tables print is kept once (the first table), with ``also`` naming the others."""
    from .results import paper_corpus

    comps = run["comparisons"]
    heads = {str(c["row"]) for c in comps if _is_claim_row(c, run["metrics"])}
    out: dict = {}
    for c in comps:
        if c.get("reported") is None:
            continue
        if not (_is_claim_row(c, run["metrics"]) or (c["metric"] == "params" and _same_model(str(c["row"]), heads))):
            continue
        corpus = paper_corpus(run["paper"], c) or run["dataset"]
        key = (run["paper"], float(c["reported"]), c["metric"], corpus)
        if key in out:
            out[key]["also"].append(f"{c['table']}, {c['row']}")
            continue
        d = decide(c, run["metrics"], run.get("intervals"), bool(run.get("synthetic")), run["paper"], run["dataset"],
                   run.get("per_class_intervals"))
        out[key] = {**c, **d, "corpus": corpus, "also": []}
    return list(out.values())


def record_run(item: dict) -> dict:
    """A record (one of :func:`sercore.records.published_cells`' items) as a run: its ``metrics.json`` dict
    with its intervals (those it predates derived from its predictions, :func:`sercore.records.with_intervals`) and
    ``_item``, the record."""
    from . import records

    m = records.with_intervals(item["folder"], item["metrics"])
    m["_item"] = item
    return m


def _seeds_runs(results_root=None, records_root=None) -> dict[tuple[str, str, str], dict[int, dict]]:
    """Every run of a paper by cell ``(paper, dataset, profile)`` and seed: the records' (with their
    intervals derived from their predictions where they predate intervals, and ``_item``: the record)
    and this build's (``results/``, other seeds under ``seeds/``), a build's run replacing the record of
    the same seed."""
    from . import records, results
    from .registry import paper_keys

    papers = set(paper_keys())
    cells: dict = {}
    for cell, items in records.published_cells(records_root).items():
        if cell[0] not in papers:
            continue
        for it in items:
            cells.setdefault(cell, {})[int(it["provenance"]["seed"])] = record_run(it)
    for m in [*results.collect(results_root), *results.collect_seeds(results_root)]:
        if "error" in m or m["paper"] not in papers:
            continue
        m = dict(m, _item={"metrics": m})
        cells.setdefault((m["paper"], m["dataset"], m["profile"]), {})[int(m.get("seed", 0))] = m
    return cells


def pooled_interval(values: Sequence[float], intervals: Sequence[Sequence[float]]) -> list[float] | None:
    """The 95% interval of the seed-pooled mean, from each seed's own interval (``[low, high]``, a
    bootstrap over the test utterances).

    Each seed's interval measures the test-set noise; seeds test the same corpus, so that noise does
    not average out over seeds: its half-width is the root mean square of the seeds' half-widths. The
    spread of the seeds adds the standard error of their mean (1.96 std / sqrt(S)). The two combine in
    quadrature around the mean: ``mean ± sqrt(h_test^2 + (1.96 std / sqrt(S))^2)``. One seed: its own
    interval. None when a seed has no interval."""
    if not values or len(intervals) != len(values) or any(iv is None for iv in intervals):
        return None
    if len(values) == 1:
        return [float(intervals[0][0]), float(intervals[0][1])]
    mean = statistics.mean(values)
    h_test = (sum(((hi - lo) / 2) ** 2 for lo, hi in intervals) / len(intervals)) ** 0.5
    h_seed = 1.96 * statistics.stdev(values) / len(values) ** 0.5
    h = (h_test ** 2 + h_seed ** 2) ** 0.5
    return [mean - h, mean + h]


def _test_data(runs: list[dict], c: dict) -> dict:
    """Corpus, test utterances, classes, folds and seeds of a claim's runs (a row's own ``test_set``
    when it has one)."""
    m = runs[0]
    ts = c.get("test_set")
    proto = m.get("protocol") or {}
    n, total = proto.get("n_folds"), proto.get("n_folds_total")
    folds = f"{n} of {total}" if total and n is not None and n != total else (str(n) if n is not None else None)
    return {"corpus": "synthetic" if m.get("synthetic") else (ts or {}).get("corpus") or m["dataset"],
            "utterances": int(ts["utterances"]) if ts else int(sum(map(sum, m["confusion"]["matrix"]))),
            "classes": int(ts["classes"]) if ts else len(m["confusion"]["labels"]),
            "folds": (ts or {}).get("folds") or folds, "protocol": proto.get("name"),
            "seeds": [int(r.get("seed", 0)) for r in runs]}


def test_data_text(t: dict) -> str:
    """``emodb: 339 test utterances, 4 classes, 10 folds (loso_speaker), seeds 0, 1, 2``."""
    f = str(t.get("folds") or "")
    folds = "" if not f else (f", {f}" if "fold" in f else f", {f} fold(s)")     # a row's test_set names its folds
    proto = f" ({t['protocol']})" if t.get("protocol") else ""
    return (f"{t['corpus']}: {t['utterances']:,} test utterances, {t['classes']} classes{folds}{proto}, "
            f"seed(s) {', '.join(map(str, t['seeds']))}")


def _gap_parts(paper: str, items: list[dict], metric: str, reported: float, records_root) -> str:
    """The measured parts of the gap for one claim from ``sercore.chapters.<paper>.gap_parts(items)``
    where the chapter has it: ``part: +x.xx; ...; unexplained rest: +x.xx``; empty otherwise."""
    import importlib

    try:
        chapter = importlib.import_module(f"sercore.chapters.{paper}")
    except ModuleNotFoundError:
        return ""
    fn = getattr(chapter, "gap_parts", None)
    table = fn(items, records_root=records_root) if fn else None
    if table is None or table.empty:
        return ""
    blocks, cur = [], None
    for r in table.to_dict("records"):
        if r["part"].startswith("paper: "):
            cur = [r]
            blocks.append(cur)
        elif cur is not None:
            cur.append(r)
    for b in blocks:
        if b[0]["part"].startswith(f"paper: {metric_key(metric).upper()} ") and abs(b[0]["points"] - reported) < 1e-9:
            parts = [f"{r['part'][len('part: '):]}: " + (f"{r['points']:+.2f}" if pd.notna(r["points"]) else "not measured")
                     for r in b if r["part"].startswith("part: ")]
            rest = next(r for r in b if r["part"].startswith("unexplained rest"))
            return "; ".join([*parts, f"unexplained rest: {rest['points']:+.2f}"])
    return ""


def _fmt(v: float, metric: str) -> str:
    from .results import fmt_num

    return f"{float(v):,.0f}" if metric in CHECK_METRICS else fmt_num(v)


def summary_rows(results_root=None, records_root=None) -> list[dict]:
    """One dict per headline claim of each paper, seeds pooled, as :func:`summary` shows them, with the
    raw values too (``reported``, ``mean``, ``std``, ``interval``, ``test_data``, ``kind``)."""
    from .schemas.common import PROFILES

    rank = {p: i for i, p in enumerate(PROFILES)}
    found: dict = {}
    for (paper, dataset, profile), by_seed in _seeds_runs(results_root, records_root).items():
        for key, row in cell_claims([by_seed[s] for s in sorted(by_seed)]):
            # one row per claim: a comparable measurement before another, then the most complete profile,
            # then the most seeds
            score = (comparable_verdict(row["verdict"]), rank.get(profile, -1), len(row["items"]))
            if key not in found or score > found[key][0]:
                found[key] = (score, row)
    return _ordered([r for _, r in found.values()], records_root)


def _ordered(rows: list[dict], records_root=None) -> list[dict]:
    """Claim rows in the book's order (papers as registered, scores before counts, then table, row,
    metric), each with ``gap``: the measured parts of its gap (:func:`_gap_parts`) for a comparable score."""
    from .registry import paper_keys

    order = {p: i for i, p in enumerate(paper_keys())}
    rows = sorted(rows, key=lambda r: (order.get(r["paper"], 99), r["kind"] == "check", r["table"], str(r["row"]),
                                       r["metric"]))
    for r in rows:
        r["gap"] = (_gap_parts(r["paper"], r["items"], r["metric"], r["reported"], records_root)
                    if r["kind"] == "score" and comparable_verdict(r["verdict"]) else "")
    return rows


def pool(reported: float | None, metric: str, decided: Sequence[dict]) -> dict:
    """One comparison row over the seeds that measured it: ``decided`` holds the row as each seed's run
    decided it (:func:`decide`: ``measured``, ``interval``, ``comparable``, ``verdict``). Returns ``mean``,
    ``std`` (None for one seed or equal values), ``interval`` (:func:`pooled_interval`, a score's) and the
    pooled ``verdict``: a seed's "not comparable: <why>" when any seed's is; for a count, equal / not equal;
    for a score, inside / below / above the seed-pooled interval (not comparable when a seed has none)."""
    vals = [float(g["measured"]) for g in decided]
    bad = next((g["verdict"] for g in decided if not g["comparable"]), None)
    std = statistics.stdev(vals) if len(vals) > 1 and len(set(vals)) > 1 else None
    interval = None if metric in CHECK_METRICS else pooled_interval(vals, [g["interval"] for g in decided])
    if bad:
        verdict = bad
    elif metric in CHECK_METRICS:
        verdict = "equal" if all(_same_count(v, reported) for v in vals) else "not equal"
    else:
        verdict = ("not comparable: no interval: a seed has none" if interval is None
                   else "inside" if interval[0] <= reported <= interval[1]
                   else "below" if interval[1] < reported else "above")
    return {"mean": statistics.mean(vals), "std": std, "interval": interval, "verdict": verdict}


def cell_claims(runs: Sequence[dict]) -> list[tuple[tuple, dict]]:
    """The headline claims of one cell's runs (one per seed, e.g. :func:`record_run` of each record), seeds
    pooled (:func:`pool`): ``(key, row)`` pairs, ``key`` = (paper, reported, metric, corpus), ``row`` as
    :func:`summary_rows` gives it (without ``gap``)."""
    per_seed = [{(r["paper"], float(c["reported"]), c["metric"], c["corpus"]): c for c in claim_rows(r)} for r in runs]
    out = []
    for key in dict.fromkeys(k for ps in per_seed for k in ps):
        c = next(ps[key] for ps in per_seed if key in ps)
        have = [(r, ps[key]) for r, ps in zip(runs, per_seed) if key in ps]
        rs, gs = [r for r, _ in have], [g for _, g in have]
        p = pool(key[1], c["metric"], gs)
        out.append((key, {"paper": rs[0]["paper"], "dataset": rs[0]["dataset"], "profile": rs[0]["profile"],
                          "table": c["table"], "row": c["row"], "also": c["also"], "metric": c["metric"],
                          "reported": key[1], "corpus": key[3], **p, "test_data": _test_data(rs, c),
                          "kind": "check" if c["metric"] in CHECK_METRICS else "score",
                          "items": [r["_item"] for r in rs]}))
    return out


def cell_summary(runs: Sequence[dict], records_root=None) -> pd.DataFrame:
    """:func:`summary`'s rows of one cell's runs only (a published run's page): its headline claims, seeds
    pooled, with their gap parts, as :func:`frame` shows them."""
    return frame(_ordered([row for _, row in cell_claims(runs)], records_root))


def summary(results_root=None, records_root=None, paper: str | None = None) -> pd.DataFrame:
    """The reproduction summary: one row per headline claim (of ``paper``, or of every paper), with the
    paper's number (table and row), our seed-pooled mean ± std and 95% interval (:func:`pooled_interval`),
    the test data (corpus, test utterances, classes, folds, seeds), the verdict (inside / below / above
    for a score, equal / not equal for a parameter count, or not comparable with the reason) and the
    measured parts of the gap where the chapter has ``gap_parts`` (:mod:`sercore.gaps`).

    Every seed of a cell is pooled: the records' (``records/``) and this build's (``results/``) of the
    same (paper, dataset, profile), a build's run replacing the record of its seed. A claim measured by
    several cells is shown once: a comparable measurement first, then the most complete profile."""
    rows = [r for r in summary_rows(results_root, records_root) if paper is None or r["paper"] == paper]
    return frame(rows)


def frame(rows: list[dict]) -> pd.DataFrame:
    """:func:`summary_rows` as a table for people: text cells, an absent value as a dash."""
    from .results import fmt_interval

    out = []
    for r in rows:
        also = f" (also {'; '.join(r['also'])})" if r["also"] else ""
        ours = _fmt(r["mean"], r["metric"]) + (f" ± {_fmt(r['std'], r['metric'])}" if r["std"] is not None else
                                               f" (same in {len(r['test_data']['seeds'])} seeds)"
                                               if len(r["test_data"]["seeds"]) > 1 else "")
        out.append({"paper": r["paper"], "claim": f"{r['table']}, {r['row']}{also}: {r['metric']} on {r['corpus']}",
                    "paper's number": _fmt(r["reported"], r["metric"]),
                    "ours (mean ± std)": f"{ours} ({r['profile']})",
                    "ours 95% interval": fmt_interval(r["interval"]) or "–",
                    "test data": "– (a count, not a test result)" if r["kind"] == "check" else test_data_text(r["test_data"]),
                    "verdict": r["verdict"],
                    "gap parts": r["gap"] or "–"})
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def verdict_counts(rows: list[dict]) -> pd.DataFrame:
    """Per paper (in the order of ``rows``, :func:`summary_rows`), how many headline claims reproduced
    (inside), came out below or above, or are not comparable (``rows``: their sum), and how many
    parameter counts are equal / not equal / not comparable (not counted in ``rows``: a check is not a
    claim). The columns :data:`COUNT_COLUMNS` (the first five read by :func:`sercore.results.summary_text`)."""
    names = {("score", "inside"): "reproduced (inside)", ("score", "below"): "ours below",
             ("score", "above"): "ours above", ("score", "not comparable"): "not comparable",
             ("check", "equal"): "params equal", ("check", "not equal"): "params not equal",
             ("check", "not comparable"): "params not comparable"}
    papers = list(dict.fromkeys(r["paper"] for r in rows))
    t = pd.DataFrame(0, index=pd.Index(papers, name="paper"), columns=list(COUNT_COLUMNS))
    for r in rows:
        kind = r.get("kind") or ("check" if r["verdict"] in CHECK_VERDICTS else "score")
        t.loc[r["paper"], names[(kind, r["verdict"] if r["verdict"] in CHECK_VERDICTS else _kind(r["verdict"]))]] += 1
    t["rows"] = t[list(COUNT_COLUMNS[:4])].sum(axis=1)
    return t


def fragment(rows: list[dict], paper: str) -> str:
    """Markdown for the top of ``paper``'s chapter page: its claims and what we measured (a sentence
    when there are none), then each claim's gap parts as a list (sentences, too long for a table column
    on a page). The same rows as the summary page's."""
    mine = [r for r in rows if r["paper"] == paper]
    if not mine:
        return (f"No run of this book measured a headline claim of this paper: neither `results/` nor "
                f"`records/` holds a run of {paper}.\n")
    full = frame(mine)
    df = full.drop(columns=["paper", "gap parts"])    # the parts are sentences: listed under the table
    gaps = [f"- {claim}: {parts}" for claim, parts in zip(full["claim"], full["gap parts"]) if parts != "–"]
    c = verdict_counts(mine).iloc[0]
    lines = [f"**What the paper claims, what we measured** ({int(c['rows'])} headline claim(s): "
             f"{int(c['reproduced (inside)'])} inside our 95% interval, {int(c['ours below'])} below, "
             f"{int(c['ours above'])} above, {int(c['not comparable'])} not comparable"
             + (f"; parameter counts: {int(c['params equal'])} equal, "
                f"{int(c['params not equal'])} not equal, {int(c['params not comparable'])} "
                "not comparable" if c[list(COUNT_COLUMNS[5:])].sum() else "") + "):", "", markdown_table(df), "",
             *(["**The gap to the paper, in measured parts** (each part measured alone; the rest is what no run "
                "explains):", "", *gaps, ""] if gaps else []),
             "The rows and their verdicts are computed by `sercore.reproduction.summary` from the runs of this "
             "build and the published runs; the summary page lists every paper's.", ""]
    return "\n".join(lines)


def markdown_table(df: pd.DataFrame) -> str:
    """A table of text cells as a Markdown (MyST) table, without the index: it wraps and scrolls on the page."""
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(map(cell, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    return "\n".join([head, sep, *("| " + " | ".join(cell(v) for v in r) + " |" for r in df.itertuples(index=False))])


def write_fragments(folder: Path, rows: list[dict], papers: Sequence[str]) -> list[Path]:
    """``folder/<paper>.md`` for each paper (:func:`fragment`), included by the chapter landing pages."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in papers:
        f = folder / f"{p}.md"
        f.write_text(fragment(rows, p))
        out.append(f)
    return out
