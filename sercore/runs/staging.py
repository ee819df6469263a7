"""What keeps a run's results whole: one run per results folder (its lock), the staging folder a run
writes into, the checks of the results disk before a run starts, and publishing the finished folder in
one step; folders left by killed runs are cleaned up or put back.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from .. import procs
from .params import SPECIAL

class RunLockedError(RuntimeError):
    """Another live process is writing the same results folder."""


class StorageError(RuntimeError):
    """The results folder cannot take a run's results (read-only, full, immutable); found before training."""


#: staging (``.NAME.running-OWNER``) and swap (``.NAME.old-OWNER``) folders; OWNER is PID or PID-START
_DEBRIS = re.compile(r"^\.(?P<name>.+)\.(?P<kind>running|old)-(?P<owner>\d+(?:-\d+)?)$")


def _owner_alive(owner: str) -> bool:
    """Whether the process a debris folder's OWNER (``PID`` or ``PID-START``) names still runs; a bare
    pid that some process has is taken to run (nothing shows otherwise)."""
    pid, start = procs.parse(owner)
    return procs.alive(pid, start) is not False


def _complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run: a readable ``run_key.json`` (written last, before it is
    published), the notebook it names and, for a paper, a valid ``metrics.json``."""
    import json

    try:
        key = json.loads((folder / "run_key.json").read_text())
        paper = key["parts"]["params"]["paper"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(paper, str) or not (folder / f"{paper}.ipynb").is_file():
        return False
    if paper in SPECIAL:
        return True
    from ..results import read_metrics
    try:
        read_metrics(folder / "metrics.json")
    except Exception:   # noqa: BLE001 - any damage: not a finished run
        return False
    return True


def remove_dead_staging(folder: Path, holding: Path | None = None) -> list[Path]:
    """Clean up after runs that were killed under ``folder``; returns the folders removed.

    Only folders of dead processes (:mod:`sercore.procs`: pid and start time) are touched, and never the
    last complete result of a cell:

    - ``.NAME.old-OWNER`` (the previous result, moved aside while a run put its own in place): when
      ``NAME`` is missing (the run was killed in between), it is moved back to ``NAME``; else removed;
    - ``.NAME.running-OWNER`` (a run's staging folder): when ``NAME`` is missing and no previous result
      was moved aside, a complete staging folder (:func:`_complete`: its ``run_key.json`` is written
      last) is published as ``NAME``; else removed.

    Moving a folder into place takes the cell's lock (``holding``: the results folder whose lock the
    caller holds already); a cell locked by a live run is left to that run.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    found = []
    for d in folder.rglob(".*"):
        m = _DEBRIS.match(d.name)
        if m and d.is_dir() and not d.is_symlink() and not _owner_alive(m["owner"]):
            found.append((0 if m["kind"] == "old" else 1, str(d), d, m))
    for _, _, d, m in sorted(found):
        final = d.with_name(m["name"])
        if not final.exists() and not final.is_symlink() and (m["kind"] == "old" or _complete(d)):
            _restore(d, final, holding)
            continue             # restored, or left as the only complete copy (its lock is held elsewhere)
        shutil.rmtree(d, ignore_errors=True)
        if not d.exists():
            removed.append(d)
    return removed


def _restore(src: Path, final: Path, holding: Path | None) -> bool:
    """Move the complete folder ``src`` to the missing results folder ``final`` under its lock; True
    when done. Leaves both alone when a live run holds the lock or ``final`` appeared meanwhile."""
    lock = None
    try:
        if holding is None or Path(holding) != final:
            lock = take_lock(final)
        if final.exists():
            return False
        os.rename(src, final)
        print(f"restored {final} from {src.name} (a run was killed while putting its results in place)",
              file=sys.stderr, flush=True)
        return True
    except (RunLockedError, OSError):
        return False
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


def take_lock(final: Path) -> Path:
    """Take ``.<name>.lock`` beside ``final`` (atomic create), holding this process's pid and start time;
    a lock whose owner no longer runs (:func:`sercore.procs.lock_owner_alive`; the lock's format is
    sercore.procs', which runlog reads too) is taken over. Raises :class:`RunLockedError` while a live
    run holds it."""
    lock = final.with_name(f".{final.name}.lock")
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = procs.read_lock(lock)
            if procs.lock_owner_alive(lock) and not (owner and owner[0] == os.getpid()):
                pid = owner[0] if owner else "unknown"
                raise RunLockedError(f"another run (process {pid}) is writing {final}; wait for it to finish "
                                     f"or stop it (its lock: {lock})") from None
            lock.unlink(missing_ok=True)     # the process that held it is gone
            continue
        with os.fdopen(fd, "w") as f:
            pid, start = procs.me()
            f.write(f"{pid} {start}\n" if start is not None else f"{pid}\n")
        return lock
    raise RunLockedError(f"could not take the lock {lock} for {final}")


# ----------------------------------------------------------------------------- storage

#: free space a run needs on the results disk before it starts, in MiB (``SERCORE_MIN_FREE_MB`` overrides)
MIN_FREE_MB = 64
_IMMUTABLE_FLAGS = {0x10: "immutable", 0x20: "append-only"}     # FS_IMMUTABLE_FL, FS_APPEND_FL


def _fs_flags(path: Path) -> list[str]:
    """The inode flags of ``path`` that forbid replacing it (``chattr +i`` / ``+a``), where the filesystem
    tells them."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return []
    try:
        buf = fcntl.ioctl(fd, 0x80086601, struct.pack("l", 0))    # FS_IOC_GETFLAGS
        flags = struct.unpack("l", buf)[0]
    except (OSError, ValueError, struct.error):
        return []
    finally:
        os.close(fd)
    return [name for bit, name in _IMMUTABLE_FLAGS.items() if flags & bit]


def min_free_bytes() -> int:
    value = os.environ.get("SERCORE_MIN_FREE_MB")
    try:
        mb = float(value) if value not in (None, "") else MIN_FREE_MB
    except ValueError:
        raise StorageError(f"SERCORE_MIN_FREE_MB must be a number of MiB, got {value!r}") from None
    return int(max(0.0, mb) * 2**20)


def check_storage(final: Path, stage: Path) -> None:
    """Before a run trains: its staging folder takes a file, the disk has :func:`min_free_bytes` free,
    and an earlier results folder ``final`` can be replaced (not immutable or append-only, its parent
    writable: tried by moving it aside and back). Raises :class:`StorageError` naming the folder."""
    probe = stage / ".storage-probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
        raise StorageError(f"cannot write results under {final.parent}: {e.strerror or e} "
                           "(nothing was run)") from None
    need = min_free_bytes()
    try:
        free = shutil.disk_usage(stage).free
    except OSError:
        free = None
    if free is not None and free < need:
        raise StorageError(f"only {free / 2**20:.1f} MiB free on the disk of {final.parent}; a run needs at least "
                           f"{need / 2**20:.0f} MiB there (free some space, or set SERCORE_MIN_FREE_MB) "
                           "(nothing was run)")
    if final.exists() or final.is_symlink():
        if final.is_symlink() or not final.is_dir():
            raise StorageError(f"{final} is not a folder (a {'link' if final.is_symlink() else 'file'}); "
                               "move it away: a run replaces its results folder (nothing was run)")
        for target in (final, final.parent):
            flags = _fs_flags(target)
            if flags:
                raise StorageError(f"{target} is {' and '.join(flags)} (chattr), so the results in {final} "
                                   "cannot be replaced; remove the flag (chattr -i / -a) or move the folder "
                                   "(nothing was run)")
        aside = final.with_name(f".{final.name}.old-{owner_token()}")
        try:
            os.rename(final, aside)
        except OSError as e:
            raise StorageError(f"the results in {final} cannot be replaced: moving it fails ({e.strerror or e}) "
                               "(nothing was run)") from None
        os.rename(aside, final)      # a kill in between: remove_dead_staging moves it back


# ----------------------------------------------------------------------------- publishing
#
# A run writes everything into its staging folder ``.NAME.running-OWNER`` (the notebook, metrics.json,
# predictions, run.log, a checkpoint), then ``run_key.json`` last, and only then replaces ``NAME`` in one
# step: renameat2(RENAME_EXCHANGE) swaps the two folders atomically where the system has it (Linux 3.15+
# on local filesystems); elsewhere ``NAME`` is first moved aside to ``.NAME.old-OWNER``. Whatever instant
# the run is killed at, ``NAME`` holds a complete result (the previous or the new one) or, in the second
# case, is missing while ``.NAME.old-OWNER`` holds the previous one, which :func:`remove_dead_staging`
# moves back.

#: called with the name of each publishing step (tests set it to kill a run there)
_STEP_HOOK = None
#: False: never use renameat2's exchange (tests of the fallback)
_EXCHANGE = True


def step(name: str) -> None:
    """Mark a step of publishing a run (``after-notebook``, ``before-swap``, ...) for :data:`_STEP_HOOK`."""
    if _STEP_HOOK is not None:
        _STEP_HOOK(name)


def owner_token() -> str:
    """This process's pid and start time, as staging and swap folders are named (``.NAME.running-OWNER``)."""
    return procs.token()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (renameat2 RENAME_EXCHANGE); False when the system cannot."""
    if not _EXCHANGE or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), exchange) == 0:
        return True
    err = ctypes.get_errno()
    import errno
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk (best effort)."""
    for f in [*folder.rglob("*"), folder]:
        try:
            fd = os.open(f, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if f.is_dir() else 0))
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def publish(stage: Path, final: Path) -> Path:
    """Replace ``final`` by the complete folder ``stage`` in one step (see above); returns ``final``."""
    _fsync_tree(stage)
    step("before-swap")
    if final.exists():
        if _exchange(stage, final):
            step("after-exchange")
            shutil.rmtree(stage, ignore_errors=True)         # now the previous result
        else:
            old = final.with_name(f".{final.name}.old-{owner_token()}")
            os.rename(final, old)
            step("after-moving-old-aside")
            try:
                os.rename(stage, final)
            except OSError:
                os.rename(old, final)                        # the previous result back in place
                raise
            step("after-moving-new-in")
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, final)
    step("after-swap")
    try:
        fd = os.open(final.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return final

