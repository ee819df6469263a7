"""Runs: a run's parameters resolved in one place, one notebook executed, the book's run plan.

``resolve(paper, dataset, profile)`` is the only function that reads ``params/``: it merges the
file's top level with the profile's section, validates the result against the paper's schema
(:mod:`sercore.schemas`) and returns a flat dict of scalars and lists. The CLI, fanout, the
leaderboard, the chapters' ``method()`` and the notebooks all take that dict.

``run_notebook`` executes ``book/PAPER.ipynb`` with papermill in a staging folder; only a run that
finishes and writes a valid ``metrics.json`` replaces earlier results, so a failing notebook never
destroys them.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from . import PAPERS
from .paths import environ, project_root, results_dir, thread_share
from .schemas import ParamsError, schema, validate
from .schemas.common import PROFILES, RUN_KEYS

#: notebooks of the book that are not papers, executed by ``sercore book``
SPECIAL = ("data", "scoreboard")
#: notebooks run per dataset like the papers' but about all of them (after the chapters in a book build)
STUDIES = ("leaderboard",)
#: the registry of names ``sercore run`` accepts
RUNNABLE = (*PAPERS, *STUDIES)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def params_file(paper: str, dataset: str, root: Path | None = None) -> Path:
    """``params/<paper>/<dataset>.yaml``; names are checked against the registry, never taken as paths."""
    root = root or project_root()
    if paper not in RUNNABLE:
        raise ParamsError(f"unknown paper {paper!r}; known: {', '.join(RUNNABLE)}")
    if not _NAME.match(str(dataset)):
        raise ParamsError(f"dataset {dataset!r} is not a name (lower-case letters, digits and '_'); "
                          f"datasets with parameters for {paper}: {', '.join(datasets_with_params(paper, root))}")
    path = root / "params" / paper / f"{dataset}.yaml"
    if not path.exists():
        raise ParamsError(f"no parameters at {path}; datasets with parameters for {paper}: "
                          f"{', '.join(datasets_with_params(paper, root))}")
    return path


def read_params_file(path: Path, shown: str | None = None) -> dict:
    """The YAML mapping of a params file; a syntax error or a non-mapping is a one-line ParamsError
    naming the file as ``shown`` (default: the path)."""
    import yaml

    shown = shown or str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(f"{shown}: not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
    except OSError as e:
        raise ParamsError(f"{shown}: cannot read ({e.strerror})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{shown}: expected a mapping of keys to values, got {type(raw).__name__}")
    for name in PROFILES:
        if name in raw and not isinstance(raw[name], (dict, type(None))):
            raise ParamsError(f"{shown}: key {name!r}: expected a mapping (the {name} profile's section), "
                              f"got {type(raw[name]).__name__}")
    return raw


def resolve(paper: str, dataset: str, profile: str, overrides: dict | None = None,
            root: Path | None = None) -> dict:
    """The validated, flat parameters of one run, from ``params/<paper>/<dataset>.yaml`` alone.

    Top-level values apply to every profile; the ``smoke``/``quick``/``paper`` section overrides
    them; ``overrides`` (run keys such as ``seed``, ``data_root``, ``results_dir``, or a user's
    ``-p KEY VALUE``) go last. Every profile of the file is validated, so a mistake in the
    ``paper:`` section is found on a quick run too. Raises :class:`ParamsError` (one line) before any
    data is read.
    """
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    path = params_file(paper, dataset, root)
    shown = _shown(path, root)
    raw = read_params_file(path, shown)
    cls = schema(paper)
    for key in RUN_KEYS:
        for section, body in (("top level", raw), *((f"section {p!r}", raw.get(p) or {}) for p in PROFILES)):
            if key in body and not (body is raw and key in PROFILES):   # top-level `paper:` is the profile
                raise ParamsError(f"{shown}: key {key!r} ({section}): expected no value here (the run sets "
                                  f"{key}: `sercore run --{key.replace('_', '-')}` or papermill), got {body[key]!r}")
    def merged(prof: str) -> tuple[dict, dict]:
        values = {k: v for k, v in raw.items() if k not in PROFILES}
        where = {k: "top level" for k in values}
        for k, v in (raw.get(prof) or {}).items():
            values[k] = v
            where[k] = f"section {prof!r}"
        values.update(paper=paper, dataset=dataset, profile=prof)
        return values, where

    if profile == "reference" and profile not in raw:
        raise ParamsError(f"{shown}: no 'reference:' section: {paper} has no reference run on {dataset} "
                          f"(profiles with a section: {', '.join(p for p in PROFILES if p in raw) or 'none'})")
    for other in PROFILES:              # a mistake in a section this run does not use is found now too
        if other != profile and (other != "reference" or other in raw):   # reference: only where written
            values, where = merged(other)
            validate(cls, values, source=shown, where=where)
    values, where = merged(profile)
    for k, v in (overrides or {}).items():
        values[k] = v
        where[k] = "override"
    return validate(cls, values, source=shown, where=where)


def validate_params(values: dict, source: str = "notebook parameters") -> dict:
    """Check parameters that arrived without :func:`resolve` (a notebook's globals, plain papermill)."""
    paper = values.get("paper")
    if paper in SPECIAL:
        return dict(values)
    return validate(schema(paper), values, source=source)


def notebook_params(namespace: dict) -> dict:
    """The parameters a notebook runs with, validated against its paper's schema.

    Call it right after the parameters cell: it takes every public global that is a scalar or a
    list of scalars (the defaults and papermill's injected values), so a misspelt ``-p`` key is an
    error here rather than a silently ignored variable.
    """
    simple = (bool, int, float, str, type(None))
    skip = {"In", "Out", "exit", "quit", "get_ipython"}
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in namespace.items()
              if not k.startswith("_") and k not in skip
              and (isinstance(v, simple) or (isinstance(v, (list, tuple)) and all(isinstance(i, simple) for i in v)))}
    return validate_params(values)


def datasets_with_params(paper: str, root: Path | None = None) -> list[str]:
    root = root or project_root()
    return sorted(p.stem for p in (root / "params" / paper).glob("*.yaml"))


def _shown(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root or project_root()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- notebooks' parameters cells

def parameters_cell(paper: str, root: Path | None = None) -> str:
    """The parameters cell of ``book/<paper>.ipynb``: the smoke profile on the synthetic corpus,
    as :func:`resolve` gives it, one assignment per key with the schema's help as comment.

    A test asserts every notebook's cell equals this; ``python -m sercore.runs`` rewrites them.
    """
    from .schemas import describe

    values = resolve(paper, "synthetic", "smoke", root=root)
    helps = {r["key"]: r["help"] for r in describe(schema(paper))}
    lines = [f"# Parameters: papermill injects the resolved params/{paper}/<dataset>.yaml here.",
             "# These defaults are what `sercore.runs.resolve(paper, \"synthetic\", \"smoke\")` gives;",
             "# a test keeps them equal (`python -m sercore.runs` rewrites this cell)."]
    for k, v in values.items():
        lines.append(f"{k} = {v!r}".ljust(30) + f"  # {helps[k]}")
    return "\n".join(lines)


def notebook_defaults(nb_path: Path) -> dict:
    """The assignments of a notebook's ``parameters`` cell, evaluated as literals."""
    import ast
    import json

    nb = json.loads(Path(nb_path).read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"])
            out = {}
            for node in ast.parse(src).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    raise ValueError(f"{nb_path}: no cell tagged 'parameters'")


def sync_parameters_cells(root: Path | None = None) -> list[Path]:
    """Rewrite every paper notebook's parameters cell from :func:`parameters_cell`; returns those changed."""
    import json

    root = root or project_root()
    changed = []
    for paper in RUNNABLE:
        path = root / "book" / f"{paper}.ipynb"
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                new = parameters_cell(paper, root)
                if "".join(cell["source"]) != new:
                    cell["source"] = [line + "\n" for line in new.split("\n")]
                    cell["source"][-1] = cell["source"][-1].rstrip("\n")
                    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
                    changed.append(path)
    return changed


# ----------------------------------------------------------------------------- one run

class RunLockedError(RuntimeError):
    """Another live process is writing the same results folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # alive, owned by someone else
        return True
    return True


_DEBRIS = re.compile(r"^\.(?P<name>.+)\.(running|old)-(?P<pid>\d+)$")


def remove_dead_staging(folder: Path) -> list[Path]:
    """Remove the staging (``.<name>.running-PID``) and swap (``.<name>.old-PID``) folders under
    ``folder`` whose process is gone (a run killed with ``kill -9`` leaves them); returns those removed.
    Folders of live processes are left alone."""
    removed = []
    if not folder.is_dir():
        return removed
    for d in folder.rglob(".*"):
        m = _DEBRIS.match(d.name)
        if m and d.is_dir() and not _pid_alive(int(m["pid"])):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _lock(final: Path) -> Path:
    """Take ``.<name>.lock`` beside ``final`` (atomic create); a lock of a dead process is taken over.
    Raises :class:`RunLockedError` while a live process holds it."""
    lock = final.with_name(f".{final.name}.lock")
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise RunLockedError(f"another run (process {pid}) is writing {final}; wait for it to finish "
                                     f"or stop it (its lock: {lock})") from None
            lock.unlink(missing_ok=True)     # the process that held it is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return lock
    raise RunLockedError(f"could not take the lock {lock} for {final}")


def run_notebook(paper: str, dataset: str, profile: str = "smoke", data_root: str | None = None,
                 seed: int = 0, results_root: str | os.PathLike | None = None,
                 root: Path | None = None, progress: bool = False, run_dir: str | None = None,
                 skip_bad: bool = False, workers: int = 1) -> Path:
    """Execute one (paper, dataset, profile) notebook; return its results folder.

    Parameters are resolved (and validated) before anything is created, so bad parameters
    write nothing. run_dir: the results folder under ``results/PAPER/DATASET/`` (default:
    PROFILE); ``sercore fanout`` puts seeds other than a grid's first in ``seeds/PROFILE/seed-S``.
    skip_bad: unreadable or invalid corpus files are skipped, counted and reported, instead of
    stopping the run. workers: how many runs share this machine's CPUs now (``sercore fanout``); the
    kernel's torch/OpenMP threads are its share (:func:`sercore.paths.thread_share`), unless
    ``OMP_NUM_THREADS`` is set already.

    One run at a time per results folder: a second one raises :class:`RunLockedError` while the
    first is alive. Staging folders left by killed runs are removed first.

    Raises ``ParamsError`` for bad parameters and ``RuntimeError`` naming the failed notebook (kept
    in ``<PROFILE>.failed/``) when execution fails or writes no valid metrics.json.
    """
    import papermill as pm

    from .results import read_metrics

    root = root or project_root()
    if paper in SPECIAL:
        params = {"paper": paper, "dataset": dataset, "profile": profile, "seed": int(seed)}
    else:
        params = resolve(paper, dataset, profile, {"seed": int(seed), "skip_bad": bool(skip_bad)}, root)
    nb = root / "book" / f"{paper}.ipynb"
    if not nb.exists():
        raise FileNotFoundError(f"no notebook {nb}")
    results_root = Path(results_root) if results_root else results_dir()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK", "0") != "0":
        # a torchrun worker other than rank 0 (`torchrun --nproc_per_node=N sercore run ...`): its kernel
        # trains its share of each epoch (sercore.distributed); only rank 0's results are kept
        import tempfile
        results_root = Path(tempfile.mkdtemp(prefix=f"sercore-rank{os.environ['RANK']}-"))
    final = results_root / paper / dataset / (run_dir or profile)
    stage = final.with_name(f".{final.name}.running-{os.getpid()}")
    failed = final.with_name(f"{final.name}.failed")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(final)
    except OSError as e:
        raise RuntimeError(f"cannot write results under {final.parent}: {e.strerror or e}") from None
    try:
        remove_dead_staging(final.parent)
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        return _execute(pm, read_metrics, paper, dataset, profile, params, nb, root, results_root, data_root,
                        stage, final, failed, progress, workers)
    finally:
        lock.unlink(missing_ok=True)


def _execute(pm, read_metrics, paper, dataset, profile, params, nb, root, results_root, data_root,
             stage: Path, final: Path, failed: Path, progress: bool, workers: int) -> Path:
    params.update(results_dir=str(stage),
                  data_root=str(Path(data_root).resolve()) if data_root else None)
    if paper in SPECIAL:
        params["results_root"] = str(results_root)
    out_nb = stage / f"{paper}.ipynb"
    t0 = time.time()
    # the kernel inherits this environment: no progress widgets in results, this run's share of the
    # cores (a user's OMP_NUM_THREADS wins), and no non-inline backend (it would leave pages without figures)
    env = {"SERCORE_PROGRESS": "0", "MPLBACKEND": None}
    if "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(thread_share(workers))
    try:
        with environ(**env):
            pm.execute_notebook(str(nb), str(out_nb), parameters=params, cwd=str(root / "book"),
                                kernel_name="python3", progress_bar=progress, log_output=False)
        if paper not in SPECIAL:
            read_metrics(stage / "metrics.json")
    except Exception as e:  # papermill's error carries the failing cell's traceback
        shutil.rmtree(failed, ignore_errors=True)
        stage.rename(failed)
        raise RuntimeError(f"{paper} on {dataset} ({profile}) failed after {time.time() - t0:.0f} s: "
                           f"{_cause(e)}\nThe executed notebook is kept at "
                           f"{failed / (paper + '.ipynb')}; earlier results in {final} are untouched.") from e
    # the executed notebook should name where its results ended up, not the staging folder
    out_nb.write_text(out_nb.read_text().replace(str(stage), str(final)))
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    stage.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(failed, ignore_errors=True)
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


def plan_runs(data_root: str | None = None, root: Path | None = None) -> list[tuple[str, str]]:
    """Every (paper, dataset) with a notebook, parameters, and a corpus that is found."""
    from . import data

    root = root or project_root()
    plan = []
    for paper in RUNNABLE:
        if not (root / "book" / f"{paper}.ipynb").exists():
            continue
        for ds in datasets_with_params(paper, root):
            corpus = resolve(paper, ds, "quick", root=root)["corpus"]
            if data.is_available(corpus, data_root):
                plan.append((paper, ds))
    return plan


if __name__ == "__main__":
    for p in sync_parameters_cells():
        print(f"rewrote the parameters cell of {p}")
