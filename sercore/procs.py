"""Which process owns a lock or a staging folder, and whether it still runs.

A process id alone does not name a process: once a process ends, the kernel hands its id to the next
one, so a lock left by a killed run may carry the id of an unrelated live process (a shell, a browser).
Owners are therefore written as ``PID START`` (lock files) or ``PID-START`` (staging folder names), where
START is the process's start time as the kernel counts it (``/proc/PID/stat`` field 22, clock ticks since
boot; elsewhere psutil's creation time in centiseconds). An owner is alive only when a process with that
id runs *and* started at that time.

Owners written without a start time (by an older sercore) are judged by the id alone; callers add what
else they know (see :func:`sercore.runs.lock_owner_alive`).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

_OWNER = re.compile(r"^\s*(?P<pid>\d+)(?:[\s-]+(?P<start>\d+))?\s*$")


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (an integer in the kernel's units), or None when it does not run
    (or this system cannot tell)."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        # the command name (field 2) is in parentheses and may hold spaces: split after the last ')'
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
        return int(psutil.Process(int(pid)).create_time() * 100)
    except Exception:  # noqa: BLE001 - psutil missing, no such process, access denied
        return None


def pid_alive(pid: int) -> bool:
    """Whether some process with id ``pid`` runs (it may not be the one that wrote the id)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # alive, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def me() -> tuple[int, int | None]:
    """This process: ``(pid, start)``."""
    return os.getpid(), start_time(os.getpid())


def token(pid: int | None = None, start: int | None = None) -> str:
    """``PID-START`` (``PID`` when the start time is unknown): a file-name-safe owner."""
    if pid is None:
        pid, start = me()
    return f"{pid}-{start}" if start is not None else str(pid)


def parse(text: str) -> tuple[int, int | None] | None:
    """``(pid, start)`` from ``"PID START"``, ``"PID-START"`` or ``"PID"``; None when it is none of them."""
    m = _OWNER.match(text or "")
    if not m:
        return None
    return int(m["pid"]), (int(m["start"]) if m["start"] else None)


def alive(pid: int, start: int | None = None) -> bool | None:
    """True: the owner runs; False: it does not (no such process, or the id now names a process that
    started at another time); None: a process with this id runs but, with no start time recorded,
    whether it is the owner cannot be told."""
    if not pid_alive(pid):
        return False
    if start is None:
        return None
    now = start_time(pid)
    if now is None:                   # this system cannot tell: trust the id
        return True
    return now == start


#: a lock younger than this is held even when its owner cannot be told (it was just taken)
LOCK_GRACE_S = 60.0


def read_lock(lock: Path) -> tuple[int, int | None] | None:
    """The owner ``(pid, start)`` a lock file names, or None when it names none (empty, damaged)."""
    try:
        return parse(lock.read_text(errors="replace")[:200])
    except OSError:
        return None


def lock_owner_alive(lock: Path) -> bool:
    """Whether the run that took ``lock`` (``.NAME.lock`` beside the results folder NAME) still runs.

    The lock holds the owner's pid and start time (:mod:`sercore.procs`): a pid reused by another
    process is not the owner. A lock of an older sercore holds the pid alone; then the owner is taken to
    run only while a process with that pid runs *and* its staging folder ``.NAME.running-PID`` exists (a
    run creates it right after taking the lock), or the lock is younger than a minute."""
    owner = read_lock(lock)
    if owner is None:
        return _young(lock)
    pid, start = owner
    state = alive(pid, start)
    if state is not None:
        return state
    name = lock.name[1:-len(".lock")]
    return (lock.parent / f".{name}.running-{pid}").is_dir() or _young(lock)


def _young(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < LOCK_GRACE_S
    except OSError:
        return False
