"""Where sercore reads and writes on disk.

- project root: ``SERCORE_HOME``, else the source checkout (the folder with
  ``book/`` and ``params/``), else the working directory;
- data root: ``SERCORE_DATA`` (default ``./data``), one folder per corpus, read only;
- cache: ``SERCORE_CACHE`` (default ``~/.cache/sercore``): the generated synthetic
  corpus and the content-addressed feature cache;
- results: ``SERCORE_RESULTS`` (default ``results`` under the project root): one
  folder per (paper, dataset, profile). A relative value is taken from the
  project root, so a notebook opened in ``book/`` writes to the same tree as the CLI.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``book/`` and ``params/``."""
    if os.environ.get("SERCORE_HOME"):
        return Path(os.environ["SERCORE_HOME"]).expanduser().resolve()
    src = Path(__file__).resolve().parent.parent
    if (src / "book").is_dir() and (src / "params").is_dir():
        return src
    return Path.cwd().resolve()


def cache_dir() -> Path:
    """Root of everything sercore generates and may regenerate."""
    return Path(os.environ.get("SERCORE_CACHE", Path.home() / ".cache" / "sercore")).expanduser()


def results_dir() -> Path:
    """Root of the results tree ``results/PAPER/DATASET/PROFILE/`` (absolute)."""
    p = Path(os.environ.get("SERCORE_RESULTS", "results")).expanduser()
    return p if p.is_absolute() else project_root() / p


def thread_share(workers: int = 1) -> int:
    """Threads one of ``workers`` concurrent processes may use: the CPUs this process may run on
    (its affinity, which a container or SLURM sets) divided by ``workers``, at least 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, int(workers)))


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw progress bars: ``progress`` when given, else ``SERCORE_PROGRESS`` (default on).

    ``sercore run`` sets ``SERCORE_PROGRESS=0`` for batch execution, so executed
    notebooks hold results rather than progress-bar widgets.
    """
    if progress is not None:
        return bool(progress)
    return os.environ.get("SERCORE_PROGRESS", "1") not in ("0", "false", "no", "")


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Write a file through ``<path>.<pid>.tmp`` and rename it into place.

    ``write(tmp_path)`` writes the content; readers never see half a file, and a
    failed write leaves no temporary file behind. Returns the final path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


@contextlib.contextmanager
def environ(**values: str | None):
    """Environment variables set (a string) or removed (``None``) for the block, restored after it;
    child processes started inside (a notebook kernel) inherit them."""
    def apply(env: dict) -> None:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    saved = {k: os.environ.get(k) for k in values}
    try:
        apply(values)
        yield
    finally:
        apply(saved)
