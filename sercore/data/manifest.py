"""One manifest schema for every corpus.

A manifest is a :class:`pandas.DataFrame` with exactly the columns in
:data:`COLUMNS`, one row per utterance. Every corpus loader in
:mod:`sercore.data` returns one, and every later stage (label maps,
protocols, features) reads only these columns.

Columns
-------
utt_id    unique id inside the corpus (``03a01Fa``, ``Ses01F_impro01_F000``)
path      absolute path of the audio file, or ``None`` for text-only corpora
start     start time in seconds inside ``path`` (``None`` = whole file)
end       end time in seconds inside ``path`` (``None`` = whole file)
text      transcript or sentence text (``None`` when unknown)
label     canonical emotion name (see :data:`sercore.data.labels.EMOTIONS`)
label_raw the corpus' own label code (``W``, ``ang``, ``rab`` ...)
speaker   speaker id, unique inside the corpus
gender    ``F``, ``M`` or ``None``
session   session or group id (IEMOCAP session, MELD split, ...) or ``None``
language  ISO 639-1 code (``en``, ``de``, ``it``, ``ur``)
corpus    corpus name as registered in :data:`sercore.data.CORPORA`
video     path of a video file or frame array for the utterance, or ``None``
split     an official split (``train``/``dev``/``test``) when the corpus has one, else ``None``

Loaders may attach bookkeeping in ``df.attrs``: ``root`` (the folder read),
``skipped`` (a list of ``(path, reason)`` for files skipped on request) and
``note`` (a caveat to print next to results, e.g. the Emo-DB copy's).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

COLUMNS: tuple[str, ...] = (
    "utt_id",
    "path",
    "start",
    "end",
    "text",
    "label",
    "label_raw",
    "speaker",
    "gender",
    "session",
    "language",
    "corpus",
    "video",
    "split",
)

REQUIRED: tuple[str, ...] = ("utt_id", "label", "speaker", "corpus")


def make_manifest(records: Iterable[Mapping], *, root: Path | str | None = None,
                  note: str | None = None, skipped: list | None = None) -> pd.DataFrame:
    """Build a manifest from dict records; missing columns are filled with ``None``.

    Raises ``ValueError`` for unknown columns, missing required values or
    duplicated ``utt_id`` values.
    """
    records = list(records)
    for r in records:
        extra = set(r) - set(COLUMNS)
        if extra:
            raise ValueError(f"manifest record has unknown columns {sorted(extra)}; "
                             f"expected a subset of {list(COLUMNS)}")
    df = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    df = df.astype(object).where(pd.notna(df), None)
    validate(df, source=root)
    df.attrs["root"] = str(root) if root is not None else None
    df.attrs["note"] = note
    df.attrs["skipped"] = list(skipped or [])
    return df


def validate(df: pd.DataFrame, source: Path | str | None = None) -> pd.DataFrame:
    """Check that ``df`` follows the manifest schema; return it unchanged.

    ``ValueError`` naming ``source`` (the corpus folder, when given), the column and the
    offending rows / ids: missing columns, empty required values, duplicated ``utt_id``.
    """
    where = f"manifest of {source}" if source is not None else "manifest"
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where} is missing columns {missing}; expected {list(COLUMNS)}")
    for col in REQUIRED:
        bad = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if bad.any():
            first = df.index[bad][0]
            ident = df["utt_id"].get(first) if col != "utt_id" else None
            raise ValueError(f"{where}: column {col!r} is empty for {int(bad.sum())} row(s), "
                             f"first at row {first}" + (f" (utt_id {ident!r})" if ident else ""))
    dup = df["utt_id"].duplicated(keep=False)
    if dup.any():
        ids = list(dict.fromkeys(df["utt_id"][dup]))
        shown = ", ".join(repr(i) for i in ids[:3]) + (f" (+{len(ids) - 3} more)" if len(ids) > 3 else "")
        raise ValueError(f"{where} has {len(ids)} duplicated utt_id value(s): {shown}")
    return df


def summary(df: pd.DataFrame) -> dict:
    """Counts a person wants to see: utterances, speakers, label distribution, skips."""
    return {
        "utterances": int(len(df)),
        "speakers": int(df["speaker"].nunique()),
        "labels": {str(k): int(v) for k, v in df["label"].value_counts().sort_index().items()},
        "with_audio": int(df["path"].notna().sum()),
        "with_text": int(df["text"].notna().sum()),
        "with_video": int(df["video"].notna().sum()),
        "skipped": len(df.attrs.get("skipped") or []),
    }
