"""One run: ``run_notebook`` executes ``book/PAPER.ipynb`` with papermill in a staging folder
(:mod:`sercore.runs.staging`); only a run that finishes and writes a valid ``metrics.json`` replaces
earlier results, so a failing notebook never destroys them. A run whose key (:mod:`sercore.runs.runkey`)
is unchanged can be reused instead.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from .. import runlog
from ..paths import cache_dir, environ, project_root, results_dir, thread_env
from .params import SPECIAL, STUDIES, run_params, study_chapter_params
from .runkey import key_changes, reusable, run_key, write_run_key
from .staging import StorageError, check_storage, owner_token, publish, remove_dead_staging, step, take_lock

def seed_dir(profile: str, seed: int) -> str:
    """Where a run of ``seed`` other than 0 goes under ``results/PAPER/DATASET/`` (``sercore run --seed S``
    and a fan-out's further seeds): ``seeds/PROFILE/seed-S``, its own folder with its own lock, so seeds
    never replace each other."""
    return f"seeds/{profile}/seed-{int(seed)}"


def run_folder(results_root: str | os.PathLike, paper: str, dataset: str, profile: str, seed: int = 0,
               run_dir: str | None = None) -> Path:
    """The results folder of a run: ``results/PAPER/DATASET/<run_dir>`` when given, else
    ``results/PAPER/DATASET/PROFILE`` for seed 0 (the book's run; always for the data chapter and the
    scoreboard) and ``results/PAPER/DATASET/seeds/PROFILE/seed-S`` for another seed."""
    if run_dir:
        sub = run_dir
    elif paper in SPECIAL or int(seed) == 0:
        sub = profile
    else:
        sub = seed_dir(profile, seed)
    return Path(results_root) / paper / dataset / sub


def run_notebook(paper: str, dataset: str, profile: str = "smoke", data_root: str | None = None,
                 seed: int = 0, results_root: str | os.PathLike | None = None,
                 root: Path | None = None, progress: bool = False, run_dir: str | None = None,
                 skip_bad: bool = False, workers: int = 1, overrides: dict | None = None,
                 reuse: bool = False, in_process: bool = False) -> Path:
    """Execute one (paper, dataset, profile) notebook; return its results folder.

    Parameters are resolved (and validated) before anything is created, so bad parameters
    write nothing. Where the results go: :func:`run_folder` (seed 0: ``results/PAPER/DATASET/PROFILE``,
    the book's run; another seed: ``results/PAPER/DATASET/seeds/PROFILE/seed-S``); run_dir: another
    folder under ``results/PAPER/DATASET/`` (``sercore fanout`` puts a grid's first seed in PROFILE).
    skip_bad: unreadable or invalid corpus files are skipped, counted and reported, instead of
    stopping the run. overrides: parameters set after the profile (``sercore run --set KEY=VALUE``),
    validated like the file. workers: how many runs share this machine's CPUs now (``sercore fanout``); the
    kernel's torch/OpenMP/BLAS threads are its share (:func:`sercore.paths.thread_env`; a smaller
    ``OMP_NUM_THREADS`` of the caller is kept, a larger one cut to the share).

    One run at a time per results folder: a second one raises :class:`RunLockedError` while the
    first is alive. Folders left by killed runs are cleaned up first (:func:`remove_dead_staging`),
    and the disk is checked before anything runs (:func:`check_storage`, :class:`StorageError`).

    A finished run is never lost: the notebook writes into a staging folder, ``run_key.json``
    (:func:`run_key`) is written into it last, and the staging folder replaces the results folder in
    one step (:func:`publish`); a run killed at any instant leaves the previous or the new result.
    reuse: when the results folder already holds a finished run whose key equals this run's (same
    resolved parameters and seed, same corpus files, same package code, notebook and params file),
    nothing is executed and that folder is returned (:func:`reusable`).
    in_process: execute the cells in this Python process, not a fresh Jupyter kernel
    (:mod:`sercore.runs.inprocess`; ``sercore run --in-process``).

    Raises ``ParamsError`` for bad parameters, ``CheckpointUnavailableError`` when a named Hugging
    Face checkpoint cannot be loaded here (both before anything is written), and ``RuntimeError`` naming
    the failed notebook (kept in ``<PROFILE>.failed/``) when execution fails or writes no valid
    metrics.json, or when its results cannot be put in place (the previous ones are then kept).
    """
    from ..features.hub import check_checkpoints

    root = root or project_root()
    params = run_params(paper, dataset, profile, seed, skip_bad, overrides, root, data_root)
    if paper not in SPECIAL:
        check_checkpoints(params, f"{paper}/{dataset}, profile {profile}")   # before anything is written
        if paper in STUDIES:            # the board trains the chapters with their own params files
            for method in params["methods"]:
                if method != "baselines":
                    chapter, source = study_chapter_params(method, {**params, "data_root": data_root})
                    check_checkpoints(chapter, f"{source}, trained by the leaderboard")
    nb = root / "book" / f"{paper}.ipynb"
    if not nb.exists():
        raise FileNotFoundError(f"no notebook {nb}")
    results_root = Path(results_root) if results_root else results_dir()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK", "0") != "0":
        # a torchrun worker other than rank 0 (`torchrun --nproc_per_node=N sercore run ...`): its kernel
        # trains its share of each epoch (sercore.distributed); only rank 0's results are kept
        import tempfile
        results_root = Path(tempfile.mkdtemp(prefix=f"sercore-rank{os.environ['RANK']}-"))
    final = run_folder(results_root, paper, dataset, profile, seed, run_dir)
    stage = final.with_name(f".{final.name}.running-{owner_token()}")
    failed = final.with_name(f"{final.name}.failed")
    key = run_key(paper, params, root, data_root, results_root, workers)
    if reuse and reusable(final, key) is not None:
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = take_lock(final)
    except OSError as e:
        raise StorageError(f"cannot write results under {final.parent}: {e.strerror or e}") from None
    try:
        remove_dead_staging(final.parent, holding=final)
        shutil.rmtree(stage, ignore_errors=True)
        try:
            stage.mkdir(parents=True)
        except OSError as e:
            raise StorageError(f"cannot write results under {final.parent}: {e.strerror or e}") from None
        try:
            check_storage(final, stage)
        except StorageError:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return _execute(paper, dataset, profile, params, nb, root, results_root, data_root, stage, final,
                        failed, progress, workers, key, in_process)
    finally:
        lock.unlink(missing_ok=True)


def _papermill(nb: Path, out_nb: Path, params: dict, cwd: Path, progress: bool, in_process: bool = False) -> None:
    """Execute ``nb`` into ``out_nb`` with papermill (tests replace this to publish without a kernel); in a
    fresh kernel, or in this process when ``in_process`` (:mod:`sercore.runs.inprocess`)."""
    import papermill as pm

    if in_process:
        from .inprocess import NAME
        how = {"engine_name": NAME}
    else:
        # --IPKernelApp.log_level=ERROR: the kernel's start-up warnings (e.g. "running over TCP without
        # encryption", about a local kernel only this process talks to) are not for users
        how = {"extra_arguments": ["--IPKernelApp.log_level=ERROR"]}
    pm.execute_notebook(str(nb), str(out_nb), parameters=params, cwd=str(cwd), kernel_name="python3",
                        progress_bar=progress, log_output=False, **how)


def _execute(paper, dataset, profile, params, nb, root, results_root, data_root, stage: Path, final: Path,
             failed: Path, progress: bool, workers: int, key: dict, in_process: bool = False) -> Path:
    from ..data import data_root as resolve_data_root
    from ..paths import atomic_write
    from ..results import read_metrics

    # the kernel runs in book/: every path a user typed (--data-root, a relative SERCORE_DATA, the
    # default ./data, a relative SERCORE_CACHE) is made absolute here, from the caller's directory
    data = resolve_data_root(data_root)
    params.update(results_dir=str(stage), data_root=str(data))
    if paper in SPECIAL:
        params["results_root"] = str(results_root)
    out_nb = stage / f"{paper}.ipynb"
    t0 = time.time()
    # the kernel inherits this environment: no progress widgets in results, this run's share of the
    # cores (see thread_env), and no non-inline backend (it would leave pages without figures)
    env = {"SERCORE_PROGRESS": "0", "MPLBACKEND": None, "SERCORE_DATA": str(data),
           "SERCORE_CACHE": str(cache_dir().resolve()), "SERCORE_RESULTS": str(Path(results_root).resolve())}
    env.update(thread_env(workers))     # its share of the cores; a user's smaller OMP_NUM_THREADS is kept
    # progress: the kernel's training loop appends to run.log beside the results; echoed to stderr
    env["SERCORE_RUN_LOG"] = str(stage / runlog.LOG_NAME)
    runlog.write_line(env["SERCORE_RUN_LOG"], f"{paper}/{dataset}/{profile} seed {params.get('seed', 0)}: "
                                              f"started (pid {os.getpid()}), writing {final}")

    def keep_failed(cause: str) -> Path:
        runlog.write_line(env["SERCORE_RUN_LOG"], f"failed after {time.time() - t0:.0f} s: {cause}")
        shutil.rmtree(failed, ignore_errors=True)
        try:
            stage.rename(failed)
            return failed
        except OSError:
            return stage

    try:
        with environ(**env), runlog.echo(env["SERCORE_RUN_LOG"], sys.stderr):
            _papermill(nb, out_nb, params, root / "book", progress, in_process=in_process)
        if paper not in SPECIAL:
            read_metrics(stage / "metrics.json")
        step("after-notebook")
    except Exception as e:  # papermill's error carries the failing cell's traceback
        kept = keep_failed(_cause(e))
        raise RuntimeError(f"{paper} on {dataset} ({profile}) failed after {time.time() - t0:.0f} s: "
                           f"{_cause(e)}\nThe executed notebook is kept at "
                           f"{kept / (paper + '.ipynb')}; earlier results in {final} are untouched.") from e
    try:
        # the executed notebook should name where its results ended up, not the staging folder
        text = out_nb.read_text().replace(str(stage), str(final))
        atomic_write(out_nb, lambda t: t.write_text(text))
        step("after-notebook-rewrite")
        runlog.write_line(env["SERCORE_RUN_LOG"], f"finished in {time.time() - t0:.0f} s")
        write_run_key(stage, key)          # last: a staging folder with its key is complete
        step("after-run-key")
        publish(stage, final)
    except OSError as e:
        where = e.filename or stage
        kept = keep_failed(f"{type(e).__name__}: {e}") if stage.exists() else None
        raise RuntimeError(f"{paper} on {dataset} ({profile}) finished but its results could not be put in "
                           f"place: {where}: {e.strerror or e}. The earlier results in {final} are untouched"
                           + (f"; this run's are kept in {kept}." if kept else ".")) from None
    shutil.rmtree(failed, ignore_errors=True)
    step("after-cleanup")
    return final


def _cause(e: Exception) -> str:
    """The error a person needs from a failed execution: for an error raised in a notebook cell,
    that cell's exception (``CorruptFileError: <file>: ...``) and its number, not papermill's wrapper
    and traceback."""
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename:
        cell = getattr(e, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (in cell [{cell}])" if cell else "")
    return f"{type(e).__name__}: {e}"



def reusable_run(paper: str, dataset: str, profile: str, data_root: str | None = None, seed: int = 0,
                 results_root: str | os.PathLike | None = None, root: Path | None = None,
                 run_dir: str | None = None, skip_bad: bool = False,
                 overrides: dict | None = None, workers: int = 1) -> tuple[Path | None, list[str]]:
    """Whether :func:`run_notebook` with these arguments and ``reuse=True`` would reuse a run:
    ``(its folder, [])``, or ``(None, the parts of the key that changed)``."""
    root = root or project_root()
    params = run_params(paper, dataset, profile, seed, skip_bad, overrides, root, data_root)
    results_root = Path(results_root) if results_root else results_dir()
    final = run_folder(results_root, paper, dataset, profile, seed, run_dir)
    key = run_key(paper, params, root, data_root, results_root, workers)
    hit = reusable(final, key)
    return hit, ([] if hit else key_changes(final, key))

