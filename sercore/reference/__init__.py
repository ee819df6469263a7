"""The five papers' reported numbers, as data.

One CSV per paper (``<paper>.csv`` beside this file, shipped as package data) with the columns

    paper, table, row, column, dataset, metric, value, note

* ``table``: as the paper names it (``Table I``, ``Table 3``). Numbers that the paper states only in its text
  are kept under the section or figure they belong to (``Section IV-A`` for corpus sizes, ``Fig. 4`` for a
  confusion-matrix cell quoted in the text); every such row says so in ``note``.
* ``row``: the row label as printed (method, class or ablation name, citation marks kept, e.g.
  ``CA-SER [OURS]``). Class names are normalised where the print is a typo (ctmam's "Neural" -> ``Neutral``,
  said in ``note``). Rows without a printed label use the label the paper's text uses (``Model 1`` in mdat
  Table VI) or spell out the printed settings (mlcct Table 8).
* ``column``: the column header where row, dataset and metric alone do not identify the cell: modality
  (``audio``, ``text``, ``multimodal``, ``A+V+T (NP)``), class (``Happy``), split (``Training``),
  cross-language pair (``IEMOCAP->EMODB``) and, for k-shot tables, pair and shots (``IEMOCAP->EMODB, k=5``).
  Empty otherwise.
* ``dataset``: lowercase corpus key; for a cross-language cell it is the target corpus.
* ``metric``: one of :data:`METRICS`. ``accuracy`` is a paper's plain "Acc"; ``acc2``/``acc6`` are
  mlcct's ACC-2/ACC-6; ``f1`` is an F1 whose averaging the paper does not state; ``recall`` is also used for a
  per-class "recognition rate" read off a confusion matrix; ``count`` is a number of utterances; ``params`` is
  a number of trainable parameters.
* ``value``: the number exactly as printed (percent stays percent, F1 printed as a fraction stays a fraction,
  trailing zeros kept in the CSV); parameter counts as integers ("108 M" -> 108000000, said in ``note``).
  Cells printed as "-" are left out.
* The CSV order is the paper's reading order.

mdat Table V rows 6-12 are a reconstruction: the text extraction gave those cells column by column. The block
equal to Table IV's 0-shot columns places the 0-shot cells, the other six blocks are read left to right as
baseline/MDAT for k = 5, 10, 15; the paper's text confirms the 15-shot gaps it quotes (EMODB->EMOVO > 9 points,
URDU->IEMOCAP > 12 points). Each reconstructed cell says so in ``note``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

__all__ = ["PAPERS", "COLUMNS", "METRICS", "DATASETS", "load", "load_all", "get", "tables"]

COLUMNS: tuple[str, ...] = ("paper", "table", "row", "column", "dataset", "metric", "value", "note")
METRICS: frozenset[str] = frozenset({
    "wa", "ua", "accuracy", "macro_f1", "weighted_f1", "f1", "precision", "recall",
    "acc2", "acc6", "params", "mae", "corr", "count",
})


def __getattr__(name):
    """``PAPERS`` (the papers, in book order) and ``DATASETS`` (every corpus a paper reports a number on),
    derived from the papers' declarations (:mod:`sercore.registry`)."""
    from ..registry import paper_keys, reference_corpora

    if name == "PAPERS":
        return paper_keys()
    if name == "DATASETS":
        return reference_corpora()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_HERE = Path(__file__).resolve().parent


def _csv_path(paper: str) -> Path:
    """The paper's CSV: the one its declaration names (``Paper.numbers``), else ``<paper>.csv`` beside this file."""
    from ..registry import paper_keys, papers

    if paper not in paper_keys():
        raise KeyError(f"unknown paper {paper!r}; known papers: {', '.join(paper_keys())}")
    return Path(papers()[paper].numbers) if papers()[paper].numbers else _HERE / f"{paper}.csv"


@lru_cache(maxsize=None)
def _read(paper: str) -> pd.DataFrame:
    path = _csv_path(paper)
    # everything as text first, so that an empty cell stays "" and a printed value keeps its digits
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if tuple(df.columns) != COLUMNS:
        raise ValueError(f"{path.name}: columns {list(df.columns)} != {list(COLUMNS)}")
    return df


def load(paper: str, *, as_printed: bool = False) -> pd.DataFrame:
    """The reported numbers of one paper, one row per table cell, in the paper's reading order.

    ``value`` is a float unless ``as_printed`` is true, in which case it is the string as printed
    ("74.60", "0.731", "1031674"), for display.
    """
    df = _read(paper).copy()
    if not as_printed:
        df["value"] = pd.to_numeric(df["value"], errors="raise").astype(float)
    return df


def load_all(*, as_printed: bool = False) -> pd.DataFrame:
    """All the papers in one frame (paper order as in :data:`PAPERS`)."""
    from ..registry import paper_keys

    return pd.concat([load(p, as_printed=as_printed) for p in paper_keys()], ignore_index=True)


def tables(paper: str) -> list[str]:
    """The tables (and text sections/figures) of one paper that carry numbers, in order of appearance."""
    return list(dict.fromkeys(_read(paper)["table"]))


_RAISE = object()


def get(paper: str, table: str, row: str, metric: str,
        column: str | None = None, dataset: str | None = None, default=_RAISE) -> float:
    """The one reported value matching the arguments.

    ``column`` and ``dataset`` left as ``None`` match anything; pass ``""`` to ask for an empty column.
    Raises ``ValueError`` unless exactly one cell matches, saying how many did and what was asked;
    with ``default`` given (e.g. ``None``), a cell the paper does not report returns ``default``
    instead. Several matching cells always raise: the question was ambiguous.
    """
    df = _read(paper)
    mask = (df["table"] == table) & (df["row"] == row) & (df["metric"] == metric)
    if column is not None:
        mask &= df["column"] == column
    if dataset is not None:
        mask &= df["dataset"] == dataset
    hits = df[mask]
    if len(hits) == 1:
        return float(hits["value"].iloc[0])
    asked = (f"paper={paper!r}, table={table!r}, row={row!r}, metric={metric!r}, "
             f"column={column!r}, dataset={dataset!r}")
    if len(hits) == 0 and default is not _RAISE:
        return default
    if len(hits) == 0:
        in_table = df[df["table"] == table]
        if in_table.empty:
            hint = f"tables of {paper}: {tables(paper)}"
        else:
            hint = (f"rows of {table}: {list(dict.fromkeys(in_table['row']))}; "
                    f"columns: {list(dict.fromkeys(in_table['column']))}; "
                    f"metrics: {sorted(set(in_table['metric']))}")
        raise ValueError(f"0 reported values match {asked}; {hint}")
    cells = [f"(column={c!r}, dataset={d!r})" for c, d in zip(hits["column"], hits["dataset"])]
    raise ValueError(f"{len(hits)} reported values match {asked}: {', '.join(cells)}; "
                     "pass column= and/or dataset= to pick one")
