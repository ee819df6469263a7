"""A published run's page, rendered from its record's data by this build's code.

A record (``records/<paper>/<dataset>/<profile>/seed-<s>/``, :mod:`sercore.records`) keeps its data
(``metrics.json``, its test predictions, the training history inside ``metrics.json``'s ``extra``,
``provenance.json``, ``config.json``) and its executed notebook. The book's page of a published cell is
not that notebook: ``book/published.ipynb`` calls the functions here, which read the data of every seed
of the cell and return what the page shows (Markdown text, tables of text cells, figures), so a fix to a
table or a decision reaches every published page without training again. The executed notebooks stay
artifacts the page links to (:func:`notebook_links`).

Every table cell is text, formatted by the type of its value (a score to 2 decimals, a count whole with
thousands separators, an interval as ``[low, high]``); an absent value is :data:`ABSENT`, never NaN,
None or a Python repr. This module's numbers go through :mod:`sercore.results.display` at call time (a
changed formatter reaches every page); the claims table is the summary's (:func:`sercore.reproduction.frame`).

``items``, everywhere here, are one cell's records as :func:`sercore.records.published_cells` gives them
(seeds in order: ``{"folder", "provenance", "metrics"}``).
"""
from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Sequence

import pandas as pd

from .results import display

#: an absent value in a table cell (the display layer's)
ABSENT = display.ABSENT
#: the headline metrics a page shows per seed, in order, with their names for people
HEADLINE = {"wa": "WA", "ua": "UA", "macro_f1": "macro F1", "weighted_f1": "weighted F1"}
#: learning-curve series a page plots, when the history has them (losses left, percentages right)
CURVES = ("train_loss", "val_loss", "val_ua", "test_ua")


# ----------------------------------------------------------------------------- cells of text

def fmt_score(v) -> str:
    """A score (a percentage) as a cell: two decimals, :data:`ABSENT` when absent."""
    return display.fmt_value(v)


def fmt_count(v) -> str:
    """A count (utterances, parameters) as a cell: whole, with thousands separators."""
    return display.fmt_value(v, count=True)


def fmt_value(v, metric: str) -> str:
    """A comparison row's value by its metric: a count for ``params``/``count``, else a score."""
    from .results import CHECK_METRICS

    return display.fmt_value(v, count=metric in CHECK_METRICS)


def fmt_interval(iv) -> str:
    """``[low, high]`` as a cell (:func:`sercore.results.fmt_interval`), :data:`ABSENT` when there is none."""
    return display.fmt_interval(iv) or ABSENT


def mean_std(vals: Sequence[float], metric: str = "") -> str:
    """Values over seeds as one cell: ``80.00 ± 2.00 (3 seeds)``; one seed: its value; values that
    are all equal (a parameter count): ``190,790 (same in 3 seeds)``; none: :data:`ABSENT`."""
    vals = [float(v) for v in vals if v is not None and v == v]
    if not vals:
        return ABSENT
    if len(vals) == 1:
        return fmt_value(vals[0], metric)
    if len(set(vals)) == 1:
        return f"{fmt_value(vals[0], metric)} (same in {len(vals)} seeds)"
    return f"{fmt_value(statistics.mean(vals), metric)} ± {fmt_value(statistics.stdev(vals), metric)} ({len(vals)} seeds)"


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text, an absent one as :data:`ABSENT` (a table built of text may still hold None)."""
    return df.apply(lambda col: col.map(lambda v: ABSENT if v is None or (isinstance(v, float) and v != v)
                                        or v == "" else str(v)))


# ----------------------------------------------------------------------------- the sections

def load(paper: str, dataset: str, profile: str = "reference", records_root=None) -> list[dict]:
    """The records of one cell (every seed, in order), checked (:func:`sercore.records.published_cells`);
    empty when ``records/`` holds none."""
    from .records import published_cells

    root = Path(records_root) if records_root else None
    return published_cells(root, paper, dataset).get((paper, dataset, profile), [])


def chapter_heading(paper: str, root: Path | None = None) -> str:
    """The first heading of a paper's chapter notebook (``CTMAM: CNN-Transformer with ...``), else its key."""
    import nbformat

    from .paths import project_root

    nb = nbformat.read((root or project_root()) / "book" / f"{paper}.ipynb", as_version=4)
    return next((c.source.partition("\n")[0][2:].strip() for c in nb.cells
                 if c.cell_type == "markdown" and c.source.startswith("# ")), paper)


def heading(items: list[dict], page_dir: str | os.PathLike, root: Path | None = None) -> str:
    """The page's title cell (MyST, a Markdown cell: the banner is a directive, which a Markdown output
    would not render): ``# CTMAM on emodb (reference profile, published run)``, the chapter's full title,
    the published banner (:func:`banner`) and the links to each seed's executed notebook
    (:func:`notebook_links`)."""
    p = items[0]["provenance"]
    full = chapter_heading(p["paper"], root)
    return (f"# {full.split(':')[0].strip()} on {p['dataset']} ({p['profile']} profile, published run)\n\n"
            f"*{full}*\n\n{banner(items)}\n\n{notebook_links(items, page_dir)}")


def missing(paper: str, dataset: str, profile: str) -> str:
    """The sentence of a page whose cell has no record."""
    return f"There is no published {profile} run of {paper} on {dataset} in `records/`; this page has nothing to show."


def banner(items: list[dict]) -> str:
    """The published banner (:func:`sercore.records.published_banner`): what the page stands on."""
    from .records import published_banner

    return published_banner(items)


def headline_table(items: list[dict]) -> pd.DataFrame:
    """Each seed's headline WA, UA, macro and weighted F1 with its 95% interval (``80.53 [77.64, 83.23]``),
    then their mean ± std over seeds: the numbers of each record's ``metrics.json``."""
    from .reproduction import record_run

    runs = [record_run(it) for it in items]
    rows = []
    for r in runs:
        row = {"seed": str(r["seed"])}
        for k, name in HEADLINE.items():
            v = r["metrics"].get(k)
            iv = (r.get("intervals") or {}).get(k)
            row[name] = fmt_score(v) + (f" {fmt_interval([iv['low'], iv['high']])}" if iv and v is not None else "")
        rows.append(row)
    if len(runs) > 1:
        rows.append({"seed": f"mean ± std ({len(runs)} seeds)",
                     **{name: mean_std([r["metrics"].get(k) for r in runs]).replace(f" ({len(runs)} seeds)", "")
                        for k, name in HEADLINE.items()}})
    return _cells(pd.DataFrame(rows, columns=["seed", *HEADLINE.values()]))


def is_board(items: list[dict]) -> bool:
    """Whether the cell is a leaderboard's (a study of every method, with no paper numbers of its own)."""
    return bool(items) and items[0]["metrics"].get("paper") == "leaderboard"


def board(items: list[dict]) -> list:
    """A published leaderboard: what it measured (folds, test utterances, epochs, the seeds of every
    record), then every method with its mean ± std over those seeds (:func:`sercore.leaderboard.summary`,
    shown as the board's own page shows it: "absent" with the reason where the corpus lacks a method's
    modality), then each method's settings (the chapter's params file and profile, and what the board set)."""
    from . import leaderboard as lb

    rows = pd.DataFrame([r for it in items for r in (it["metrics"].get("extra") or {}).get("leaderboard", [])])
    if rows.empty:
        return ["The records keep no leaderboard rows."]
    first = items[0]["metrics"]
    params = (first.get("extra") or {}).get("params") or {}
    seeds = sorted({int(x) for x in rows["seed"].dropna()})
    scope = lb.board_scope(first.get("protocol") or {},
                           {**params, "profile": items[0]["provenance"]["profile"], "seeds": seeds})
    ran = rows[rows["skipped"].isna()]
    summ = lb.summary(rows)
    top = summ.iloc[0]
    text = (f"**The board, seeds pooled** ({scope['text']}; {len(items)} record{'s' if len(items) != 1 else ''}): "
            f"each method's mean ± std over the seeds, the best UA first. {top['method']} is first with UA "
            f"{top['ua']:.2f}. {ran['method'].nunique()} methods ran; "
            + (f"{rows[rows['skipped'].notna()]['method'].nunique()} could not (the corpus lacks their "
               "modality), shown as absent, not as chance." if rows["skipped"].notna().any()
               else "none was absent."))
    notes = (rows.drop_duplicates("method")[["method", "note"]].rename(columns={"note": "settings"})
             if "note" in rows.columns else None)
    table = lb.display_table(summ).reset_index()
    return [text, _cells(table), *([_cells(notes)] if notes is not None else [])]


def headline(items: list[dict]) -> pd.DataFrame | list:
    """:func:`headline_table`, or for a leaderboard's cell :func:`board` (its headline is a method, not a run)."""
    return board(items) if is_board(items) else [headline_table(items)]


def claims(items: list[dict], records_root=None) -> pd.DataFrame:
    """The paper's headline claims beside the seeds pooled: its number, our mean ± std and the 95%
    interval of the seed-pooled mean, the test data, the verdict and the gap's measured parts
    (:func:`sercore.reproduction.cell_summary`, the summary page's rows of this cell)."""
    from .reproduction import cell_summary, record_run

    df = cell_summary([record_run(it) for it in items], records_root).drop(columns=["paper"])
    return _cells(df)


def pooled_note(notes: list, seeds: list[int]) -> str:
    """One note for a row of several seeds: the parts (``; ``-separated) of each seed's note, each part
    once; a part that only some seeds wrote (a number measured per seed, such as a speaker-only
    predictor's score on that seed's folds) names them: ``pooled_note(["a; b 1", "a; b 2"], [0, 1])`` is
    ``"a; b 1 (seed 0); b 2 (seed 1)"``."""
    parts: dict[str, list[int]] = {}
    for note, seed in zip(notes, seeds):
        for part in str(note or "").split("; "):
            if part.strip():
                parts.setdefault(part.strip(), []).append(seed)
    every = set(seeds)
    runs: list[tuple[list[str], list[int]]] = []          # neighbouring parts of the same seeds, labelled once
    for p, ss in parts.items():
        if runs and runs[-1][1] == ss:
            runs[-1][0].append(p)
        else:
            runs.append(([p], ss))
    return "; ".join("; ".join(ps) if set(ss) == every
                     else f"{'; '.join(ps)} (seed{'s' if len(ss) > 1 else ''} {', '.join(map(str, ss))})"
                     for ps, ss in runs)


def comparisons(items: list[dict]) -> tuple[pd.DataFrame, str]:
    """Every comparison row of the records, seeds pooled, decided by today's code: each seed's rows
    decided again (:func:`sercore.results.attach_intervals`, the one decision of comparability; a verdict
    written into an old record is not read), then pooled (:func:`sercore.reproduction.pool`): the
    paper's number, our mean ± std over the seeds that measured the row, the seed-pooled 95% interval,
    the verdict and the test data. A row's note, and the reason of a "not comparable" verdict, is a
    footnote number (the same text repeated over dozens of rows is written once); returns the table and
    the footnotes (Markdown)."""
    from .reproduction import pool, record_run
    from .results import CHECK_METRICS, attach_intervals, row_key, row_label

    rows: dict = {}
    seeds: dict = {}
    for it in items:
        r = record_run(it)
        decided = attach_intervals(r["comparisons"], r["metrics"], r["intervals"], bool(r.get("synthetic")),
                                   r["paper"], r["dataset"], per_class_intervals=r.get("per_class_intervals"))
        for c in decided:
            rows.setdefault(row_key(c), []).append(c)
            seeds.setdefault(row_key(c), []).append(int((it.get("provenance") or {}).get("seed", 0)))
    notes: dict[str, int] = {}

    def foot(text: str) -> str:
        return f"[{notes.setdefault(text, len(notes) + 1)}]"

    out = []
    for key, cs in rows.items():
        table, _, metric, _ = key
        have = [c for c in cs if c.get("measured") is not None]
        reported = cs[0].get("reported")
        verdict = (pool(float(reported), metric, have) if have and reported is not None
                   else {"interval": None, "verdict": cs[0]["verdict"]})
        v = verdict["verdict"]
        # the reason of a "not comparable" verdict is its own footnote: not repeated in the note
        said = v if v.startswith("not comparable") else None
        note = pooled_note([str(c.get("note") or "").replace(said, "") if said else c.get("note") for c in cs],
                           seeds[key])
        out.append({"table": table, "row": row_label(cs[0]), "metric": metric, "paper": fmt_value(reported, metric),
                    "ours (mean ± std)": mean_std([c["measured"] for c in have], metric),
                    "95% interval": fmt_interval(verdict["interval"]),
                    "verdict": f"not comparable {foot(v)}" if v.startswith("not comparable") else v,
                    # a count (parameters) stands on no test set
                    "test data": "" if metric in CHECK_METRICS else " / ".join(
                        dict.fromkeys(c["scope"] for c in have if c.get("scope"))),
                    "note": foot(note) if note else ""})
    cols = ["table", "row", "metric", "paper", "ours (mean ± std)", "95% interval", "verdict", "test data", "note"]
    df = pd.DataFrame(out, columns=cols)
    text = "\n".join(f"{i}. {n}" for n, i in notes.items())
    text = f"Notes:\n\n{text}" if text else "The rows carry no note."
    tested, df = display.said_once(df, "test data")     # one test set for every measured row: said once
    if tested:
        text = f"Every measured row stands on the same test data: {tested}.\n\n{text}"
    return _cells(df), text


def per_class(items: list[dict]) -> pd.DataFrame | str:
    """Per class: precision, recall and F1 as mean ± std over seeds, and the test utterances of the class
    (the same test set in every seed; a range where seeds differ). A sentence when no record keeps them."""
    pcs = [it["metrics"].get("per_class") or {} for it in items]
    labels = list(dict.fromkeys(lab for pc in pcs for lab in pc))
    if not labels:
        return "The records keep no per-class scores."
    rows = []
    for lab in labels:
        got = [pc[lab] for pc in pcs if lab in pc]
        sup = sorted({int(g["support"]) for g in got if g.get("support") is not None})
        rows.append({"class": lab, **{m: mean_std([g.get(m.lower()) for g in got]) for m in ("precision", "recall", "F1")},
                     "test utterances": (fmt_count(sup[0]) if len(sup) == 1 else
                                         f"{fmt_count(sup[0])}–{fmt_count(sup[-1])}" if sup else ABSENT)})
    return _cells(pd.DataFrame(rows))


def summed_confusion(items: list[dict]) -> dict | None:
    """The records' confusion matrices summed over seeds (``{"labels", "matrix"}``), None when a record
    keeps none or their labels differ."""
    import numpy as np

    confs = [it["metrics"].get("confusion") or {} for it in items]
    labels = confs[0].get("labels") if confs else None
    if not labels or any(c.get("labels") != labels or not c.get("matrix") for c in confs):
        return None
    return {"labels": list(labels), "matrix": np.sum([np.asarray(c["matrix"], dtype=int) for c in confs], axis=0).tolist()}


def confusion(items: list[dict]):
    """A figure: the confusion matrix summed over seeds (:func:`sercore.results.plot_confusion`, rows in
    % of the true class); a sentence when the records keep none."""
    import matplotlib.pyplot as plt

    conf = summed_confusion(items)
    if conf is None:
        return "The records keep no confusion matrix (or their classes differ), so none is drawn."
    n = sum(map(sum, conf["matrix"]))
    seeds = ", ".join(str(it["provenance"]["seed"]) for it in items)
    k = len(conf["labels"])
    fig, ax = plt.subplots(figsize=(1.6 + 0.8 * k, 1.2 + 0.7 * k))
    display.plot_confusion(conf, ax=ax, title=f"seed(s) {seeds} summed: {fmt_count(n)} test predictions, % of true class")
    fig.tight_layout()
    return fig


def fold_mean_history(metrics: dict) -> list[dict]:
    """The headline model's learning curves of one run: per epoch, each :data:`CURVES` series averaged
    over the folds that trained that epoch (``extra.cv.folds[*].fit.history``); empty when none is kept."""
    cv = (metrics.get("extra") or {}).get("cv")
    folds = [((f.get("fit") or {}).get("history") or []) for f in (cv or {}).get("folds", [])] if isinstance(cv, dict) else []
    by_epoch: dict[int, dict[str, list[float]]] = {}
    for hist in folds:
        for h in hist:
            for m in CURVES:
                if h.get(m) is not None:
                    by_epoch.setdefault(int(h["epoch"]), {}).setdefault(m, []).append(float(h[m]))
    return [{"epoch": e, **{m: statistics.mean(v) for m, v in series.items()}} for e, series in sorted(by_epoch.items())]


def learning_curves(items: list[dict]):
    """A figure: each seed's learning curves (:func:`fold_mean_history`, :func:`sercore.results.plot_history`),
    one panel per seed; a sentence when no record keeps a training history."""
    import matplotlib.pyplot as plt

    hists = [(it["provenance"]["seed"], fold_mean_history(it["metrics"])) for it in items]
    hists = [(s, h) for s, h in hists if h]
    if not hists:
        return "The records keep no training history, so no learning curve is drawn."
    fig, axes = plt.subplots(1, len(hists), figsize=(5.2 * len(hists), 3.4), squeeze=False)
    for ax, (seed, h) in zip(axes[0], hists):
        n = len((items[0]["metrics"].get("extra") or {}).get("cv", {}).get("folds", []))
        present = [m for m in CURVES if m in h[0]]
        display.plot_history(h, metrics=present, ax=ax, title=f"seed {seed}" + (f", mean of {n} folds" if n > 1 else ""))
    fig.tight_layout()
    return fig


def gap(items: list[dict], records_root=None) -> tuple[str, pd.DataFrame | None]:
    """The gap to the paper as measured parts (:func:`sercore.gaps.for_run`, which reads the cell's
    records and the chapter's ``gap_parts``): its sentence and its table (points and spread as scores),
    or the sentence alone where the chapter breaks down no gap for this corpus."""
    from . import gaps

    table, text = gaps.for_run(items[0]["metrics"], items[0]["provenance"]["profile"], records_root)
    if table is None:
        return text, None
    shown = table.copy()
    for c in ("points", "spread"):
        shown[c] = shown[c].map(fmt_score)
    return text, _cells(shown)


def data_effect(items: list[dict], records_root=None) -> pd.DataFrame | str:
    """What replacing the corpus copy did to this cell's numbers (:func:`sercore.records.data_effect`) for
    every superseded copy the cell keeps (``superseded/<label>.json``); a sentence when it keeps none."""
    from .records import data_effect as effect, superseded

    p = items[0]["provenance"]
    labels = [s["label"] for s in superseded(p["paper"], p["dataset"], p["profile"],
                                             Path(records_root) if records_root else None)]
    if not labels:
        return "No earlier copy of the corpus was superseded for this cell: there is no data effect to show."
    frames = [effect(lab, p["dataset"], [p["paper"]], p["profile"], Path(records_root) if records_root else None)
              .assign(**{"superseded copy label": lab}) for lab in labels]
    df = pd.concat(frames, ignore_index=True)
    for c in ("seeds (copy)", "seeds (today)"):
        df[c] = df[c].map(fmt_count)
    return _cells(df)


def provenance(items: list[dict]) -> pd.DataFrame:
    """One row per seed: the command that made it, its commit, when it started, its wall time
    (:func:`sercore.records.wall_seconds`), device, the corpus fingerprint and which copy of the corpus it was."""
    from .records import command_of, span, wall_seconds

    rows = []
    for it in items:
        p = it["provenance"]
        rows.append({"seed": str(p["seed"]), "command": command_of(p),
                     "commit": p["commit"][:12], "started": p["started"].replace("T", " ")[:16],
                     "wall time": span(wall_seconds(it)), "device": p["device"],
                     "corpus fingerprint": p["corpus_fingerprint"],
                     "corpus copy": p.get("corpus_copy") or ABSENT})
    return _cells(pd.DataFrame(rows))


def notebook_links(items: list[dict], page_dir: str | os.PathLike) -> str:
    """MyST for the page (a Markdown cell): each seed's executed notebook, the record's artifact, as a
    ``{download}`` link relative to ``page_dir`` (the folder of the page), which the HTML build copies
    beside the pages."""
    links = []
    for it in items:
        nb = Path(it["folder"]) / f"{it['provenance']['paper']}.ipynb"
        rel = Path(os.path.relpath(nb.resolve(), Path(page_dir).resolve())).as_posix()
        links.append(f"{{download}}`seed {it['provenance']['seed']} <{rel}>`")
    return ("The executed notebook of each seed, as its run left it (an artifact: its outputs are those of the "
            "code of its commit; this page is rendered from the record's data by this build's code): "
            + ", ".join(links) + ".")


# ----------------------------------------------------------------------------- the page

#: the page's sections in order, after its title cell (:func:`heading`): name -> (heading, what it shows:
#: ``f(items, records_root)`` -> list of Markdown texts (CommonMark: a notebook renders its Markdown outputs
#: so), tables and figures)
SECTIONS = {
    "headline": ("Headline, per seed", lambda items, rr: headline(items)),
    "claims": ("The paper's claims, seeds pooled", lambda items, rr: [claims(items, rr)]),
    "comparisons": ("Every comparison row, seeds pooled", lambda items, rr: list(comparisons(items))),
    "per_class": ("Per class", lambda items, rr: [per_class(items)]),
    "confusion": ("Confusion matrix", lambda items, rr: [confusion(items)]),
    "learning_curves": ("Learning curves", lambda items, rr: [learning_curves(items)]),
    "gap": ("The gap to the paper", lambda items, rr: [x for x in gap(items, rr) if x is not None]),
    "data_effect": ("Data effect: the corpus copy replaced", lambda items, rr: [data_effect(items, rr)]),
    "provenance": ("Provenance of each seed", lambda items, rr: [provenance(items)]),
}


class Page:
    """The page of one published cell: ``Page(paper, dataset, profile, records_root).show(name)`` displays
    section ``name`` of :data:`SECTIONS` (``book/published.ipynb`` calls it once per section). The
    records are read once. Without a record the first section says so and the others show nothing. The
    title and the banner are the page's first Markdown cell (:func:`heading`), written by the book."""

    def __init__(self, paper: str, dataset: str, profile: str = "reference", records_root=None):
        self.cell = (paper, dataset, profile)
        self.records_root = Path(records_root) if records_root else None
        self.items = load(paper, dataset, profile, self.records_root)

    def objects(self, name: str) -> list:
        """What section ``name`` shows: Markdown texts, tables of text cells, figures."""
        if name not in SECTIONS:
            raise KeyError(f"no page section {name!r}; the sections are {list(SECTIONS)}")
        if not self.items:
            return [missing(*self.cell)] if name == next(iter(SECTIONS)) else []
        return SECTIONS[name][1](self.items, self.records_root)

    def show(self, name: str) -> None:
        for obj in self.objects(name):
            show(obj)


def text_of(obj) -> str:
    """What a section shows, as text (tests and checks): a table's HTML, Markdown as is, a figure's axes'
    titles, labels and tick labels."""
    if isinstance(obj, pd.DataFrame):
        return obj.to_html(index=False)
    if isinstance(obj, str):
        return obj
    return " ".join(t.get_text() for ax in obj.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label,
                                                               *ax.get_xticklabels(), *ax.get_yticklabels()))


def show(obj) -> None:
    """Display one thing in a notebook: Markdown text, a table without its index (in a box that scrolls
    when wide), or a figure as a PNG (whatever matplotlib backend the kernel has; closed after)."""
    from IPython.display import HTML, Image, Markdown
    from IPython.display import display as ipy_display

    if isinstance(obj, str):
        ipy_display(Markdown(obj))
    elif isinstance(obj, pd.DataFrame):
        ipy_display(HTML('<div class="sercore-table" style="overflow-x: auto">' + obj.to_html(index=False) + "</div>"))
    else:
        import io

        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        obj.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(obj)
        ipy_display(Image(data=buf.getvalue(), format="png"))
