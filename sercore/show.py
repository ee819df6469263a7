"""What every chapter notebook shows around its own figures, one call each (the notebook's glue):

    P, run = show.preamble(globals())        # readable tables, the validated parameters, the run line
    ...
    show.comparisons(out)                    # every reported-vs-measured row, its notes as footnotes
    show.paper_vs_published(out)             # paper | published runs (records/) | this build, and the gap
    show.provenance(out)                     # commit, data, versions, parameters

Each display function has a builder beside it that returns what it shows (``comparison_table``,
``paper_vs_published_parts``, ``provenance_table``), for a page rendered without a kernel and for tests.
Numbers are cells by type (:func:`sercore.results.fmt_value`: counts whole with separators, other numbers
to two decimals, deviations signed); an absent value is :data:`sercore.results.ABSENT` (a dash) in every
table these return.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from . import experiment, results, runs
from .results import ABSENT, CHECK_METRICS, fmt_value


def _display(*parts) -> None:
    """Show Markdown text (a str) and tables, in order."""
    from IPython.display import Markdown, display

    for p in parts:
        display(Markdown(p) if isinstance(p, str) else p)


def _dashed(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every blank or absent cell (``""``, None, NaN) as :data:`ABSENT`."""
    return df.astype(object).map(lambda v: ABSENT if v is None or v == "" or (isinstance(v, float) and v != v) else v)


# ----------------------------------------------------------------------------- the top of a page

def run_line(P: dict) -> str:
    """The run a page shows, as one Markdown line: paper, dataset, profile, seed (the training seeds
    where a run trains several, as a leaderboard does; and model, where the chapter has that parameter)."""
    model = f", model `{P['model']}`" if P.get("model") else ""
    seeds = (f"training seeds {', '.join(map(str, P['seeds']))}" if P.get("seeds")
             else f"seed {P.get('seed', 0)}")
    return f"**Run:** `{P['paper']}` on `{P['dataset']}`, profile `{P['profile']}`, {seeds}{model}."


def preamble(namespace: dict, describe: Callable[[dict], str] | None = None) -> tuple[dict, results.Run]:
    """The top of a chapter notebook, right after its parameters cell: every table whole and readable
    (:func:`sercore.results.readable_tables`), the parameters validated (``namespace``: the notebook's
    ``globals()``, :func:`sercore.runs.notebook_params`), the run started (:class:`sercore.results.Run`),
    and one Markdown line saying what runs (``describe(P)``, default :func:`run_line`).
    Returns ``(P, run)``."""
    results.readable_tables()
    P = runs.notebook_params(namespace)
    run = results.Run(P)
    _display((describe or run_line)(P))
    return P, run


# ----------------------------------------------------------------------------- every reported-vs-measured row

def comparison_table(comparisons: Iterable[dict]) -> tuple[pd.DataFrame, list[str]]:
    """Comparison rows (``metrics.json``'s) as a table for people and its footnotes: the columns of
    :func:`sercore.results.comparison_frame`, numbers by type (a ``params``/``count`` row whole with
    separators, others to two decimals, the deviation signed), absent cells a dash. Notes become
    footnotes: a note is its clauses (split at the semicolons outside parentheses), each distinct clause
    is one footnote, numbered in order of first use, and a row's ``note`` cell lists the numbers of its
    clauses (``1, 4``). Returns ``(table, notes)``: ``notes[i]`` is footnote ``i + 1``."""
    from .records import _clauses

    rows = list(comparisons)
    df = results.comparison_frame(rows)
    for i, c in enumerate(rows):
        count = c.get("metric") in CHECK_METRICS
        rep, mea = c.get("reported"), c.get("measured")
        cells = {"reported": fmt_value(rep, count), "measured": fmt_value(mea, count),
                 "deviation": fmt_value(None if rep is None or mea is None else mea - rep, count, signed=True)}
        for col, v in cells.items():
            if col in df.columns:
                df.loc[i, col] = v
    notes: list[str] = []
    if "note" in df.columns:
        for i, c in enumerate(rows):
            refs = []
            for clause in dict.fromkeys(_clauses(c.get("note") or "")):
                if clause not in notes:
                    notes.append(clause)
                refs.append(str(notes.index(clause) + 1))
            df.loc[i, "note"] = ", ".join(refs)
    return _dashed(df), notes


def footnotes_text(notes: list[str]) -> str:
    """Footnotes as Markdown under a table (``1. text``), or ``""`` when there are none."""
    return "\n".join(["**Notes** (the `note` column gives their numbers):", ""]
                      + [f"{i}. {n}." for i, n in enumerate(notes, 1)]) if notes else ""


def comparisons(out: dict) -> None:
    """Show every reported-vs-measured row of a run (``out``: its ``metrics.json`` dict), each distinct
    note once, as a numbered footnote under the table (:func:`comparison_table`); test data that every
    row shares is said once above the table instead of in a column."""
    table, notes = comparison_table(out.get("comparisons", []))
    parts: list = []
    data, table = results.said_once(table, "test data", ignore=())
    if data:
        parts.append(f"**Test data of every row:** {data}.")
    _display(*parts, table, *([footnotes_text(notes)] if notes else []))


# ----------------------------------------------------------------------------- paper, published runs, this build

def paper_vs_published_parts(out: dict, profile: str = "reference",
                             records_root: Path | None = None) -> tuple[str, pd.DataFrame, str]:
    """The paper's number, the published runs of ``profile`` (``records/``) and this build, side by side
    (:func:`sercore.records.three_columns`, blank cells as dashes), with the Markdown line above it
    (which records, their seeds and commit) and below it (what the gap to the paper is made of,
    :func:`sercore.records.gap_text`). Returns ``(heading, table, gap)``."""
    from . import records

    three = records.three_columns(out, profile=profile, records_root=records_root)
    heading = f"**Paper, published runs and this build.** {three.attrs['note']}"
    return heading, _dashed(three), records.gap_text(out, profile=profile, records_root=records_root)


def paper_vs_published(out: dict, profile: str = "reference", records_root: Path | None = None) -> None:
    """Show the three columns (the paper, the published runs, this build) and the gap under them
    (:func:`paper_vs_published_parts`)."""
    _display(*paper_vs_published_parts(out, profile, records_root))


# ----------------------------------------------------------------------------- provenance

def provenance_table(out: dict) -> pd.DataFrame:
    """The provenance panel (:func:`sercore.experiment.provenance`) with blank cells as dashes."""
    return _dashed(experiment.provenance(out))


def provenance(out: dict) -> None:
    """Show the provenance panel of a run: commit, seed, device, data, library versions, parameters."""
    _display(provenance_table(out))
