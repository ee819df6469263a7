"""Corpora: official layout in, one manifest out.

Every corpus has one module here with the same contract::

    DIRNAME: str         # folder name under the data root, e.g. "emodb"
    LAYOUT: str          # the official layout, printed when the folder is missing
    def load(root: Path, on_error: str = "raise") -> pandas.DataFrame   # a manifest

``root`` is the corpus folder itself (``$SERCORE_DATA/emodb``). ``on_error='skip'``
skips unreadable files and records them in ``df.attrs['skipped']``; the default
raises :class:`~sercore.data.errors.CorruptFileError` naming the file.

Use :func:`load` with a registered name; it resolves the data root from the
argument, then ``SERCORE_DATA``, then ``./data``. The synthetic corpus is
generated (and cached) on first use.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import pandas as pd

from .errors import CorpusNotFoundError, CorruptFileError, SkipLog  # noqa: F401
from .labels import LABEL_MAPS, LabelMap, get_label_map  # noqa: F401
from .manifest import COLUMNS, make_manifest, summary, validate  # noqa: F401

#: registered corpus name -> module in this package
CORPORA: dict[str, str] = {
    "synthetic": "synthetic",
    "emodb": "emodb",
    "iemocap": "iemocap",
    "iemocap_text": "iemocap_text",
    "meld": "meld",
    "mosei": "mosei",
    "msp_improv": "msp_improv",
    "emovo": "emovo",
    "urdu": "urdu",
}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds one sub-folder per corpus."""
    if root is None:
        root = os.environ.get("SERCORE_DATA", "data")
    return Path(root).expanduser().resolve()


def corpus_module(name: str):
    """The loader module of a registered corpus."""
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; known: {sorted(CORPORA)}")
    return importlib.import_module(f"{__name__}.{CORPORA[name]}")


def corpus_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where corpus ``name`` is expected: ``<data root>/<DIRNAME>``."""
    return data_root(root) / corpus_module(name).DIRNAME


def is_available(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether the corpus folder exists (the synthetic corpus always is)."""
    if name == "synthetic":
        return True
    return corpus_dir(name, root).is_dir()


def load(name: str, root: str | os.PathLike | None = None, on_error: str = "raise",
         **kwargs) -> pd.DataFrame:
    """Load corpus ``name`` as a manifest.

    Raises :class:`CorpusNotFoundError` naming the path and expected layout
    when the folder is missing. Extra keyword arguments go to the loader
    (e.g. the synthetic corpus' size settings).
    """
    mod = corpus_module(name)
    if name == "synthetic":
        # generated, not read: it lives in the cache, since the data root may be read-only
        from ..paths import cache_dir
        return mod.load(cache_dir() / mod.DIRNAME, on_error=on_error, **kwargs)
    path = corpus_dir(name, root)
    if not path.is_dir():
        raise CorpusNotFoundError(name, path, mod.LAYOUT)
    return mod.load(path, on_error=on_error, **kwargs)


def available(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the corpora found under the data root (synthetic always)."""
    return [n for n in CORPORA if is_available(n, root)]


#: modalities a corpus can offer, and the manifest column that holds each
MODALITY_COLUMNS = {"audio": "path", "text": "text", "video": "video"}


def modalities(manifest: pd.DataFrame) -> tuple[str, ...]:
    """The modalities every row of ``manifest`` has, in the order audio, text, video: a column counts
    only when no row of it is missing or blank (one blank transcript means the corpus has no full text
    modality; choose the rows first if some lack it)."""
    def full(col: str) -> bool:
        if col not in manifest:
            return False
        s = manifest[col]
        return bool(len(s)) and bool(s.notna().all()) and bool((s.astype(str).str.strip() != "").all())
    return tuple(m for m, col in MODALITY_COLUMNS.items() if full(col))


def listing(root: str | None = None) -> str:
    """A table of every registered corpus: found or not, utterances, labels."""
    lines = [f"data root: {data_root(root)}", f"{'corpus':<14}{'found':<7}{'utterances':>11}  {'speakers':>8}  labels"]
    for name in CORPORA:
        if not is_available(name, root):
            lines.append(f"{name:<14}{'no':<7}{'-':>11}  {'-':>8}  expected at {corpus_dir(name, root)}")
            continue
        try:
            s = summary(load(name, root))
        except Exception as e:  # a broken corpus must not hide the others
            lines.append(f"{name:<14}{'error':<7}{'-':>11}  {'-':>8}  {type(e).__name__}: {e}".splitlines()[0])
            continue
        labels = ", ".join(f"{k} {v}" for k, v in s["labels"].items())
        skipped = f" ({s['skipped']} skipped)" if s["skipped"] else ""
        lines.append(f"{name:<14}{'yes':<7}{s['utterances']:>11,}  {s['speakers']:>8}  {labels}{skipped}")
    return "\n".join(lines)
