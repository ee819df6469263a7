"""On-disk, content-addressed feature cache shared by all papers.

A cached array is found by a key that hashes everything its value depends on:

- the input's identity: the sha1 of the audio file's bytes plus ``start``/``end``
  (so renaming or moving a corpus keeps the cache, editing a file invalidates
  it), or the sha1 of the text for text extractors;
- the extractor's name and its config (canonical JSON: sorted keys, no spaces);
- any extra fingerprint the extractor gives (e.g. the sha1 of its weights file);
- the code version ``sercore.__version__`` + the extractor's ``VERSION``
  (bump ``VERSION`` whenever an extractor's output changes).

``key = sha256(canonical_json({...}))`` and the array lives at
``<root>/<extractor>/<key[:2]>/<key>.npy`` with ``root =
sercore.paths.cache_dir() / "features"`` unless given. Files are written to a
temporary file in the same folder and renamed into place, so concurrent
writers and interrupted runs never leave a half-written array behind.

File hashes are memoised per process on ``(path, size, mtime_ns)``: a file
rewritten in place with the same size within the filesystem's timestamp
resolution would keep its old hash until the next process.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from .. import __version__
from ..paths import atomic_write, cache_dir

__all__ = ["FeatureCache", "file_sha1", "text_sha1", "canonical_json", "make_key"]

_SHA1_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha1(path: str | Path) -> str:
    """sha1 of a file's bytes, computed once per process per (path, size, mtime_ns)."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"cannot hash missing file {p}") from None
    memo_key = (str(p), st.st_size, st.st_mtime_ns)
    digest = _SHA1_MEMO.get(memo_key)
    if digest is None:
        h = hashlib.sha1()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = _SHA1_MEMO[memo_key] = h.hexdigest()
    return digest


def text_sha1(text: str) -> str:
    """sha1 of a text's UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _plain(x):
    """Turn numpy scalars / tuples / paths into JSON-plain values."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    raise TypeError(f"cache keys take plain values (str, int, float, bool, None, list, dict), "
                    f"got {type(x).__name__}: {x!r}")


def canonical_json(obj) -> str:
    """JSON with sorted keys and no whitespace: equal configs give equal strings."""
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def make_key(identity: dict, name: str, config: dict, version: str,
             fingerprint: dict | None = None) -> str:
    """sha256 hex key of (input identity, extractor name, config, code version, fingerprint)."""
    blob = canonical_json({"input": identity, "extractor": name, "config": config,
                           "code": f"{__version__}+{version}", "fingerprint": fingerprint or {}})
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


class FeatureCache:
    """Arrays on disk under ``root/<extractor>/<key[:2]>/<key>.npy``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_dir() / "features"

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def path(self, name: str, key: str) -> Path:
        return self.root / name / key[:2] / f"{key}.npy"

    def get(self, name: str, key: str) -> np.ndarray | None:
        """The cached array, or ``None`` when absent. An unreadable file is reported
        with a warning, removed, and treated as absent (it will be recomputed)."""
        p = self.path(name, key)
        if not p.is_file():
            return None
        try:
            return np.load(p, allow_pickle=False)
        except Exception as e:  # truncated or foreign file
            warnings.warn(f"feature cache file {p} is unreadable ({e}); recomputing it")
            p.unlink(missing_ok=True)
            return None

    def put(self, name: str, key: str, array: np.ndarray) -> Path:
        """Write ``array`` atomically (temporary file + rename); returns its path."""
        def write(tmp: Path) -> None:
            with tmp.open("wb") as f:       # a file object: np.save would add ".npy" to a path
                np.save(f, np.asarray(array), allow_pickle=False)

        return atomic_write(self.path(name, key), write)

    def __contains__(self, name_key: tuple[str, str]) -> bool:
        return self.path(*name_key).is_file()

    def size(self, name: str | None = None) -> tuple[int, int]:
        """(number of arrays, bytes) under the cache, or under one extractor."""
        base = self.root / name if name else self.root
        files = list(base.rglob("*.npy")) if base.exists() else []
        return len(files), sum(f.stat().st_size for f in files)
