"""Where a long run is: its progress lines (``run.log`` beside its results) and the runs in progress.

A run started by ``sercore run`` (:func:`sercore.runs.run_notebook`) writes into a staging folder
``results/PAPER/DATASET/.PROFILE.running-PID-START/`` under a lock file ``.PROFILE.lock`` that holds
its pid and start time. The kernel's training loop appends one line per epoch to ``run.log`` in that folder
(``sercore.train.report_progress``: stage, fold, epoch i/N, loss, seconds per epoch, ETA);
:func:`echo` copies new lines to the terminal while the notebook executes, and :func:`live_runs`
(``sercore status``) lists every run whose lock belongs to a live process, with its last line.
The log moves with the results folder, so a finished run keeps it (and a failed one, in
``PROFILE.failed/``).
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from pathlib import Path
from typing import TextIO

LOG_NAME = "run.log"
_LOCK = re.compile(r"^\.(?P<name>.+)\.lock$")


def write_line(path: str | os.PathLike, line: str) -> None:
    """Append one time-stamped line to a run log (a write that fails is not worth failing a run for)."""
    try:
        with open(path, "a") as f:
            f.write(time.strftime("%Y-%m-%d %H:%M:%S") + " " + line + "\n")
    except OSError:
        pass


@contextlib.contextmanager
def echo(path: str | os.PathLike, stream: TextIO | None, interval: float = 1.0):
    """While the block runs, copy the lines appended to ``path`` to ``stream`` (every ``interval``
    seconds, and once more at the end). ``stream=None`` copies nothing."""
    if stream is None:
        yield
        return
    path, stop, pos = Path(path), threading.Event(), [0]

    def pump():
        try:
            with open(path) as f:
                f.seek(pos[0])
                text = f.read()
                pos[0] = f.tell()
        except OSError:
            return
        if text:
            stream.write(text)
            stream.flush()

    def loop():
        while not stop.wait(interval):
            pump()

    t = threading.Thread(target=loop, name="sercore-run-log", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        pump()


def interactive() -> bool:
    """Whether a progress bar has somewhere to draw: a terminal, or a notebook's output."""
    import sys
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) or "ipykernel" in sys.modules


class Ticker:
    """Progress as a line now and then, where a bar cannot be drawn: every ``every`` seconds (and once at
    the end of a stretch that took longer) one line ``desc: done/total unit (details), N s, about M left``
    goes to the run log (``SERCORE_RUN_LOG``, set by ``sercore run``, which echoes it to the terminal), or
    to ``stream`` when given (a log file that is not a terminal). ``update(done, **details)``."""

    def __init__(self, desc: str, total: int, *, unit: str = "utt", every: float = 10.0, stream: TextIO | None = None):
        self.desc, self.total, self.unit, self.every, self.stream = desc, int(total), unit, float(every), stream
        self.log = os.environ.get("SERCORE_RUN_LOG") if stream is None else None
        self.t0 = self.last = time.monotonic()
        self.done, self.details = 0, {}

    @property
    def active(self) -> bool:
        return bool(self.log or self.stream)

    def _line(self) -> str:
        spent = time.monotonic() - self.t0
        left = spent / self.done * (self.total - self.done) if self.done else None
        info = ", ".join(f"{k} {v}" for k, v in self.details.items())
        return (f"{self.desc}: {self.done}/{self.total} {self.unit}" + (f" ({info})" if info else "")
                + f", {spent:.0f} s" + (f", about {left:.0f} s left" if left and self.done < self.total else ""))

    def _emit(self) -> None:
        self.last = time.monotonic()
        if self.log:
            write_line(self.log, self._line())
        elif self.stream is not None:
            self.stream.write(time.strftime("%Y-%m-%d %H:%M:%S") + " " + self._line() + "\n")
            self.stream.flush()

    def update(self, done: int, **details) -> None:
        self.done, self.details = int(done), {**self.details, **details}
        if self.active and time.monotonic() - self.last >= self.every:
            self._emit()

    def close(self) -> None:
        """The last line, when the stretch took longer than one interval."""
        if self.active and time.monotonic() - self.t0 >= self.every:
            self._emit()


def last_line(path: Path) -> str:
    """The last non-empty line of a text file ('' when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def live_runs(results_root: str | os.PathLike) -> list[dict]:
    """Runs in progress under ``results_root``: every lock file ``.NAME.lock`` whose owner still runs
    (:func:`sercore.procs.lock_owner_alive`: the pid and its start time, so a pid reused by another
    process is not a run).

    Each: ``{"folder"`` (the results folder it will write), ``"pid"``, ``"log"`` (its run.log, or
    None before the first line), ``"last"`` (the log's last line), ``"age_s"`` (seconds since that line
    was written)``}``. Locks of dead processes are not runs (the next run takes them over)."""
    from .procs import lock_owner_alive, read_lock

    out = []
    root = Path(results_root)
    if not root.is_dir():
        return out
    for lock in sorted(root.rglob(".*.lock")):
        m = _LOCK.match(lock.name)
        owner = read_lock(lock) if m else None
        if not owner or not lock_owner_alive(lock):
            continue
        pid = owner[0]
        stages = sorted(d for d in lock.parent.glob(f".{m['name']}.running-{pid}*")
                        if re.fullmatch(rf"\.{re.escape(m['name'])}\.running-{pid}(-\d+)?", d.name))
        log = (stages[-1] if stages else lock.parent / f".{m['name']}.running-{pid}") / LOG_NAME
        exists = log.exists()
        out.append({"folder": str(lock.parent / m["name"]), "pid": pid, "log": str(log) if exists else None,
                    "last": last_line(log) if exists else "",
                    "age_s": round(time.time() - log.stat().st_mtime) if exists else None})
    return out


def status_text(results_root: str | os.PathLike) -> str:
    """``sercore status``: one paragraph per run in progress (folder, pid, log, last line)."""
    runs = live_runs(results_root)
    if not runs:
        return f"no run in progress under {results_root}"
    parts = []
    for r in runs:
        last = r["last"] or "(no progress line yet: loading data or extracting features)"
        age = f" ({r['age_s']} s ago)" if r["age_s"] is not None else ""
        parts.append(f"{r['folder']}  (pid {r['pid']})\n  {last}{age}\n  log: {r['log'] or '-'}")
    return "\n".join(parts)
