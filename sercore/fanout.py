"""Fan the (paper, dataset, profile, seed) grid out to a cluster or to local processes with ``submitit``.

Every job is one ``sercore run PAPER --dataset D --profile P --seed S``: it calls the
same function as the command line (:func:`sercore.runs.run_notebook`), so its
executed notebook and ``metrics.json`` land in the usual ``results/`` tree and
``sercore book`` builds from them. Scheduling is ``submitit``'s:

- ``local`` (default): :class:`submitit.LocalExecutor`, one process per job on
  this machine, at most ``max_parallel`` at a time (submitted in waves of
  ``max_parallel``: ``LocalExecutor`` itself starts every job it is given at once);
- ``debug``: :class:`submitit.DebugExecutor`, the jobs one after another inside
  this process (on a failure submitit opens ``pdb`` post-mortem in the failing job);
- ``slurm``: :class:`submitit.AutoExecutor` on SLURM, one job array whose
  ``slurm_array_parallelism`` is ``max_parallel``; partition, GPUs, CPUs, memory
  and time limit are ``submitit`` parameters (``slurm_partition``,
  ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``, ``timeout_min``...).

Where the results go. ``results/PAPER/DATASET/PROFILE/`` holds one run (it is
what the book shows). The FIRST seed of a grid goes there (where ``sercore run``
writes seed 0); every further seed goes to
``results/PAPER/DATASET/seeds/PROFILE/seed-S/``, where ``sercore run ... --seed S``
writes any seed but 0, so seeds never overwrite each other (the book and the
scoreboard read the first seed's run; the per-seed headlines are in the
fan-out's ``jobs.json``). The unit of work is a whole
notebook: the folds of a cross-validation run inside their notebook (one
results folder per run is the contract), so the grid has no fold axis; use
:mod:`sercore.distributed` to spread one run over several GPUs.

submitit's own files (pickled jobs, logs, per-job stdout/stderr) go to
``results/_fanout/<stamp>/``, with ``jobs.json``: each job, where its results
are, its state and headline metrics or its error.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

EXECUTORS = ("local", "debug", "slurm")


@dataclass(frozen=True)
class Job:
    """One cell of the grid: a ``sercore run`` invocation."""

    paper: str
    dataset: str
    profile: str = "quick"
    seed: int = 0
    run_dir: str | None = None   # folder under results/PAPER/DATASET/ (None: PROFILE, the book's run)

    @property
    def name(self) -> str:
        return f"{self.paper}/{self.dataset}/{self.profile}/seed{self.seed}"

    def results_path(self, results_root: str | Path) -> Path:
        return Path(results_root) / self.paper / self.dataset / (self.run_dir or self.profile)


def seed_dir(profile: str, seed: int) -> str:
    """Where a seed other than the grid's first goes, under ``results/PAPER/DATASET/``
    (:func:`sercore.runs.seed_dir`: where ``sercore run --seed S`` writes a seed other than 0)."""
    from .runs import seed_dir as runs_seed_dir

    return runs_seed_dir(profile, seed)


def check_seeds(seeds: Sequence) -> list[int]:
    """The seeds as integers from 0 to :data:`sercore.runs.MAX_SEED`, duplicates dropped; ValueError naming
    the first that is not one (before any job is submitted)."""
    from .runs import MAX_SEED

    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise ValueError(f"seeds must be whole numbers from 0 to {MAX_SEED}, got {s!r}")
        out.append(int(s))
    return list(dict.fromkeys(out))


def grid(papers: Sequence[str], datasets: Sequence[str] | None = None,
         profiles: Sequence[str] = ("quick",), seeds: Sequence[int] = (0,),
         root: Path | None = None, data_root: str | None = None) -> list[Job]:
    """Every (paper, dataset, profile, seed) to run.

    datasets: ``None`` = the datasets ``sercore book --run`` would run for each
              paper (a ``params/PAPER/*.yaml`` whose corpus is found under
              ``data_root``); a given name that has no parameters for a paper
              raises ``ValueError`` (nothing is skipped silently).
    The first seed of ``seeds`` writes to the book's folder, the others to
    :func:`seed_dir`.
    """
    from .runs import RUNNABLE, datasets_with_params, plan_runs, resolve
    from .schemas.common import PROFILES

    if not papers:
        raise ValueError("no paper given")
    seeds = check_seeds(seeds)
    if not seeds:
        raise ValueError("no seed given")
    jobs = []
    for paper in papers:
        if paper not in RUNNABLE:
            raise ValueError(f"unknown paper {paper!r}; known: {list(RUNNABLE)}")
        have = datasets_with_params(paper, root)
        wanted = list(datasets) if datasets else [d for p, d in plan_runs(data_root, root) if p == paper]
        missing = [d for d in wanted if d not in have]
        if missing:
            raise ValueError(f"{paper}: no params/{paper}/<dataset>.yaml for {missing}; it has {have}")
        for ds in wanted:
            for prof in profiles:
                if prof not in PROFILES:
                    raise ValueError(f"profile must be one of {PROFILES}, got {prof!r}")
                resolve(paper, ds, prof, root=root)      # bad parameters fail here, before any job is submitted
                for i, s in enumerate(seeds):
                    jobs.append(Job(paper, ds, prof, s, None if i == 0 else seed_dir(prof, s)))
    return jobs


def run_job(job: Job, data_root: str | None = None, results_root: str | None = None,
            root: str | None = None, workers: int = 1) -> dict:
    """Run one job (what every worker executes): ``sercore run`` through
    :func:`sercore.runs.run_notebook`; returns where it wrote and its headline metrics.
    ``workers``: jobs sharing this machine's CPUs at once (each takes its share of the threads)."""
    from .results import read_metrics
    from .runs import run_notebook

    t0 = time.time()
    out = run_notebook(job.paper, job.dataset, job.profile, data_root=data_root, seed=job.seed,
                       results_root=results_root, root=Path(root) if root else None,
                       run_dir=job.run_dir or job.profile, workers=workers)
    m = read_metrics(out / "metrics.json")
    return {"results": str(out), "seconds": round(time.time() - t0, 2), "metrics": m["metrics"],
            "synthetic": m["synthetic"]}


@dataclass
class FanOut:
    """What :func:`fan_out` did: one entry per job (``job``, ``state``, ``result`` or ``error``)."""

    executor: str
    folder: str
    entries: list = field(default_factory=list)

    @property
    def failed(self) -> list:
        return [e for e in self.entries if e["state"] != "done"]

    def write(self) -> Path:
        path = Path(self.folder) / "jobs.json"
        path.write_text(json.dumps(asdict(self), indent=2, default=str))
        return path

    def seed_summary(self) -> list[dict]:
        """Mean and standard deviation of each headline metric over the seeds of each
        (paper, dataset, profile)."""
        groups: dict[tuple, list] = {}
        for e in self.entries:
            if e["state"] == "done":
                j = e["job"]
                groups.setdefault((j["paper"], j["dataset"], j["profile"]), []).append(e["result"]["metrics"])
        rows = []
        for (p, d, prof), ms in groups.items():
            row = {"paper": p, "dataset": d, "profile": prof, "seeds": len(ms)}
            for k in ms[0]:
                vals = [float(m[k]) for m in ms]
                row[k] = round(statistics.fmean(vals), 2)
                row[f"{k}_std"] = round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0
            rows.append(row)
        return rows


def local_workers(executor: str, max_parallel: int, n_jobs: int) -> int:
    """How many jobs share this machine's cores at once: ``max_parallel`` (no more than there are jobs)
    for the local executor, whose jobs run side by side; 1 for ``debug`` (one after another) and
    ``slurm`` (each job has its own allocation). Each job's kernel takes
    :func:`sercore.paths.thread_share` of this many workers."""
    if executor != "local":
        return 1
    return max(1, min(int(max_parallel), int(n_jobs)))


def make_executor(kind: str, folder: str | Path, max_parallel: int = 1, **params):
    """A submitit executor: ``local`` (LocalExecutor), ``debug`` (DebugExecutor) or ``slurm``
    (AutoExecutor with ``cluster="slurm"``). ``params`` go to ``update_parameters``."""
    import submitit

    if kind == "local":
        ex = submitit.LocalExecutor(folder=folder)
    elif kind == "debug":
        ex = submitit.DebugExecutor(folder=folder)
    elif kind == "slurm":
        try:
            ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        except RuntimeError as e:   # submitit looks for srun
            raise RuntimeError(f"the slurm executor submits with sbatch from a SLURM login node: {e}") from e
        params = {"slurm_array_parallelism": int(max_parallel), **params}
    else:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {kind!r}")
    if params:
        ex.update_parameters(**params)
    return ex


def fan_out(jobs: Iterable[Job], executor: str = "local", *, max_parallel: int = 1,
            data_root: str | None = None, results_root: str | Path | None = None,
            root: str | Path | None = None, folder: str | Path | None = None,
            progress: bool = True, **executor_params) -> FanOut:
    """Run ``jobs`` with a submitit executor and wait for them; write ``jobs.json``.

    A failed job does not stop the others; its error (with the path of the kept
    failed notebook) is in the returned :class:`FanOut` and in ``jobs.json``.
    """
    from .paths import project_root, results_dir, show_progress

    jobs = list(jobs)
    results_root = Path(results_root) if results_root else results_dir()
    root = Path(root) if root else project_root()
    folder = Path(folder) if folder else results_root / "_fanout" / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    if executor == "local":
        executor_params.setdefault("timeout_min", 24 * 60)
    ex = make_executor(executor, folder, max_parallel, **executor_params)
    report = FanOut(executor, str(folder))
    args = dict(data_root=str(data_root) if data_root else None, results_root=str(results_root),
                root=str(root), workers=local_workers(executor, max_parallel, len(jobs)))
    waves = ([jobs[i:i + max(1, max_parallel)] for i in range(0, len(jobs), max(1, max_parallel))]
             if executor == "local" else [jobs])
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="fan-out", unit="run", disable=not show_progress(progress))
    for wave in waves:
        with ex.batch():
            handles = [ex.submit(run_job, j, **args) for j in wave]
        for j, h in zip(wave, handles):
            entry = {"job": asdict(j), "name": j.name, "job_id": str(h.job_id),
                     "results": str(j.results_path(results_root))}
            try:
                entry.update(state="done", result=h.result())
            except Exception as e:   # submitit re-raises the job's error (FailedJobError) here
                entry.update(state="failed", error=f"{type(e).__name__}: {e}")
            report.entries.append(entry)
            bar.update(1)
            report.write()
    bar.close()
    return report
