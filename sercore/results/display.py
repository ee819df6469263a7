"""What a notebook shows: numbers and intervals as table cells, whole readable tables, interactive
tables, the synthetic-corpus banner, and the confusion-matrix and learning-curve plots."""
from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pandas as pd


SYNTHETIC_BANNER = ("**Synthetic corpus.** These numbers were measured on sercore's generated speech "
                    "(espeak-ng prosody profiles). They check that the pipeline works and are **not "
                    "comparable** with the papers' numbers.")


def fmt_num(v, signed: bool = False) -> str:
    """A number as a table cell for people: two decimals; from 100,000 up whole, with thousands
    separators (a parameter count beside percentages); blank when absent. ``signed``: always a sign
    (a deviation)."""
    if v is None or v != v:
        return ""
    v = float(v)
    sign = "+" if signed else ""
    return f"{v:{sign},.0f}" if abs(v) >= 1e5 else f"{v:{sign}.2f}"


ABSENT = "\u2013"    # an absent value in a table for people (an en dash, as a paper's table leaves it)


def fmt_value(v, count: bool = False, signed: bool = False) -> str:
    """A number as a table cell, by its type: a count (``count``: a parameter or utterance count) whole
    with thousands separators (``190,790``), any other number (a percentage, a fraction) to two
    decimals (``66.36``); ``signed``: always a sign (a deviation, ``+30,085``); absent (None, NaN) is
    :data:`ABSENT`."""
    if v is None or v != v:
        return ABSENT
    sign = "+" if signed else ""
    return f"{round(float(v)):{sign},d}" if count else f"{float(v):{sign}.2f}"


def fmt_float(v) -> str:
    """A float in a table with no declared type: two decimals (``66.36``), whole with thousands
    separators from 100,000 up (a parameter count), two significant digits below 0.01 (a learning rate
    ``1e-06``, a p-value ``0.00043``: never a bare ``0.00``); absent is :data:`ABSENT`."""
    if v is None or v != v:
        return ABSENT
    v = float(v)
    if abs(v) >= 1e5:
        return f"{v:,.0f}"
    if v == 0 or abs(v) >= 0.01:
        return f"{v:.2f}"
    return f"{v:.2g}"


def said_once(df: pd.DataFrame, column: str, ignore: Sequence[str] = ("",)) -> tuple[str | None, pd.DataFrame]:
    """A column whose rows all hold one text (cells in ``ignore`` left aside; :data:`ABSENT` never
    counts as that text) is said once, not on every row: returns ``(text, df without the column)``,
    else ``(None, df)``. E.g. the test data every comparison row of a run stands on."""
    texts = set(df[column]) - set(ignore) if column in df.columns else set()
    text = texts.pop() if len(texts) == 1 else None
    if text is None or text == ABSENT:
        return None, df
    return text, df.drop(columns=column)


def fmt_interval(interval) -> str:
    """``[low, high]`` as a table cell, blank when there is none."""
    if not interval or any(v is None or v != v for v in interval):
        return ""
    return f"[{fmt_num(interval[0])}, {fmt_num(interval[1])}]"


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


def readable_tables(max_rows: int = 500, max_columns: int = 100) -> None:
    """Call once at the top of a notebook: every DataFrame it shows is whole and reads as a table.

    pandas shortens a long cell to "...", a long table to its first and last rows and a wide one to its
    first and last columns, which a reader of the HTML book cannot open, and writes an absent value as
    "NaN" (a paper's table leaves such cells blank). After this, cells are whole, tables up to
    ``max_rows`` rows and ``max_columns`` columns are whole, and an absent value is a dash. Outside
    IPython only the pandas options are set."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", max_rows)
    pd.set_option("display.max_columns", max_columns)
    try:
        from IPython import get_ipython
    except ImportError:                          # pragma: no cover - IPython is a dependency
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)


def _cell(v):
    """One cell of an object or nullable column: absent (None, NaN, ``pd.NA``) as :data:`ABSENT`, a
    float as :func:`fmt_float`, anything else as it is."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ABSENT
    return fmt_float(v) if isinstance(v, float) else v


def frame_html(df: pd.DataFrame) -> str:
    """A DataFrame as the notebook's HTML (the same markup as pandas' own) in a box of its own
    (``div.sercore-table``: a wide or long table scrolls inside it, its header row stays in view; the
    book's CSS), within pandas' display options (:func:`readable_tables` sets them). Numbers by type:
    integer columns (counts) with thousands separators, floats as :func:`fmt_float` writes them (unless
    ``display.float_format`` is set); an absent value (None, NaN, ``<NA>``) is a dash."""
    shown = df.copy()
    for i, t in enumerate(shown.dtypes):
        col = shown.iloc[:, i]
        if pd.api.types.is_integer_dtype(t) and not pd.api.types.is_bool_dtype(t):
            shown.isetitem(i, col.map(lambda v: ABSENT if v is pd.NA else f"{v:,}").astype(object))
        elif t == object or isinstance(t, pd.api.extensions.ExtensionDtype):
            shown.isetitem(i, col.astype(object).map(_cell))
    return ('<div class="sercore-table">'
            + shown.to_html(na_rep=ABSENT, notebook=True, max_rows=pd.get_option("display.max_rows"),
                            max_cols=pd.get_option("display.max_columns"), show_dimensions="truncate",
                            float_format=pd.get_option("display.float_format") or fmt_float)
            + "</div>")


_ITABLES_EMITTED = False


def table(df: pd.DataFrame, *, caption: str | None = None, page_length: int = 25, column_filters: bool = True):
    """An interactive table for the HTML book (itables' bundled DataTables, works offline): a search
    box, a filter box above every column (type a paper, dataset or profile), sorting by clicking a
    header, and pages of ``page_length`` rows. Numbers read as :func:`fmt_num` writes them (a parameter
    count whole, with separators) and sort as numbers; an absent one is a dash. The first table of a
    kernel also carries the DataTables bundle, so a static page needs nothing else. Returns an
    ``IPython.display.HTML``."""
    import itables
    from IPython.display import HTML
    from itables import javascript, options

    global _ITABLES_EMITTED
    shown = df.copy()
    for c in shown.columns:                    # None/NaN as a dash, never "NaN"/"null" in a cell
        if shown[c].dtype == object or str(shown[c].dtype) in ("str", "string", "bool", "boolean"):
            shown[c] = shown[c].map(lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
    show_index = not isinstance(shown.index, pd.RangeIndex)
    with pd.option_context("display.float_format", fmt_num):    # itables shows floats as pandas formats them
        html = itables.to_html_datatable(
            shown, caption=caption, connected=False, showIndex=show_index, pageLength=page_length,
            lengthMenu=[10, 25, 100, -1], column_filters="header" if column_filters else False,
            classes="display compact", maxBytes=0, allow_html=False)
    # an absent number in a float column: shown as a dash (itables writes "NaN"); it still sorts as NaN.
    # Both in the data of the interactive table and in the plain table shown without JavaScript.
    html = html.replace('[\\"NaN\\", \\"___NaN___\\"]', '[\\"\\u2013\\", \\"___NaN___\\"]')
    html = re.sub(r"(<td[^>]*>)NaN(</td>)", "\\1\u2013\\2", html)
    if not _ITABLES_EMITTED:
        html = javascript.generate_init_offline_itables_html(options.dt_bundle) + html
        _ITABLES_EMITTED = True
    return HTML(html)
