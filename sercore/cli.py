"""The ``sercore`` command line.

    sercore run PAPER --dataset NAME [--profile smoke|quick|paper] [--data-root DIR] [--seed N]
    sercore data list [--data-root DIR]
    sercore book [--run] [--profile quick] [--data-root DIR]

``run`` executes ``book/PAPER.ipynb`` with papermill and the parameters of
``params/PAPER/NAME.yaml`` (its top-level scalars, overridden by its
``smoke``/``quick``/``paper`` section), writing the executed notebook and
``results/PAPER/NAME/PROFILE/metrics.json``. A run executes in a staging folder;
only a run that finishes and writes a valid ``metrics.json`` replaces the
previous results, so a failing notebook never destroys earlier results.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import PAPERS
from .paths import project_root, results_dir

PROFILES = ("smoke", "quick", "paper")
#: notebooks of the book that are not papers, executed by ``sercore book``
SPECIAL = ("data", "scoreboard")
#: notebooks run per dataset like the papers' but about all of them (after the chapters in a book build)
STUDIES = ("leaderboard",)


def load_params(paper: str, dataset: str, profile: str, root: Path | None = None) -> dict:
    """Flat parameters for one run: YAML top level, then the profile's section on top.

    Only scalars and lists are allowed as values (papermill injects them as literals).
    """
    root = root or project_root()
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    path = root / "params" / paper / f"{dataset}.yaml"
    if not path.exists():
        have = sorted(p.stem for p in (root / "params" / paper).glob("*.yaml"))
        raise FileNotFoundError(f"no parameters at {path}; datasets with parameters for {paper}: {have}")
    raw = yaml.safe_load(path.read_text()) or {}
    params = {k: v for k, v in raw.items() if k not in PROFILES}
    params.update(raw.get(profile) or {})
    for k, v in params.items():
        if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(i, (dict, list)) for i in v)):
            raise ValueError(f"{path}: parameter {k!r} must be a scalar or a flat list, got {v!r}")
    return params


def datasets_with_params(paper: str, root: Path | None = None) -> list[str]:
    root = root or project_root()
    return sorted(p.stem for p in (root / "params" / paper).glob("*.yaml"))


def run_notebook(paper: str, dataset: str, profile: str = "smoke", data_root: str | None = None,
                 seed: int = 0, results_root: str | os.PathLike | None = None,
                 root: Path | None = None, progress: bool = False) -> Path:
    """Execute one (paper, dataset, profile) notebook; return its results folder.

    Raises ``RuntimeError`` naming the failed notebook (kept in ``<PROFILE>.failed/``)
    when execution fails or writes no valid metrics.json.
    """
    import papermill as pm

    from .results import read_metrics

    root = root or project_root()
    nb = root / "book" / f"{paper}.ipynb"
    if not nb.exists():
        raise FileNotFoundError(f"no notebook {nb}")
    results_root = Path(results_root) if results_root else results_dir()
    final = results_root / paper / dataset / profile
    stage = final.with_name(f".{profile}.running-{os.getpid()}")
    failed = final.with_name(f"{profile}.failed")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    params = load_params(paper, dataset, profile, root) if paper not in SPECIAL else {}
    params.update(paper=paper, dataset=dataset, profile=profile, seed=int(seed),
                  results_dir=str(stage), data_root=str(data_root) if data_root else None)
    if paper in SPECIAL:
        params["results_root"] = str(results_root)
    out_nb = stage / f"{paper}.ipynb"
    t0 = time.time()
    env_before = os.environ.get("SERCORE_PROGRESS")
    os.environ["SERCORE_PROGRESS"] = "0"      # the kernel inherits it: no progress widgets in results
    try:
        pm.execute_notebook(str(nb), str(out_nb), parameters=params, cwd=str(root / "book"),
                            kernel_name="python3", progress_bar=progress, log_output=False)
        if paper not in SPECIAL:
            read_metrics(stage / "metrics.json")
    except Exception as e:  # papermill's error carries the failing cell's traceback
        shutil.rmtree(failed, ignore_errors=True)
        stage.rename(failed)
        raise RuntimeError(f"{paper} on {dataset} ({profile}) failed after {time.time() - t0:.0f} s: "
                           f"{type(e).__name__}: {e}\nThe executed notebook is kept at "
                           f"{failed / (paper + '.ipynb')}; earlier results in {final} are untouched.") from e
    finally:
        if env_before is None:
            os.environ.pop("SERCORE_PROGRESS", None)
        else:
            os.environ["SERCORE_PROGRESS"] = env_before
    # the executed notebook should name where its results ended up, not the staging folder
    out_nb.write_text(out_nb.read_text().replace(str(stage), str(final)))
    old = final.with_name(f".{profile}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    stage.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(failed, ignore_errors=True)
    return final


# ----------------------------------------------------------------------------- data list

def data_list(data_root: str | None = None) -> str:
    """A table of every registered corpus: found or not, utterances, labels."""
    from . import data

    root = data.data_root(data_root)
    lines = [f"data root: {root}", f"{'corpus':<14}{'found':<7}{'utterances':>11}  {'speakers':>8}  labels"]
    for name in data.CORPORA:
        if not data.is_available(name, data_root):
            lines.append(f"{name:<14}{'no':<7}{'-':>11}  {'-':>8}  expected at {data.corpus_dir(name, data_root)}")
            continue
        try:
            s = data.summary(data.load(name, data_root))
        except Exception as e:  # a broken corpus must not hide the others
            lines.append(f"{name:<14}{'error':<7}{'-':>11}  {'-':>8}  {type(e).__name__}: {e}".splitlines()[0])
            continue
        labels = ", ".join(f"{k} {v}" for k, v in s["labels"].items())
        skipped = f" ({s['skipped']} skipped)" if s["skipped"] else ""
        lines.append(f"{name:<14}{'yes':<7}{s['utterances']:>11,}  {s['speakers']:>8}  {labels}{skipped}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- book

def plan_runs(data_root: str | None = None, root: Path | None = None) -> list[tuple[str, str]]:
    """Every (paper, dataset) with a notebook, parameters, and a corpus that is found."""
    from . import data

    root = root or project_root()
    plan = []
    for paper in (*PAPERS, *STUDIES):
        if not (root / "book" / f"{paper}.ipynb").exists():
            continue
        for ds in datasets_with_params(paper, root):
            corpus = load_params(paper, ds, "quick", root).get("corpus", ds)
            if data.is_available(corpus, data_root):
                plan.append((paper, ds))
    return plan


PROFILE_RANK = {"paper": 0, "quick": 1, "smoke": 2}


def stage_book(root: Path | None = None, results_root: Path | None = None) -> list[Path]:
    """Copy the best executed notebook of each (paper, dataset) into ``book/_generated/``.

    "Best" is the most complete profile present (paper > quick > smoke).
    """
    root = root or project_root()
    results_root = results_root or results_dir()
    gen = root / "book" / "_generated"
    shutil.rmtree(gen, ignore_errors=True)
    gen.mkdir(parents=True)
    out = []
    for paper in (*PAPERS, *STUDIES, *SPECIAL):
        by_ds: dict[str, Path] = {}
        for nb in sorted((results_root / paper).glob(f"*/*/{paper}.ipynb")):
            ds, prof = nb.parent.parent.name, nb.parent.name
            if paper not in SPECIAL and prof not in PROFILE_RANK:
                continue
            rank = PROFILE_RANK.get
            if ds not in by_ds or rank(prof, 9) < rank(by_ds[ds].parent.name, 9):
                by_ds[ds] = nb
        for ds, nb in sorted(by_ds.items()):
            dest = gen / paper / f"{ds}.ipynb" if paper not in SPECIAL else gen / f"{paper}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            _stage_notebook(nb, dest, None if paper in SPECIAL else f"{ds} ({nb.parent.name} profile)")
            out.append(dest)
    return out


def _stage_notebook(src: Path, dest: Path, subtitle: str | None) -> None:
    """Copy an executed notebook; with ``subtitle``, its first heading becomes ``# <title>: <subtitle>``
    so each dataset's page has its own name in the book's navigation."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    if subtitle:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("# "):
                first, _, rest = cell.source.partition("\n")
                short = first[2:].split(":")[0].strip()
                cell.source = f"# {short} on {subtitle}\n\n*{first[2:].strip()}*\n{rest}"
                break
    nbformat.write(nb, dest)


def build_book(run: bool = False, profile: str = "quick", data_root: str | None = None,
               reuse: bool = False) -> Path:
    """Optionally run every planned notebook, execute the data chapter and the
    scoreboard, then ``jupyter-book build`` with warnings as errors."""
    root = project_root()
    failures = []
    t_start = time.time()
    if run:
        plan = plan_runs(data_root, root)
        print(f"running {len(plan)} notebook(s) on the {profile} profile: "
              + ", ".join(f"{p}/{d}" for p, d in plan), flush=True)
        for paper, ds in plan:
            done = results_dir() / paper / ds / profile / "metrics.json"
            if reuse and done.exists():
                print(f"  {paper}/{ds}: reusing {done}", flush=True)
                continue
            t0 = time.time()
            try:
                run_notebook(paper, ds, profile, data_root=data_root, root=root)
                print(f"  {paper}/{ds}: done in {time.time() - t0:.0f} s", flush=True)
            except RuntimeError as e:
                failures.append(str(e))
                print(f"  {paper}/{ds}: FAILED\n{e}", file=sys.stderr, flush=True)
    for special in SPECIAL:
        t0 = time.time()
        run_notebook(special, "all", "book", data_root=data_root, root=root)
        print(f"  {special}: done in {time.time() - t0:.0f} s", flush=True)
    staged = stage_book(root)
    print(f"staged {len(staged)} executed notebook(s) into book/_generated", flush=True)
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root)
    if proc.returncode != 0:
        raise SystemExit(f"jupyter-book build failed (exit {proc.returncode}); see the warnings above")
    index = root / "_build" / "html" / "index.html"
    print(f"book built in {time.time() - t_start:.0f} s: {index}")
    if failures:
        raise SystemExit(f"{len(failures)} notebook(s) failed; the book shows their previous results")
    return index


# ----------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sercore", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="execute one paper notebook on one dataset")
    r.add_argument("paper", choices=(*PAPERS, *STUDIES))
    r.add_argument("--dataset", required=True, help="a params/PAPER/NAME.yaml name, e.g. synthetic, emodb")
    r.add_argument("--profile", default="smoke", choices=PROFILES)
    r.add_argument("--data-root", default=None, help="folder with one sub-folder per corpus (default $SERCORE_DATA)")
    r.add_argument("--seed", type=int, default=0)

    d = sub.add_parser("data", help="corpora")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    dl = dsub.add_parser("list", help="every corpus: found or not, utterances, labels")
    dl.add_argument("--data-root", default=None)

    b = sub.add_parser("book", help="build the HTML book from results/")
    b.add_argument("--run", action="store_true", help="first run every (paper, dataset) whose corpus is found")
    b.add_argument("--profile", default="quick", choices=PROFILES)
    b.add_argument("--reuse", action="store_true", help="with --run: skip runs whose metrics.json exists")
    b.add_argument("--data-root", default=None)

    args = ap.parse_args(argv)
    if args.cmd == "run":
        try:
            out = run_notebook(args.paper, args.dataset, args.profile, args.data_root, args.seed,
                               progress=sys.stderr.isatty())
        except (RuntimeError, FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {out / 'metrics.json'} and {out / (args.paper + '.ipynb')}")
        return 0
    if args.cmd == "data":
        print(data_list(args.data_root))
        return 0
    if args.cmd == "book":
        build_book(args.run, args.profile, args.data_root, args.reuse)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
