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
``<root>/<extractor>/<key[:2]>/<key>.v2.npy`` with ``root =
sercore.paths.cache_dir() / "features"`` unless given, next to a small sidecar
``<key>.v2.json`` holding the sha256 of the ``.npy`` file's bytes, its size,
and the array's shape and dtype. Files are written to a temporary file in the
same folder and renamed into place (the sidecar first, then the array), so
concurrent writers and interrupted runs never leave a half-written array behind.

Every read is verified: the file is read once, its sha256 and its ``.npy``
header are checked against the sidecar, and the sidecar must name the entry
asked for (extractor and key) and, where it records them, the input and
settings the array was computed from, whose hash must be that key: an entry
moved or swapped with another of the same shape is refused. (A sidecar written
before entries named their key is bound to its key when first read.) A damaged entry (truncated, bytes
changed, another valid array of a different shape or dtype, a missing or
unreadable sidecar) is never served: :meth:`FeatureCache.get` warns naming the
entry and the problem, removes it, and returns ``None`` so the caller recomputes
it. Entries of the earlier layout (``<key>.npy`` without a sidecar) are not
read: they count as absent, and :meth:`FeatureCache.put` removes the old file
when it writes the new entry.

File hashes are memoised per process on ``(path, size, mtime_ns)``: a file
rewritten in place with the same size within the filesystem's timestamp
resolution would keep its old hash until the next process.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .. import __version__
from ..paths import atomic_write, cache_dir

__all__ = ["FeatureCache", "file_sha1", "text_sha1", "canonical_json", "make_key", "key_material"]

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


def key_material(identity: dict, name: str, config: dict, version: str,
                 fingerprint: dict | None = None) -> dict:
    """What a cache key hashes: the input's identity, the extractor, its settings, the code version and
    any fingerprint (weights), as plain values."""
    return _plain({"input": identity, "extractor": name, "config": config,
                   "code": f"{__version__}+{version}", "fingerprint": fingerprint or {}})


def key_of(material: dict) -> str:
    """sha256 hex key of :func:`key_material`'s dict."""
    return hashlib.sha256(canonical_json(material).encode("ascii")).hexdigest()


def make_key(identity: dict, name: str, config: dict, version: str,
             fingerprint: dict | None = None) -> str:
    """sha256 hex key of (input identity, extractor name, config, code version, fingerprint)."""
    return key_of(key_material(identity, name, config, version, fingerprint))


def binding(material: dict) -> dict:
    """What an entry's sidecar records of what made it: the digest of its input (the audio file's bytes
    and the part read, or the text) and the digest of its settings (extractor, config, code version,
    fingerprint)."""
    rest = {k: v for k, v in material.items() if k != "input"}
    return {"input_sha256": hashlib.sha256(canonical_json(material.get("input")).encode("ascii")).hexdigest(),
            "settings_sha256": hashlib.sha256(canonical_json(rest).encode("ascii")).hexdigest(),
            "made_of": material}


#: the layout of an entry: bump when the on-disk format changes (older entries then count as absent)
FORMAT = 2
_DATA = f".v{FORMAT}.npy"
_SIDE = f".v{FORMAT}.json"


_WARNED: set[tuple[str, str]] = set()


def _warn_unwritable(root: Path, e: OSError) -> None:
    """One warning per cache folder and cause: features are computed and not kept."""
    why = e.strerror or str(e)
    if (str(root), why) in _WARNED:
        return
    _WARNED.add((str(root), why))
    warnings.warn(f"feature cache {root} cannot be written ({why}: {e.filename or root}); features are "
                  "computed and not kept", stacklevel=3)


class FeatureCache:
    """Arrays on disk under ``root/<extractor>/<key[:2]>/<key>.v2.npy``, each with a checksum sidecar."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_dir() / "features"

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def path(self, name: str, key: str) -> Path:
        """The array file of an entry."""
        return self.root / name / key[:2] / f"{key}{_DATA}"

    def sidecar(self, name: str, key: str) -> Path:
        """The entry's sidecar: sha256, size, shape and dtype of the array file."""
        return self.root / name / key[:2] / f"{key}{_SIDE}"

    def _legacy(self, name: str, key: str) -> Path:
        return self.root / name / key[:2] / f"{key}.npy"

    def get(self, name: str, key: str) -> np.ndarray | None:
        """The cached array, or ``None`` when absent or damaged.

        The bytes are checked against the sidecar (sha256, size, shape, dtype) before
        anything is returned; a damaged entry is reported with a warning naming it,
        removed, and treated as absent (the caller recomputes it)."""
        p = self.path(name, key)
        try:
            with open(p, "rb") as f:
                raw = np.empty(os.fstat(f.fileno()).st_size, dtype=np.uint8)  # one read: the array's buffer
                n = f.readinto(memoryview(raw))
                raw = raw[:n]
        except FileNotFoundError:
            return None
        try:
            problem, arr = self._verify(name, key, raw)
        except Exception as e:  # a sidecar of the wrong types, ...: damaged all the same
            problem, arr = f"{type(e).__name__}: {e}", None
        if problem is None:
            return arr
        warnings.warn(f"feature cache entry {name}/{key} is damaged ({problem}); it is not used "
                      f"and will be recomputed [{p}]", stacklevel=2)
        self.discard(name, key)
        return None

    def _verify(self, name: str, key: str, raw: np.ndarray) -> tuple[str | None, np.ndarray | None]:
        """(None, array) for a sound entry, else (what is wrong, None)."""
        side = self.sidecar(name, key)
        try:
            meta = json.loads(side.read_text())
        except FileNotFoundError:
            return f"its checksum sidecar {side.name} is missing", None
        except (OSError, ValueError) as e:
            return f"its sidecar {side.name} is unreadable: {e}", None
        if not isinstance(meta, dict) or not {"sha256", "shape", "dtype", "bytes"} <= set(meta):
            return f"its sidecar {side.name} lacks sha256/shape/dtype/bytes", None
        if "key" in meta and (meta["key"] != key or meta.get("extractor", name) != name):
            return (f"it was written for another input or settings (its sidecar names entry "
                    f"{meta.get('extractor', name)}/{str(meta['key'])[:16]}...: the files were moved or swapped)"), None
        if "made_of" in meta:
            try:
                made = key_of(meta["made_of"])
            except (TypeError, ValueError):
                made = None
            if made != key:
                return "the input and settings its sidecar records do not hash to its key (edited)", None
            b = binding(meta["made_of"])
            if (meta.get("input_sha256"), meta.get("settings_sha256")) != (b["input_sha256"], b["settings_sha256"]):
                return "the input and settings digests in its sidecar do not match what it records (edited)", None
        size = None
        if len(raw) != meta["bytes"]:
            size = f"{len(raw)} bytes on disk where {meta['bytes']} were written (truncated or extended)"
        try:
            buf = io.BytesIO(raw[:4096].tobytes())            # the header (np.save keeps it small)
            version = np.lib.format.read_magic(buf)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                return f".npy format version {version} is not one the cache writes", None
            shape, fortran, dtype = read_header(buf)
        except Exception as e:  # not an .npy file any more
            return size or f"not a readable .npy file: {e}", None
        if list(shape) != list(meta["shape"]) or dtype.str != meta["dtype"]:
            return (f"it holds an array of shape {tuple(shape)} dtype {dtype.str} where shape "
                    f"{tuple(meta['shape'])} dtype {meta['dtype']} was written"), None
        if size:
            return size, None
        if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
            return "its sha256 differs from the one written with it (bytes changed on disk)", None
        if dtype.hasobject:
            return "it holds Python objects", None
        offset = buf.tell()
        count = int(np.prod(shape, dtype=np.int64))
        if len(raw) - offset != count * dtype.itemsize:
            return f"its data is {len(raw) - offset} bytes where {count * dtype.itemsize} are needed", None
        arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
        arr = arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)
        if "key" not in meta:           # written before entries named their key: bound to it from now on
            self._write_sidecar(name, key, {**meta, "extractor": name, "key": key}, quiet=True)
        return None, arr

    def _write_sidecar(self, name: str, key: str, meta: dict, quiet: bool = False) -> bool:
        try:
            atomic_write(self.sidecar(name, key), lambda t: t.write_text(json.dumps(meta)))
            return True
        except OSError as e:
            if not quiet:
                _warn_unwritable(self.root, e)
            return False

    def discard(self, name: str, key: str) -> None:
        """Remove an entry (array and sidecar), if present."""
        for q in (self.path(name, key), self.sidecar(name, key)):
            try:
                q.unlink(missing_ok=True)
            except OSError:      # a read-only cache: the entry stays, and is refused again next time
                pass

    def put(self, name: str, key: str, array: np.ndarray, made_of: dict | None = None) -> Path | None:
        """Write ``array`` and its sidecar atomically (temporary file + rename); returns the array's path.

        The sidecar names the entry (``extractor``, ``key``) and, with ``made_of`` (:func:`key_material`
        of the input and settings the array was computed from, which must hash to ``key``), the digests
        of that input and those settings (:func:`binding`); :meth:`get` checks them. A cache that cannot
        be written (read-only, full) is said in a warning and the array is not kept (None)."""
        buf = io.BytesIO()
        arr = np.asarray(array)
        np.save(buf, arr, allow_pickle=False)
        raw = buf.getvalue()
        meta = {"format": FORMAT, "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw),
                "shape": list(arr.shape), "dtype": arr.dtype.str, "extractor": name, "key": key}
        if made_of is not None:
            if key_of(made_of) != key:
                raise ValueError(f"feature cache: the input and settings given for {name}/{key} do not hash to it")
            meta.update(binding(made_of))
        # the sidecar first: a reader that sees the new array always finds its sidecar
        try:
            atomic_write(self.sidecar(name, key), lambda t: t.write_text(json.dumps(meta)))
            out = atomic_write(self.path(name, key), lambda t: t.write_bytes(raw))
        except OSError as e:
            _warn_unwritable(self.root, e)
            self.discard(name, key)
            return None
        self._legacy(name, key).unlink(missing_ok=True)   # an entry of the earlier layout, if any
        return out

    def __contains__(self, name_key: tuple[str, str]) -> bool:
        return self.path(*name_key).is_file() and self.sidecar(*name_key).is_file()

    def size(self, name: str | None = None) -> tuple[int, int]:
        """(number of arrays, bytes of arrays and sidecars) under the cache, or under one extractor."""
        base = self.root / name if name else self.root
        if not base.exists():
            return 0, 0
        arrays = list(base.rglob(f"*{_DATA}"))
        files = arrays + list(base.rglob(f"*{_SIDE}"))
        return len(arrays), sum(f.stat().st_size for f in files)
