"""Small helpers the corpus loaders share: cheap file checks, robust text reading.

Nothing here reads audio samples: :func:`check_audio` asks libsndfile for the
header only (``soundfile.info``), which is enough to catch unreadable, empty and
wrongly formatted files without decoding a corpus.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import soundfile as sf

from .errors import CorpusNotFoundError, CorruptFileError


def check_audio(path: Path | str) -> "sf._SoundFileInfo":
    """Header of an audio file; :class:`CorruptFileError` naming it when unreadable or empty."""
    path = Path(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises its own error types
        raise CorruptFileError(path, f"not a readable audio file ({exc})") from None
    if info.frames <= 0:
        raise CorruptFileError(path, "audio file is empty (0 frames)")
    if info.samplerate <= 0:
        raise CorruptFileError(path, f"audio file has an invalid sample rate ({info.samplerate})")
    return info


def check_mp4(path: Path | str) -> None:
    """Cheap check of an MP4 clip: non-empty and carrying the ISO-BMFF ``ftyp`` box."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise CorruptFileError(path, f"cannot be read ({exc})") from None
    if not head:
        raise CorruptFileError(path, "video clip is empty (0 bytes)")
    if head[4:8] != b"ftyp":
        raise CorruptFileError(path, "not an MP4 file (no 'ftyp' box at the start)")


def read_text(path: Path | str) -> str:
    """Text of a small file: UTF-8 (with or without BOM), else cp1252, else Latin-1.

    Raises :class:`CorruptFileError` when the file cannot be read or is empty.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(path, f"cannot be read ({exc})") from None
    if not raw.strip():
        raise CorruptFileError(path, "file is empty")
    if b"\x00" in raw[:4096]:
        raise CorruptFileError(path, "binary content where a text file was expected")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u20ac\u2122]")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1/cp1252 (``heâ\\x80\\x99s`` -> ``he’s``).

    Only applied when the string shows the tell-tale pattern and the round trip
    succeeds; otherwise the text is returned unchanged.
    """
    if not text or not _MOJIBAKE.search(text):
        return text
    for enc in ("latin-1", "cp1252"):
        try:
            return text.encode(enc).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def visible_files(folder: Path, suffixes: Iterable[str]) -> list[Path]:
    """Files directly in ``folder`` with one of ``suffixes`` (case-insensitive), sorted.

    Hidden files (``.x``, macOS ``._x`` resource forks) are not corpus files and are left out.
    """
    suffixes = tuple(s.lower() for s in suffixes)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes)


def visible_dirs(folder: Path) -> list[Path]:
    """Sub-folders of ``folder`` that are not hidden, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def require_root(corpus: str, root: Path | str, layout: str) -> Path:
    """``root`` as a Path; :class:`CorpusNotFoundError` when it is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusNotFoundError(corpus, root, layout)
    return root


def media_fragment(path: Path | str, start: float | None, end: float | None) -> str:
    """``path#t=start,end`` (W3C media-fragment syntax) or the bare path when no times."""
    if start is None or end is None:
        return str(path)
    return f"{path}#t={start:.4f},{end:.4f}"


def split_media_fragment(value: str) -> tuple[str, float | None, float | None]:
    """Inverse of :func:`media_fragment`: ``(path, start, end)``; times ``None`` when absent."""
    m = re.fullmatch(r"(.*)#t=([0-9.]+),([0-9.]+)", value)
    if not m:
        return value, None, None
    return m.group(1), float(m.group(2)), float(m.group(3))


def join_notes(parts: Iterable[str | None]) -> str | None:
    """Join the non-empty note sentences with spaces; ``None`` when there are none."""
    parts = [p.strip() for p in parts if p and p.strip()]
    return " ".join(parts) if parts else None


def examples(items: list, n: int = 3) -> str:
    """``a, b, c (+5 more)`` for notes that name a few of many items."""
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")
