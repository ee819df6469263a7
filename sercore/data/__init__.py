"""Corpora: official layout in, one manifest out.

Every corpus the book knows has one module here that declares it (:mod:`sercore.registry`)::

    NAME, DIRNAME, LAYOUT                  # registry name, folder under the data root, official layout
    def load(root: Path, on_error: str = "raise") -> pandas.DataFrame   # a manifest
    def write_fixture(root, speech) -> dict                            # a small copy (fixtures)
    CORPUS = Corpus(name=NAME, dirname=DIRNAME, layout=LAYOUT, load=load, label_map=..., ...)

``root`` is the corpus folder itself (``$SERCORE_DATA/emodb``). ``on_error='skip'``
skips unreadable files and records them in ``df.attrs['skipped']``; the default
raises :class:`~sercore.data.errors.CorruptFileError` naming the file.
:data:`CORPORA` (name -> declaration) is discovered from these modules: a new
corpus is one new module (and its params files).

Any other corpus a person holds is a **manifest corpus**: a folder
``$SERCORE_DATA/<name>/`` with ``manifest.csv`` (``path``, ``label``, and where
known ``speaker``, ``split``, ``text``, ``language``, ``session``), or EmoBox's
per-fold jsonl files (:mod:`sercore.data.manifest_corpus`). It is found under the
data root by name, like a built-in corpus.

Use :func:`load` with a corpus name; it resolves the data root from the
argument, then ``SERCORE_DATA``, then ``./data``. The synthetic corpus is
generated (and cached) on first use.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import pandas as pd

from ..registry import Corpus, LazyMapping, corpora
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog  # noqa: F401
from .labels import LABEL_MAPS, LabelMap, get_label_map  # noqa: F401
from .manifest import COLUMNS, make_manifest, summary, validate  # noqa: F401

#: every declared corpus: registry name -> its :class:`~sercore.registry.Corpus` (from the modules here)
CORPORA = LazyMapping(corpora, "corpus")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds one sub-folder per corpus."""
    if root is None:
        root = os.environ.get("SERCORE_DATA", "data")
    return Path(root).expanduser().resolve()


def corpus_module(name: str):
    """The loader module of a declared corpus."""
    return importlib.import_module(CORPORA[name].load.__module__)


def corpus_spec(name: str, root: str | os.PathLike | None = None) -> Corpus:
    """The declaration of corpus ``name``: a built-in's, or the one a manifest corpus under the data
    root makes of its folder (:func:`sercore.data.manifest_corpus.spec`); ``KeyError`` naming both
    places otherwise."""
    if name in CORPORA:
        return CORPORA[name]
    from . import manifest_corpus
    try:
        return manifest_corpus.spec(name, root)
    except manifest_corpus.NotAManifestCorpus as e:
        raise KeyError(f"unknown corpus {name!r}: not a built-in ({', '.join(CORPORA)}) and {e}") from None


def corpus_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where corpus ``name`` is expected: ``<data root>/<dirname>`` (a manifest corpus: ``<data root>/<name>``)."""
    return data_root(root) / (CORPORA[name].dirname if name in CORPORA else name)


def is_available(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether the corpus is there: its folder exists (the synthetic corpus always is; a manifest
    corpus when its folder holds a manifest)."""
    if name in CORPORA:
        return CORPORA[name].generated or corpus_dir(name, root).is_dir()
    from . import manifest_corpus
    return name in manifest_corpus.find(data_root(root))


def load(name: str, root: str | os.PathLike | None = None, on_error: str = "raise",
         **kwargs) -> pd.DataFrame:
    """Load corpus ``name`` as a manifest.

    Raises :class:`CorpusNotFoundError` naming the path and expected layout
    when the folder is missing. Extra keyword arguments go to the loader
    (e.g. the synthetic corpus' size settings).
    """
    if name not in CORPORA:
        from . import manifest_corpus
        folder = data_root(root) / name
        if name not in manifest_corpus.find(data_root(root)):
            raise CorpusNotFoundError(name, folder, manifest_corpus.LAYOUT,
                                      detail=f"no built-in corpus {name!r} and no manifest in {folder}")
        return manifest_corpus.load(folder, on_error=on_error, **kwargs)
    spec = CORPORA[name]
    if spec.generated:
        # generated, not read: it lives in the cache, since the data root may be read-only
        from ..paths import cache_dir
        return spec.load(cache_dir() / spec.dirname, on_error=on_error, **kwargs)
    path = corpus_dir(name, root)
    if not path.is_dir():
        raise CorpusNotFoundError(name, path, spec.layout)
    return spec.load(path, on_error=on_error, **kwargs)


def manifest_corpora(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the manifest corpora under the data root (:mod:`sercore.data.manifest_corpus`)."""
    from . import manifest_corpus
    return list(manifest_corpus.find(data_root(root)))


def names(root: str | os.PathLike | None = None) -> list[str]:
    """Every corpus this data root can offer: the declared ones, then its manifest corpora."""
    return [*CORPORA, *manifest_corpora(root)]


def available(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the corpora found under the data root (synthetic always, manifest corpora included)."""
    return [n for n in CORPORA if is_available(n, root)] + manifest_corpora(root)


def label_map(name: str, root: str | os.PathLike | None = None) -> LabelMap:
    """A label setting by name: a declared one (:data:`LABEL_MAPS`), or a manifest corpus's own (its
    classes, named after it)."""
    if name in LABEL_MAPS:
        return LABEL_MAPS[name]
    from . import manifest_corpus
    if name in manifest_corpus.find(data_root(root)):
        return manifest_corpus.label_map(data_root(root) / name)
    return get_label_map(name)


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
    """A table of every corpus: the declared ones and the data root's manifest corpora, found or not,
    utterances, speakers, labels (the synthetic corpus is counted only when already generated)."""
    from . import manifest_corpus

    base = data_root(root)
    lines = [f"data root: {base}", f"{'corpus':<14}{'found':<7}{'utterances':>11}  {'speakers':>8}  labels"]

    def row(name: str, load_it) -> None:
        try:
            m = load_it()
        except Exception as e:  # a broken corpus must not hide the others
            lines.append(f"{name:<14}{'error':<7}{'-':>11}  {'-':>8}  {type(e).__name__}: {e}".splitlines()[0])
            return
        if m is None:
            lines.append(f"{name:<14}{'-':<7}{'-':>11}  {'-':>8}  generated on first use (about a minute, "
                         f"into the cache)")
            return
        s = summary(m)
        labels = ", ".join(f"{k} {v}" for k, v in s["labels"].items())
        skipped = f" ({s['skipped']} skipped)" if s["skipped"] else ""
        extra = f" [{m.attrs['listing']}]" if m.attrs.get("listing") else ""
        lines.append(f"{name:<14}{'yes':<7}{s['utterances']:>11,}  {s['speakers']:>8}  {labels}{skipped}{extra}")

    for name, spec in CORPORA.items():
        if spec.generated:
            from ..paths import cache_dir
            cached = getattr(corpus_module(name), "cached", None)
            row(name, lambda: cached(cache_dir() / spec.dirname) if cached else spec.load(cache_dir() / spec.dirname))
        elif not is_available(name, root):
            lines.append(f"{name:<14}{'no':<7}{'-':>11}  {'-':>8}  expected at {corpus_dir(name, root)}")
        else:
            row(name, lambda: load(name, root))
    for name, folder in manifest_corpus.find(base).items():
        row(name, lambda: manifest_corpus.load(folder))
    for problem in manifest_corpus.problems(base):
        lines.append(f"{'':<14}{'no':<7}{'-':>11}  {'-':>8}  {problem}")
    return "\n".join(lines)
