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


def checkpoints_dir() -> Path:
    """Root of the per-epoch checkpoints of runs with ``checkpoint: true``
    (:func:`sercore.experiment.checkpoint_root`): ``SERCORE_CHECKPOINTS``, else :func:`results_dir`. A
    fold worker (``sercore run --fold-worker``) writes its results elsewhere but shares this tree with
    the run it helps."""
    p = os.environ.get("SERCORE_CHECKPOINTS")
    if not p:
        return results_dir()
    p = Path(p).expanduser()
    return p if p.is_absolute() else project_root() / p


def records_dir(root: Path | None = None) -> Path:
    """``records/`` under the project root ``root`` (default :func:`project_root`): the published runs
    (:mod:`sercore.records`); ``SERCORE_RECORDS`` overrides it."""
    if os.environ.get("SERCORE_RECORDS"):
        return Path(os.environ["SERCORE_RECORDS"]).expanduser().resolve()
    return (root or project_root()) / "records"


#: the thread-pool sizes a process's numeric libraries read at start: OpenMP (torch's intra-op pool),
#: MKL, OpenBLAS (numpy, scipy), numexpr, and rayon (Hugging Face tokenizers' batch encoding)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "RAYON_NUM_THREADS")


def _positive_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return n


def _cgroup_cpus() -> int | None:
    """CPUs a cgroup CPU quota allows (``docker --cpus``, Kubernetes limits), rounded up; None: no quota."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]     # cgroup v2
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    try:                                                                             # cgroup v1
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return max(1, -(-quota // period))
    except (OSError, ValueError):
        pass
    return None


def available_cpus() -> int:
    """CPUs sercore may keep busy: ``SERCORE_CPUS`` when set (a machine shared with other work), else
    the CPUs this process may run on (its affinity, which SLURM and ``taskset`` set), capped by a
    cgroup CPU quota (a container's ``--cpus``)."""
    n = _positive_int("SERCORE_CPUS")
    if n is not None:
        return n
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_cpus()
    return max(1, min(cpus, quota) if quota else cpus)


def thread_share(workers: int = 1) -> int:
    """Threads one of ``workers`` concurrent processes may use: :func:`available_cpus` divided by
    ``workers``, at least 1."""
    return max(1, available_cpus() // max(1, int(workers)))


def thread_env(workers: int = 1) -> dict[str, str]:
    """The environment that gives a child process (a notebook kernel) its share of the cores: every
    variable of :data:`THREAD_VARS` set to :func:`thread_share`, or to the caller's ``OMP_NUM_THREADS``
    when that is smaller (a user's limit is kept, never raised; a larger one is cut to the share, so
    ``workers`` processes never run more busy threads than there are cores).

    This is the one place the thread count is decided: ``sercore run``/``book`` (1 worker) and
    ``sercore fanout --executor local`` (``max_parallel`` workers) pass it to each kernel, where
    torch's intra-op pool starts with ``OMP_NUM_THREADS`` threads.
    """
    n = thread_share(workers)
    user = _positive_int("OMP_NUM_THREADS")
    if user is not None:
        n = min(n, user)
    return {name: str(n) for name in THREAD_VARS}


def limit_threads(workers: int = 1) -> int:
    """Apply :func:`thread_env` to this process (its environment, and torch's intra-op pool when torch
    is imported); returns the thread count. For code that computes in the calling process itself."""
    import sys

    env = thread_env(workers)
    os.environ.update(env)
    n = int(env["OMP_NUM_THREADS"])
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return n


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


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
