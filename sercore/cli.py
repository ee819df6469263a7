"""The ``sercore`` command line.

    sercore run PAPER --dataset NAME [--profile smoke|quick|paper] [--data-root DIR] [--seed N]
    sercore data list [--data-root DIR]
    sercore data fetch NAME [--data-root DIR] [--force]
    sercore book [--run] [--profile quick] [--data-root DIR]
    sercore fanout PAPER... [--datasets D...] [--profiles P...] [--seeds S...] [--executor local|debug|slurm]
    sercore predict FILE... --checkpoint DIR [--json] [--embedding]

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
                 root: Path | None = None, progress: bool = False, run_dir: str | None = None) -> Path:
    """Execute one (paper, dataset, profile) notebook; return its results folder.

    run_dir: the results folder under ``results/PAPER/DATASET/`` (default: PROFILE);
    ``sercore fanout`` puts seeds other than a grid's first in ``seeds/PROFILE/seed-S``.

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
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK", "0") != "0":
        # a torchrun worker other than rank 0 (`torchrun --nproc_per_node=N sercore run ...`): its kernel
        # trains its share of each epoch (sercore.distributed); only rank 0's results are kept
        import tempfile
        results_root = Path(tempfile.mkdtemp(prefix=f"sercore-rank{os.environ['RANK']}-"))
    final = results_root / paper / dataset / (run_dir or profile)
    stage = final.with_name(f".{final.name}.running-{os.getpid()}")
    failed = final.with_name(f"{final.name}.failed")
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
    mpl_before = os.environ.pop("MPLBACKEND", None)   # a non-inline backend would leave the pages without figures
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
        if mpl_before is not None:
            os.environ["MPLBACKEND"] = mpl_before
    # the executed notebook should name where its results ended up, not the staging folder
    out_nb.write_text(out_nb.read_text().replace(str(stage), str(final)))
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
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
    out.append(stage_benchmarks(gen, root, results_root))
    return out


def stage_benchmarks(gen: Path, root: Path, results_root: Path) -> Path:
    """``book/_generated/benchmarks.md`` from ``results/benchmarks/benchmarks.json`` (written by
    ``benchmarks/run``), or a page saying how to produce it when no benchmark has run."""
    page = gen / "benchmarks.md"
    src = results_root / "benchmarks" / "benchmarks.json"
    if src.exists():
        import importlib.util
        import json

        spec = importlib.util.spec_from_file_location("bench_page", root / "benchmarks" / "bench_page.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.write_page(json.loads(src.read_text()), page, src)
    page.write_text("# Benchmarks: speed, memory, cache and scale\n\n"
                    "No benchmark has been run for this build, so this page has no numbers. Run\n\n"
                    "```bash\nbenchmarks/run            # CPU, or --device cuda on a GPU machine\n```\n\n"
                    "then `sercore book` again: it renders `results/benchmarks/benchmarks.json` here "
                    "(training and inference throughput per model, peak memory, feature extraction and the "
                    "cache, the CTMAM reference point, `make book` wall time).\n")
    return page


def _stage_notebook(src: Path, dest: Path, subtitle: str | None) -> None:
    """Copy an executed notebook; with ``subtitle``, its first heading becomes ``# <title>: <subtitle>``
    so each dataset's page has its own name in the book's navigation."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    injected = any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags and injected:
            tags.append("remove-cell")        # the notebook's defaults; the values that ran follow
        elif "injected-parameters" in tags:
            tags.append("hide-input")         # collapsed on the page; every value is also in the provenance panel
    if subtitle:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source.startswith("# "):
                first, _, rest = cell.source.partition("\n")
                short = first[2:].split(":")[0].strip()
                cell.source = f"# {short} on {subtitle}\n\n*{first[2:].strip()}*\n{rest}"
                break
    nbformat.write(nb, dest)


def filtered_toc(root: Path) -> Path:
    """``_toc.yml`` without the entries that have nothing to show in this build (a chapter whose every
    run failed, a study no corpus was found for), written to ``_build/_toc.yml``.

    An entry with no page would be a warning, and the build treats warnings as errors: one failed
    chapter would otherwise take the whole book down. What was left out is printed.
    """
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    dropped: list[str] = []

    def exists(entry: dict) -> bool:
        if "file" in entry:
            f = root / entry["file"]
            return any(f.with_suffix(ext).exists() for ext in (".md", ".ipynb")) or f.exists()
        if "glob" in entry:
            return any(root.glob(entry["glob"] + ".ipynb")) or any(root.glob(entry["glob"] + ".md"))
        return True

    def keep(entries: list) -> list:
        out = []
        for e in entries:
            if "sections" in e:
                e = {**e, "sections": keep(e["sections"])}
                if not e["sections"]:
                    e.pop("sections")
                    if e.get("file", "").startswith("book/chapters/"):
                        dropped.append(e["file"] + " (no executed page)")
                        continue
            if exists(e):
                out.append(e)
            else:
                dropped.append(e.get("file") or e.get("glob"))
        return out

    for part in toc.get("parts", []):
        part["chapters"] = keep(part["chapters"])
    toc["parts"] = [p for p in toc.get("parts", []) if p["chapters"]]
    if dropped:
        print("left out of this build (nothing to show): " + ", ".join(dropped), flush=True)
    out = root / "_build" / "_toc.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(toc, sort_keys=False))
    return out


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
    toc = filtered_toc(root)
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "--toc", str(toc),
           "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root)
    if proc.returncode != 0:
        raise SystemExit(f"jupyter-book build failed (exit {proc.returncode}); see the warnings above")
    index = root / "_build" / "html" / "index.html"
    print(f"book built in {time.time() - t_start:.0f} s: {index}")
    if failures:
        raise SystemExit(f"{len(failures)} notebook(s) failed; the book shows their previous results")
    return index


# ----------------------------------------------------------------------------- predict

def _predict_cmd(args) -> int:
    """``sercore predict FILE... --checkpoint DIR [--json] [--embedding]``."""
    import json

    from .features import AudioLoadError
    from .predict import predict

    try:
        preds = predict(args.files, checkpoint=args.checkpoint, return_embedding=args.embedding)
    except (AudioLoadError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json or args.embedding:
        print(json.dumps(preds, indent=2))
        return 0
    labels = list(preds[0]["probabilities"])
    print("  ".join([f"{'file':<40}", f"{'label':<10}", *(f"{lab[:8]:>8}" for lab in labels)]))
    for p in preds:
        print("  ".join([f"{p['path'][-40:]:<40}", f"{p['label']:<10}",
                         *(f"{p['probabilities'][lab]:>8.3f}" for lab in labels)]))
    return 0


# ----------------------------------------------------------------------------- fan-out

def _fanout_cmd(args) -> int:
    """``sercore fanout PAPER... [--datasets D...] [--profiles P...] [--seeds S...] [--executor ...]``."""
    from . import fanout

    try:
        jobs = fanout.grid(args.papers, args.datasets, args.profiles, args.seeds, data_root=args.data_root)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    params = {k: v for k, v in {"timeout_min": args.timeout_min, "slurm_partition": args.partition,
                                "gpus_per_node": args.gpus_per_node, "cpus_per_task": args.cpus_per_task,
                                "mem_gb": args.mem_gb}.items() if v is not None}
    if args.executor != "slurm":
        params.pop("slurm_partition", None)
    print(f"{len(jobs)} run(s) with the {args.executor} executor: " + ", ".join(j.name for j in jobs), flush=True)
    rep = fanout.fan_out(jobs, args.executor, max_parallel=args.max_parallel, data_root=args.data_root,
                         progress=sys.stderr.isatty(), **params)
    for e in rep.entries:
        print(f"  {e['name']}: {e['state']} -> {e['results']}" + (f"\n    {e['error']}" if "error" in e else ""))
    for row in rep.seed_summary():
        if row["seeds"] > 1:
            print(f"  {row['paper']}/{row['dataset']}/{row['profile']} over {row['seeds']} seeds: "
                  + ", ".join(f"{k} {row[k]:.1f} ± {row[k + '_std']:.1f}" for k in ("wa", "ua") if k in row))
    print(f"submitit folder and jobs.json: {rep.folder}")
    return 1 if rep.failed else 0


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
    df = dsub.add_parser("fetch", help="download a public corpus into the data root (licensed ones: "
                                       "print how to obtain them)")
    df.add_argument("name", help="emodb, emovo, urdu, meld, meld-text; licensed: iemocap, iemocap_text, "
                                 "msp_improv, mosei")
    df.add_argument("--data-root", default=None, help="folder with one sub-folder per corpus (default $SERCORE_DATA)")
    df.add_argument("--force", action="store_true", help="download again and replace the corpus folder")
    df.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives in .downloads/")

    pr = sub.add_parser("predict", help="emotion of audio files with a trained checkpoint (CA-SER demo tool)")
    pr.add_argument("files", nargs="+", help="audio files (any sample rate, mono or stereo)")
    pr.add_argument("--checkpoint", required=True, help="folder written by sercore.predict.save_checkpoint")
    pr.add_argument("--json", action="store_true", help="print JSON (one object per file) instead of a table")
    pr.add_argument("--embedding", action="store_true", help="include the utterance representation (JSON)")

    fo = sub.add_parser("fanout", help="run a (paper, dataset, profile, seed) grid with submitit "
                                       "(local processes, or SLURM)")
    fo.add_argument("papers", nargs="+", choices=(*PAPERS, *STUDIES))
    fo.add_argument("--datasets", nargs="+", default=None,
                    help="default: every params/PAPER/*.yaml whose corpus is found (as sercore book --run)")
    fo.add_argument("--profiles", nargs="+", default=["quick"], choices=PROFILES)
    fo.add_argument("--seeds", nargs="+", type=int, default=[0],
                    help="the first writes results/PAPER/DATASET/PROFILE (the book's run), "
                         "the others results/PAPER/DATASET/seeds/PROFILE/seed-S")
    fo.add_argument("--executor", default="local", choices=("local", "debug", "slurm"))
    fo.add_argument("--max-parallel", type=int, default=1, help="jobs running at once (SLURM: array parallelism)")
    fo.add_argument("--data-root", default=None)
    fo.add_argument("--timeout-min", type=int, default=None, help="per-job time limit in minutes")
    fo.add_argument("--partition", default=None, help="SLURM partition")
    fo.add_argument("--gpus-per-node", type=int, default=None)
    fo.add_argument("--cpus-per-task", type=int, default=None)
    fo.add_argument("--mem-gb", type=int, default=None)

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
    if args.cmd == "data" and args.data_cmd == "fetch":
        from .data import fetch as fetch_mod
        try:
            fetch_mod.fetch(args.name, args.data_root, force=args.force, keep_archives=args.keep_archives)
        except fetch_mod.LicensedCorpusError as e:
            print(e, file=sys.stderr)
            return 3
        except fetch_mod.FetchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if args.cmd == "data":
        print(data_list(args.data_root))
        return 0
    if args.cmd == "predict":
        return _predict_cmd(args)
    if args.cmd == "fanout":
        return _fanout_cmd(args)
    if args.cmd == "book":
        build_book(args.run, args.profile, args.data_root, args.reuse)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
