"""Fetch the public corpora into ``SERCORE_DATA``: ``sercore data fetch NAME``.

What a fetch does, in order:

1. **Download** every file of the corpus' :class:`Source` into
   ``<data root>/.downloads/`` with a progress bar. Bytes go to ``<file>.part``;
   an interrupted download (a dropped connection, Ctrl-C) resumes from where it
   stopped with an HTTP ``Range`` request, both within one call (a few retries)
   and on the next ``sercore data fetch``.
2. **Verify** the file's sha256. Where the registry pins a digest, the file must
   match it. Where it does not (``sha256=None``: no digest could be established
   offline when the registry was written), the digest of the first complete
   download is recorded in ``<data root>/.downloads/sercore-fetch.lock.json``
   (trust on first use) and every later download of the same URL must match it;
   to accept a changed upstream file, delete its entry from the lock file. A
   mismatch deletes nothing: the error names the file, the expected and the
   measured digest, and nothing is extracted. A first digest is recorded only
   once the whole fetch succeeded (the archive extracted and the loader accepted
   the corpus), so a bad download is never locked as trusted.
3. **Extract** zip and tar(.gz/.bz2/.xz) archives into a staging folder next to
   the corpus folder. Every member is checked *before* anything is written: a
   member with an absolute path, a ``..`` component, a link pointing outside the
   folder, or a device file refuses the whole archive. A truncated or corrupt
   archive raises :class:`CorruptArchiveError` naming it; the download and the
   partial extraction are deleted and no digest is recorded.
4. **Arrange** the corpus into the layout its loader expects (the folder that
   looks like the corpus root is found inside the archive's wrapper folders and
   becomes ``<data root>/<DIRNAME>``), extracting nested archives (MELD's
   ``train.tar.gz`` ...) in place.
5. **Check** it with the loader (``sercore.data.load``); only a corpus that loads
   replaces an existing folder (with ``force``), so a failed fetch never
   destroys a working copy.

Licensed corpora (IEMOCAP, MSP-IMPROV, CMU-MOSEI, the IEMOCAP transcripts) are
not downloaded: :func:`fetch` raises :class:`LicensedCorpusError`, whose message
says where to request them and the layout to put under ``<data root>/<DIRNAME>``.

Only the standard library talks to the network (``urllib``), and only when
:func:`fetch` / :func:`download` are called: importing this module opens no
connection. Registries are plain dicts, so tests (or a mirror) can pass their own
``sources=`` pointing at any URL.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import lzma
import os
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable

from . import corpus_module, data_root as resolve_data_root

__all__ = [
    "Archive", "Source", "Licensed", "SOURCES", "LICENSED", "fetch", "download", "safe_extract",
    "FetchError", "ChecksumError", "UnsafeArchiveError", "CorruptArchiveError", "LicensedCorpusError",
    "DownloadError", "describe",
]

LOCK_NAME = "sercore-fetch.lock.json"
DOWNLOADS = ".downloads"
CHUNK = 1 << 20
USER_AGENT = "sercore-data-fetch/1 (+python urllib)"


# ----------------------------------------------------------------------------- errors

class FetchError(RuntimeError):
    """A fetch failed; the message says what, where, and what to do."""


class DownloadError(FetchError):
    """The transfer failed or stopped short; the ``.part`` file is kept for resuming."""


class ChecksumError(FetchError):
    """A downloaded file's sha256 differs from the expected one. Nothing is deleted."""

    def __init__(self, path: Path, expected: str, got: str, source: str):
        self.path, self.expected, self.got = Path(path), expected, got
        super().__init__(
            f"checksum mismatch for {path}\n  expected sha256 {expected} ({source})\n"
            f"  got      sha256 {got}\nNothing was extracted and the file was left in place. "
            "The download may be corrupt or the upstream file may have changed: delete the file "
            "(or run again with --force, which deletes it and downloads again)"
            + (f", or remove its entry from the lock file {source.split(' ', 2)[-1]} if you trust the new file"
               if "lock file" in source else "") + ".")


class UnsafeArchiveError(FetchError):
    """An archive member would land outside the target folder (or is a device/link escape)."""


class CorruptArchiveError(FetchError):
    """An archive cannot be read to its end (truncated download, corrupt bytes)."""


class LicensedCorpusError(FetchError):
    """The corpus cannot be downloaded automatically; the message says how to obtain it."""


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Archive:
    """One file to download."""
    url: str                          # where to download it from (http/https/file)
    filename: str                     # name under <data root>/.downloads/
    sha256: str | None = None         # pinned digest; None = trust on first use (lock file)
    size: int | None = None           # expected size in bytes when known exactly, else None
    size_note: str = ""               # human size hint for the docs ("about 40 MB")
    extract: bool = True              # False: copy the file into the corpus folder as is
    nested: tuple[str, ...] = ()      # archives inside this one to extract in place, then delete


@dataclass(frozen=True)
class Source:
    """How to fetch one public corpus."""
    corpus: str                       # the loader's name in sercore.data.CORPORA
    files: tuple[Archive, ...]        # downloaded in order
    is_root: Callable[[Path], bool]   # recognises the corpus root inside the extracted tree
    homepage: str = ""                # the corpus' own page
    terms: str = ""                   # licence / terms of use, printed before downloading
    note: str = ""                    # caveats (mirrors, size)


@dataclass(frozen=True)
class Licensed:
    """A corpus that must be requested from its owners."""
    corpus: str                       # the loader's name in sercore.data.CORPORA
    how: str                          # where and how to obtain it
    extra: str = ""                   # what to put where beyond the loader's layout


def _has_dir(*names: str, any_of: bool = False) -> Callable[[Path], bool]:
    def check(p: Path) -> bool:
        found = [(p / n).is_dir() for n in names]
        return any(found) if any_of else all(found)
    return check


def _emodb_root(p: Path) -> bool:
    return (p / "wav").is_dir() and any((p / "wav").glob("*.wav"))


def _meld_root(p: Path) -> bool:
    return all((p / f"{s}_sent_emo.csv").is_file() for s in ("train", "dev", "test"))


_MELD_CSV = "https://raw.githubusercontent.com/declare-lab/MELD/master/data/MELD/{}_sent_emo.csv"
_URDU_COMMIT = "cab0028b1a1152e5cf25a5771c1ed137428a496e"

#: Public corpora. No sha256 could be verified offline when this was written, so every
#: entry uses trust-on-first-use (see the module docstring); pin a digest with ``sha256=``.
SOURCES: dict[str, Source] = {
    "emodb": Source(
        corpus="emodb",
        files=(Archive("http://emodb.bilderbar.info/download/download.zip", "emodb-download.zip",
                       size_note="about 40 MB"),),
        is_root=_emodb_root,
        homepage="http://emodb.bilderbar.info/",
        terms="Berlin Database of Emotional Speech, free for research; cite Burkhardt et al. (2005).",
        note="The official release: 535 wav files at 16 kHz in wav/ (plus label folders, kept as they are).",
    ),
    "emovo": Source(
        corpus="emovo",
        files=(Archive("https://drive.usercontent.google.com/download?id=1SUtaKeA-LYnKaD3qv87Y5wYgihJiNJAo"
                       "&export=download&confirm=t", "emovo.zip", size_note="about 335 MB"),),
        is_root=_has_dir("f1", "f2", "f3", "m1", "m2", "m3", any_of=True),
        homepage="http://voice.fub.it/activities/corpora/emovo/index.html",
        terms="EMOVO (Costantini et al., LREC 2014), for research; cite the paper.",
        note="Downloaded from the Google Drive copy the corpus' users commonly link (the Fondazione Ugo "
             "Bordoni page above is the official home); its first download's digest is locked.",
    ),
    "urdu": Source(
        corpus="urdu",
        files=(Archive(f"https://github.com/siddiquelatif/URDU-Dataset/archive/{_URDU_COMMIT}.zip",
                       f"URDU-Dataset-{_URDU_COMMIT[:12]}.zip", size_note="about 40 MB"),),
        is_root=_has_dir("Angry", "Happy", "Neutral", "Sad", any_of=True),
        homepage="https://github.com/siddiquelatif/URDU-Dataset",
        terms="URDU (Latif et al., 2018), public on GitHub; cite the paper.",
        note=f"The authors' GitHub repository at commit {_URDU_COMMIT[:12]}.",
    ),
    "meld": Source(
        corpus="meld",
        files=(Archive("https://web.eecs.umich.edu/~mihalcea/downloads/MELD.Raw.tar.gz", "MELD.Raw.tar.gz",
                       size_note="about 10 GB", nested=("train.tar.gz", "dev.tar.gz", "test.tar.gz")),),
        is_root=_meld_root,
        homepage="https://affective-meld.github.io/",
        terms="MELD (Poria et al., 2019), GPL-3.0; the clips are from the TV series Friends, research use.",
        note="The full release: the three CSVs and every clip (mp4); needs about 20 GB free while "
             "extracting. `sercore data fetch meld-text` gets only the CSVs (a few MB).",
    ),
    "meld-text": Source(
        corpus="meld",
        files=tuple(Archive(_MELD_CSV.format(s), f"{s}_sent_emo.csv", extract=False, size_note="about 1 MB")
                    for s in ("train", "dev", "test")),
        is_root=_meld_root,
        homepage="https://github.com/declare-lab/MELD",
        terms="MELD (Poria et al., 2019), GPL-3.0.",
        note="Only the CSVs from the authors' GitHub repository: the corpus loads text-only (no clips).",
    ),
}

#: Corpora that must be requested; fetch() prints this and the loader's layout.
LICENSED: dict[str, Licensed] = {
    "iemocap": Licensed(
        "iemocap",
        "IEMOCAP is released by SAIL at the University of Southern California under a licence "
        "agreement. Request it at https://sail.usc.edu/iemocap/iemocap_release.htm (fill in the "
        "release form; approval is by e-mail), then unpack IEMOCAP_full_release."),
    "iemocap_text": Licensed(
        "iemocap_text",
        "The IEMOCAP transcripts are part of IEMOCAP, whose licence (https://sail.usc.edu/iemocap/) "
        "applies to any text-only derivative. With access to IEMOCAP, write the derivative's "
        "utterances as one CSV."),
    "msp_improv": Licensed(
        "msp_improv",
        "MSP-IMPROV is released by the MSP lab at UT Dallas under an academic licence. Request it at "
        "https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Improv.html, then unpack the "
        "release."),
    "mosei": Licensed(
        "mosei",
        "CMU-MOSEI's features are distributed through the CMU Multimodal SDK "
        "(https://github.com/CMU-MultiComp-Lab/CMU-MultimodalSDK) under its terms of use; download "
        "the computational sequences with the SDK (mmdatasdk.cmu_mosei.labels / .highlevel) on a "
        "machine with network access and copy the .csd files."),
}


def describe(name: str, data_root: str | os.PathLike | None = None,
             sources: dict[str, Source] | None = None,
             licensed: dict[str, Licensed] | None = None) -> str:
    """What ``fetch(name)`` would do (public) or how to obtain the corpus (licensed)."""
    sources = SOURCES if sources is None else sources
    licensed = LICENSED if licensed is None else licensed
    if name in licensed:
        lic = licensed[name]
        mod = corpus_module(lic.corpus)
        target = resolve_data_root(data_root) / mod.DIRNAME
        return (f"{name} is a licensed corpus: sercore cannot download it for you.\n{lic.how}\n"
                f"Put it at {target} with this layout:\n{mod.LAYOUT}"
                + (f"\n{lic.extra}" if lic.extra else "")
                + f"\nThen check it with: sercore data list --data-root {resolve_data_root(data_root)}")
    if name not in sources:
        raise KeyError(_unknown(name, sources, licensed))
    src = sources[name]
    lines = [f"{name}: {src.homepage}", f"  terms: {src.terms}"] if src.homepage else [name]
    for a in src.files:
        lines.append(f"  {a.url} ({a.size_note or 'size unknown'}; sha256 "
                     f"{a.sha256 or 'locked on first download'})")
    if src.note:
        lines.append(f"  {src.note}")
    return "\n".join(lines)


def _unknown(name, sources, licensed) -> str:
    return (f"unknown corpus {name!r}; downloadable: {sorted(sources)}; "
            f"licensed (instructions only): {sorted(licensed)}")


# ----------------------------------------------------------------------------- download

def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _read_lock(lock: Path) -> dict:
    if not lock.is_file():
        return {}
    try:
        return json.loads(lock.read_text())
    except json.JSONDecodeError as e:
        raise FetchError(f"the lock file {lock} is not valid JSON ({e}); fix or delete it") from None


def _write_lock(lock: Path, entries: dict) -> None:
    from ..paths import atomic_write
    atomic_write(lock, lambda p: p.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n"))


def _progress_bar(total: int | None, initial: int, desc: str, progress: bool | None):
    from tqdm.auto import tqdm

    from ..paths import show_progress
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=not show_progress(progress), leave=True)


def _content_range_total(value: str | None) -> int | None:
    # "bytes 100-199/200" or "bytes */200"
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _transfer(url: str, part: Path, progress: bool | None, timeout: float) -> None:
    """One attempt: continue ``part`` from its current size. Raises on a short or failed transfer."""
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            total = _content_range_total(e.headers.get("Content-Range"))
            if total is not None and total == offset:
                return                                   # the .part was already complete
            part.unlink()                                # stale .part longer than the file: start over
            raise DownloadError(f"{url}: the server refused to resume ({e.code}); restarting") from None
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
    with resp:
        status = getattr(resp, "status", 200)
        if offset and status == 206:
            start = (resp.headers.get("Content-Range") or "").split(" ")[-1].split("-")[0]
            if start.isdigit() and int(start) != offset:
                raise DownloadError(f"{url}: asked to resume at byte {offset}, the server sent from {start}")
            total = _content_range_total(resp.headers.get("Content-Range"))
            mode = "ab"
        else:                                            # 200: the server ignores Range; start over
            offset = 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        with open(part, mode) as f, _progress_bar(total, offset, part.name[:-5], progress) as bar:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                f.write(block)
                bar.update(len(block))
    got = part.stat().st_size
    if total is not None and got != total:
        raise DownloadError(f"{url}: transfer stopped at {got:,} of {total:,} bytes")


def download(archive: Archive, downloads: Path, progress: bool | None = None, force: bool = False,
             retries: int = 3, timeout: float = 60.0, lock: Path | None = None,
             record: bool = True) -> Path:
    """Download ``archive`` into ``downloads/`` (resuming a ``.part``), verify it, return its path.

    With ``archive.sha256`` the file must match it; without, the digest is taken
    from the lock file, or, on first download and with ``record``, written to it
    (:func:`fetch` passes ``record=False`` and records it only once the corpus
    extracted and loaded). Raises :class:`ChecksumError` on a mismatch, leaving
    the file where it is.
    """
    dest, pending = _download(archive, downloads, progress, force, retries, timeout, lock)
    if pending is not None and record:
        _record(*pending)
    return dest


def _record(lock: Path, url: str, entry: dict) -> None:
    """Trust on first use: write one digest to the lock file."""
    entries = _read_lock(lock)
    if url in entries:                               # recorded meanwhile (another fetch): keep the first
        return
    entries[url] = entry
    _write_lock(lock, entries)
    print(f"{entry['filename']}: sha256 {entry['sha256']} recorded in {lock} (later downloads must match it)",
          flush=True)


def _download(archive: Archive, downloads: Path, progress: bool | None, force: bool, retries: int,
              timeout: float, lock: Path | None) -> tuple[Path, tuple[Path, str, dict] | None]:
    """The download and its verification; returns (path, the lock entry to record or None)."""
    downloads.mkdir(parents=True, exist_ok=True)
    dest = downloads / archive.filename
    part = dest.with_name(dest.name + ".part")
    lock = lock or downloads / LOCK_NAME
    if force:
        for p in (dest, part):
            if p.exists():
                print(f"--force: deleting {p}", flush=True)
                p.unlink()
    if not dest.exists():
        for attempt in range(retries + 1):
            try:
                _transfer(archive.url, part, progress, timeout)
                break
            except (DownloadError, urllib.error.URLError, http.client.HTTPException, OSError) as e:
                have = part.stat().st_size if part.exists() else 0
                if attempt == retries:
                    raise DownloadError(
                        f"{archive.url}: download failed after {retries + 1} attempt(s): {e}\n"
                        f"{have:,} bytes are kept in {part}; run the same command again to resume.") from e
                print(f"download interrupted ({e}); resuming at byte {have:,} "
                      f"(attempt {attempt + 2} of {retries + 1})", flush=True)
                time.sleep(min(2 ** attempt, 10) * 0.1)
        if archive.size is not None and part.stat().st_size != archive.size:
            raise DownloadError(f"{part}: {part.stat().st_size:,} bytes where {archive.size:,} were expected; "
                                "delete it and run again")
        os.replace(part, dest)
    got = sha256_of(dest)
    if archive.sha256:
        if got != archive.sha256.lower():
            raise ChecksumError(dest, archive.sha256.lower(), got, "pinned in the registry")
        return dest, None
    known = _read_lock(lock).get(archive.url)
    if known:
        if known["sha256"] != got:
            raise ChecksumError(dest, known["sha256"], got,
                                f"recorded at the first download on {known.get('first_download', '?')} "
                                f"in the lock file {lock}")
        return dest, None
    return dest, (lock, archive.url, {
        "sha256": got, "size": dest.stat().st_size, "filename": archive.filename,
        "first_download": datetime.now(timezone.utc).isoformat(timespec="seconds")})


# ----------------------------------------------------------------------------- extraction

def _check_member_name(name: str, archive: Path) -> PurePosixPath:
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in p.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target folder "
                                 "(absolute path or '..'); refusing to extract anything from this archive")
    return p


def _inside(target: PurePosixPath) -> bool:
    """Whether a relative path stays inside its folder once '..' are applied."""
    parts: list[str] = []
    for part in target.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return False
            parts.pop()
        else:
            parts.append(part)
    return True


def _check_link(member: str, link: str, archive: Path, hard: bool) -> None:
    if link.startswith("/") or (len(link) > 1 and link[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: link {member!r} -> {link!r} points outside the target folder "
                                 "(absolute); refusing to extract anything from this archive")
    base = PurePosixPath() if hard else PurePosixPath(member).parent
    if not _inside(base / link):
        raise UnsafeArchiveError(f"{archive}: link {member!r} -> {link!r} points outside the target folder; "
                                 "refusing to extract anything from this archive")


def _is_tar(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"))


#: what the standard library raises on an archive that ends early or holds corrupt bytes
_CORRUPT = (EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


def _is_zip_name(path: Path) -> bool:
    return path.name.lower().endswith(".zip")


def safe_extract(archive: Path, target: Path) -> list[str]:
    """Extract a zip or tar.* ``archive`` into ``target``; every member is checked first.

    Raises :class:`UnsafeArchiveError` (and writes nothing) when a member has an
    absolute path or ``..``, is a link pointing outside ``target``, or is a
    device/FIFO; :class:`CorruptArchiveError` when the archive is truncated or
    corrupt (members may have been written: the caller removes ``target``).
    Returns the member names.
    """
    archive, target = Path(archive), Path(target)
    try:
        return _safe_extract(archive, target)
    except UnsafeArchiveError:
        raise
    except _CORRUPT as e:
        raise CorruptArchiveError(_corrupt_message(archive, e)) from e
    except OSError as e:
        if isinstance(e, (FileNotFoundError, PermissionError)) or e.errno is not None:
            raise                                  # the disk, not the archive
        raise CorruptArchiveError(_corrupt_message(archive, e)) from e


def _corrupt_message(archive: Path, e: BaseException) -> str:
    return (f"{archive} is truncated or corrupt: it cannot be read to its end ({type(e).__name__}: {e})")


def _safe_extract(archive: Path, target: Path) -> list[str]:
    target.mkdir(parents=True, exist_ok=True)
    if _is_zip_name(archive) and not zipfile.is_zipfile(archive):
        raise CorruptArchiveError(_corrupt_message(archive, zipfile.BadZipFile(
            "no zip directory at its end (a zip whose end is missing)")))
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                _check_member_name(info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    _check_link(info.filename, zf.read(info).decode("utf-8", "replace"), archive, hard=False)
            for info in infos:
                # links inside the folder are written as small files (zipfile never creates links)
                zf.extract(info, target)          # checks each member's CRC: BadZipFile when corrupt
            return [i.filename for i in infos]
    if _is_tar(archive) or tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member_name(m.name, archive)
                if m.issym() or m.islnk():
                    _check_link(m.name, m.linkname, archive, hard=m.islnk())
                elif not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a device or FIFO; "
                                             "refusing to extract anything from this archive")
            if hasattr(tarfile, "data_filter"):          # Python >= 3.11.4: a second, stdlib check
                tf.extractall(target, members=members, filter="data")
            else:                                        # pragma: no cover - older Pythons
                tf.extractall(target, members=members)
            return [m.name for m in members]
    raise FetchError(f"{archive}: neither a zip nor a tar archive; cannot extract it")


def _find_root(top: Path, is_root: Callable[[Path], bool], depth: int = 4) -> Path | None:
    """The shallowest folder under ``top`` (``top`` included) that ``is_root`` accepts."""
    level = [top]
    for _ in range(depth + 1):
        for d in level:
            if is_root(d):
                return d
        level = sorted(c for d in level for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
        if not level:
            break
    return None


# ----------------------------------------------------------------------------- fetch

def fetch(name: str, data_root: str | os.PathLike | None = None, force: bool = False,
          sources: dict[str, Source] | None = None, licensed: dict[str, Licensed] | None = None,
          progress: bool | None = None, keep_archives: bool = False, retries: int = 3,
          timeout: float = 60.0) -> Path:
    """Download, verify, extract and check corpus ``name`` into ``<data root>/<DIRNAME>``; return it.

    An existing corpus folder that loads is left alone (``force=True`` downloads
    again and replaces it, but only once the new copy loads). Raises
    :class:`LicensedCorpusError` (no network) for licensed corpora,
    :class:`ChecksumError`, :class:`UnsafeArchiveError`, :class:`DownloadError`
    or :class:`FetchError` otherwise.
    """
    sources = SOURCES if sources is None else sources
    licensed = LICENSED if licensed is None else licensed
    if name in licensed:
        raise LicensedCorpusError(describe(name, data_root, sources, licensed))
    if name not in sources:
        raise FetchError(_unknown(name, sources, licensed))
    src = sources[name]
    mod = corpus_module(src.corpus)
    root = resolve_data_root(data_root)
    final = root / mod.DIRNAME
    if final.exists() and not force:
        try:
            df = mod.load(final)
        except Exception as e:
            raise FetchError(f"{final} exists but does not load ({type(e).__name__}: {e}).\n"
                             f"Move it away, or run again with --force to replace it.") from None
        print(f"{name}: already at {final} ({len(df):,} utterances); use --force to download again.")
        return final

    print(describe(name, data_root, sources, licensed), flush=True)
    downloads = root / DOWNLOADS
    got, pending = [], []
    for a in src.files:        # a first digest is recorded only once the corpus extracted and loaded
        path, entry = _download(a, downloads, progress, force, retries, timeout, None)
        got.append(path)
        if entry is not None:
            pending.append(entry)

    stage = root / f".{mod.DIRNAME}.fetching-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    keep = False            # True once the stage is worth inspecting (it extracted but does not load)
    done = False            # True once the corpus extracted and loaded
    unlocked = "; no digest was recorded" if pending else ""
    source = None           # the downloaded file being extracted (directly or through a nested archive)
    try:
        for a, path in zip(src.files, got):
            if a.extract:
                print(f"extracting {path.name} ...", flush=True)
                source = path
                safe_extract(path, stage)
            else:
                shutil.copy2(path, stage / a.filename)
        corpus_root = _find_root(stage, src.is_root)
        if corpus_root is None:
            keep = True
            raise FetchError(f"{name}: the downloaded files do not contain the layout the loader expects "
                             f"(kept for inspection in {stage}{unlocked}). Expected:\n{mod.LAYOUT}")
        for a, path in zip(src.files, got):
            for inner in a.nested:
                for nested in sorted(corpus_root.rglob(inner)):
                    print(f"extracting {nested.relative_to(stage)} ...", flush=True)
                    source = path
                    safe_extract(nested, nested.parent)
                    nested.unlink()
        source = None
        try:
            df = mod.load(corpus_root)
        except Exception as e:
            keep = True
            raise FetchError(f"{name}: the extracted corpus does not load ({type(e).__name__}: {e}); "
                             f"kept for inspection in {stage}{unlocked}") from None
        done = True
    except CorruptArchiveError as e:
        # a truncated or corrupt download: delete it (and, below, the partial extraction) so that the
        # next fetch downloads it again; no digest was recorded for it
        if source is not None and source.exists():
            source.unlink()
        raise CorruptArchiveError(
            f"{name}: {e}\nNothing was installed{unlocked.replace(';', ' and')}"
            + (f"; the download {source} was deleted" if source is not None else "")
            + ". Run the same command again to download it again.") from None
    finally:
        # a refused, corrupt or interrupted extraction leaves nothing half-written behind it
        if not keep and not done:
            shutil.rmtree(stage, ignore_errors=True)
    for entry in pending:       # the corpus extracted and loaded: now its first digests are trusted
        _record(*entry)
    old = root / f".{mod.DIRNAME}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    corpus_root.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    if not keep_archives:
        for path in got:
            path.unlink()
    note = df.attrs.get("note")
    print(f"{name}: {len(df):,} utterances at {final}" + (f"\nnote: {note}" if note else ""), flush=True)
    return final

