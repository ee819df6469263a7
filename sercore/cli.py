"""The ``sercore`` command line.

    sercore run PAPER --dataset NAME [--profile smoke|quick|paper] [--data-root DIR] [--seed N] [--skip-bad]
                [--set KEY=VALUE ...] [--in-process] [--fold-worker]
    sercore params PAPER --dataset NAME [--profile ...]     (the resolved parameters, as YAML)
    sercore data list [--data-root DIR]
    sercore data fetch NAME [--data-root DIR] [--force]
    sercore data fixtures DIR [--corpora NAME...] [--seed N]   (small copies of every corpus, official layouts)
    sercore data manifest DIR [--pattern REGEX | --preset NAME] [--map CODE=EMOTION ...] [--language xx]
                                         (a manifest corpus from a folder whose names hold the labels)
    sercore book [--run] [--profile quick] [--data-root DIR] [--force] [--jobs N] [--synthetic] [--kernel]
                 [--all-boards]
                                         (reuses runs whose run key is unchanged)
    sercore status [--results DIR]                          (runs in progress, last progress line)
    sercore fanout PAPER... [--datasets D...] [--profiles P...] [--seeds S...] [--executor local|debug|slurm]
    sercore predict FILE... --checkpoint DIR [--json] [--embedding]

This module only parses arguments and reports; the work is in :mod:`sercore.runs` (parameters,
one run), :mod:`sercore.book` (the book), :mod:`sercore.fanout`, :mod:`sercore.predict` and
:mod:`sercore.data`. Bad arguments and bad parameters (unknown key, wrong type, out of range, YAML
syntax, a file that is not a mapping, a name that is not in the registry, a seed below 0, a folder
that does not exist) print one line naming the file, key or flag and exit with code 2, before anything
is written. Every other failure (a damaged file, a run that failed, a full or read-only disk) is one
error line too, exit code 1: no traceback reaches a user (``SERCORE_TRACEBACK=1`` shows one).
"""
from __future__ import annotations

import argparse
import os
import sys

from . import runs
from .runs import MAX_SEED
from .schemas import ParamsError
from .schemas.common import PROFILES


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``sercore run: error: argument --seed: ...``), exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_SEED}, got {text!r}") from None
    if not 0 <= n <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_SEED}, got {text!r}")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if not 1 <= n <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {2**31 - 1}, got {text!r}")
    return n


def _folder(text: str) -> str:
    """An existing folder (``--data-root``, ``--results``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty string")
    path = os.path.expanduser(text)
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text}: not a folder")
    return text

# ----------------------------------------------------------------------------- predict

def _predict_cmd(args) -> int:
    """``sercore predict FILE... --checkpoint DIR [--json] [--embedding]``."""
    import json

    from .features import AudioLoadError
    from .predict import predict

    try:
        preds = predict(args.files, checkpoint=args.checkpoint, return_embedding=args.embedding)
    except (AudioLoadError, FileNotFoundError, ValueError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 1
    if args.json or args.embedding:
        print(json.dumps(preds, indent=2, allow_nan=False))
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
    except ParamsError:
        raise
    except ValueError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
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
    RUNNABLE = runs.RUNNABLE          # the declared papers and studies (sercore.registry)
    ap = _Parser(prog="sercore", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="execute one paper notebook on one dataset")
    r.add_argument("paper", choices=RUNNABLE)
    r.add_argument("--dataset", required=True, help="a params/PAPER/NAME.yaml name (e.g. synthetic, emodb) or a "
                                                    "manifest corpus under the data root (sercore data list)")
    r.add_argument("--profile", default="smoke", choices=PROFILES)
    r.add_argument("--data-root", default=None, type=_folder,
                   help="folder with one sub-folder per corpus (default $SERCORE_DATA)")
    r.add_argument("--seed", type=_seed, default=0,
                   help="0 writes results/PAPER/DATASET/PROFILE (the book's run); another seed writes "
                        "results/PAPER/DATASET/seeds/PROFILE/seed-S")
    r.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable or invalid corpus files (counted and reported) instead of stopping")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter after the profile (VALUE read as YAML: 2, null, [a, b], "
                        "a/folder); repeatable, validated like the params file")
    r.add_argument("--in-process", action="store_true",
                   help="execute the notebook's cells in this Python process instead of a fresh Jupyter kernel "
                        "(no kernel start-up: for many small runs; the results and executed notebook are written "
                        "the same way)")
    r.add_argument("--fold-worker", action="store_true",
                   help="help a run of the same paper, dataset, profile and seed that checkpoints (checkpoint: "
                        "true): train the folds it has not started, sharing its checkpoints, so two processes "
                        "finish a cross-validation in about half the time. Start it beside that run, on the "
                        "other core; its own copy of the results goes to a temporary folder")

    pa = sub.add_parser("params", help="print a run's resolved, validated parameters as YAML (for papermill -f)")
    pa.add_argument("paper", choices=RUNNABLE)
    pa.add_argument("--dataset", required=True, help="a params/PAPER/NAME.yaml name or a manifest corpus")
    pa.add_argument("--profile", default="smoke", choices=PROFILES)
    pa.add_argument("--seed", type=_seed, default=0)
    pa.add_argument("--data-root", default=None, type=_folder)

    d = sub.add_parser("data", help="corpora")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    dl = dsub.add_parser("list", help="every corpus: found or not, utterances, labels")
    dl.add_argument("--data-root", default=None, type=_folder)
    df = dsub.add_parser("fetch", help="download a public corpus into the data root (licensed ones: "
                                       "print how to obtain them)")
    df.add_argument("name", help="a corpus name (an unknown one prints the names this command knows)")
    df.add_argument("--data-root", default=None, help="folder with one sub-folder per corpus (default $SERCORE_DATA)")
    df.add_argument("--force", action="store_true", help="download again and replace the corpus folder")
    df.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives in .downloads/")
    dfx = dsub.add_parser("fixtures", help="write a small copy of every corpus in its official layout "
                                           "(synthetic speech, real media) into DIR")
    dfx.add_argument("dir", help="data root to fill (one sub-folder per corpus); SERCORE_DATA=DIR then finds them")
    dfx.add_argument("--corpora", nargs="+", default=None,
                     help="corpus names (default: every corpus that declares a fixture; sercore data list names them)")
    dfx.add_argument("--seed", type=_seed, default=0)
    dm = dsub.add_parser("manifest", help="write DIR/manifest.csv (a manifest corpus) from a folder whose file or "
                                          "folder names hold the labels")
    dm.add_argument("dir", help="the corpus folder (put it under the data root; its name is the corpus's)")
    how = dm.add_mutually_exclusive_group()
    how.add_argument("--pattern", default=None,
                     help="regex searched in each audio file's path relative to DIR, with named groups label "
                          "(required), speaker, session, split, language, gender; default: DIR/<label>/...")
    how.add_argument("--preset", default=None, help="a public corpus's naming: ravdess, crema_d, tess, savee, shemo")
    dm.add_argument("--map", dest="maps", action="append", default=[], metavar="CODE=EMOTION",
                    help="map a label onto the book's emotion names (or drop it); written to DIR/corpus.yaml")
    dm.add_argument("--language", default=None, help="ISO 639 code of the corpus's language (corpus.yaml)")
    dm.add_argument("--force", action="store_true", help="write manifest.csv again if it exists")

    pr = sub.add_parser("predict", help="emotion of audio files with a trained checkpoint (CA-SER demo tool)")
    pr.add_argument("files", nargs="+", help="audio files (any sample rate, mono or stereo)")
    pr.add_argument("--checkpoint", required=True, help="folder written by sercore.predict.save_checkpoint")
    pr.add_argument("--json", action="store_true", help="print JSON (one object per file) instead of a table")
    pr.add_argument("--embedding", action="store_true", help="include the utterance representation (JSON)")

    fo = sub.add_parser("fanout", help="run a (paper, dataset, profile, seed) grid with submitit "
                                       "(local processes, or SLURM)")
    fo.add_argument("papers", nargs="+", choices=RUNNABLE)
    fo.add_argument("--datasets", nargs="+", default=None,
                    help="default: every params/PAPER/*.yaml whose corpus is found (as sercore book --run)")
    fo.add_argument("--profiles", nargs="+", default=["quick"], choices=PROFILES)
    fo.add_argument("--seeds", nargs="+", type=_seed, default=[0],
                    help="the first writes results/PAPER/DATASET/PROFILE (the book's run), "
                         "the others results/PAPER/DATASET/seeds/PROFILE/seed-S")
    fo.add_argument("--executor", default="local", choices=("local", "debug", "slurm"))
    fo.add_argument("--max-parallel", type=_positive, default=1,
                    help="jobs running at once (SLURM: array parallelism)")
    fo.add_argument("--data-root", default=None, type=_folder)
    fo.add_argument("--timeout-min", type=_positive, default=None, help="per-job time limit in minutes")
    fo.add_argument("--partition", default=None, help="SLURM partition")
    fo.add_argument("--gpus-per-node", type=_positive, default=None)
    fo.add_argument("--cpus-per-task", type=_positive, default=None)
    fo.add_argument("--mem-gb", type=_positive, default=None)

    st = sub.add_parser("status", help="runs in progress (live lock files under results/) and their last "
                                       "progress line")
    st.add_argument("--results", default=None, type=_folder,
                    help="results tree to look in (default $SERCORE_RESULTS or results/)")

    rs = sub.add_parser("results", help="what results/ holds")
    rsub = rs.add_subparsers(dest="results_cmd", required=True)
    rx = rsub.add_parser("export", help="one tidy CSV/Parquet of every run and comparison row (headline metrics "
                                        "with their 95%% intervals, per-fold metrics, reported vs measured)")
    rx.add_argument("path", help="output file, .csv or .parquet (Parquet needs pyarrow)")
    rx.add_argument("--results", default=None, type=_folder,
                    help="results tree to read (default $SERCORE_RESULTS or results/)")
    rx.add_argument("--skip-invalid", action="store_true",
                    help="leave out runs whose metrics.json is invalid (listed and counted) instead of stopping")

    b = sub.add_parser("book", help="build the HTML book from results/")
    b.add_argument("--run", action="store_true", help="first run every (paper, dataset) whose corpus is found")
    b.add_argument("--profile", default="quick", choices=PROFILES)
    b.add_argument("--force", action="store_true",
                   help="execute every notebook again (default: reuse a run whose run key -- parameters, seed, "
                        "corpus files, code, the records its page shows -- is unchanged)")
    b.add_argument("--data-root", default=None, type=_folder)
    b.add_argument("--jobs", type=_positive, default=None,
                   help="notebooks run at once (default: 2 on two cores or more, else 1); each kernel gets "
                        "its share of the cores")
    b.add_argument("--synthetic", action="store_true",
                   help="also run each chapter on the synthetic corpus where a real corpus of it is found "
                        "(default: the synthetic corpus stands in only for a chapter with no real corpus)")
    b.add_argument("--all-boards", action="store_true",
                   help="also run the quick leaderboard of a corpus whose reference board is published on the same "
                        "corpus files (default: the book shows the published board instead)")
    b.add_argument("--kernel", action="store_true",
                   help="execute each notebook in a fresh Jupyter kernel (default: each of the --jobs worker "
                        "processes executes its notebooks in process, without a kernel's start-up)")

    args = ap.parse_args(argv)
    try:
        problem = _check_args(args)
        if problem:
            print(f"sercore {args.cmd}: error: {problem}", file=sys.stderr)
            return 2
        return _dispatch(args)
    except ParamsError as e:          # bad parameters: one line, exit 2, nothing written
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:            # noqa: BLE001 - every failure is one line for people
        if os.environ.get("SERCORE_TRACEBACK"):
            raise
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 1


def _one_line(e: BaseException) -> str:
    """The message of ``e`` for people: an ``OSError`` as ``FILE: what went wrong``; an error of
    sercore's own as its message; anything else with its type (and how to see the traceback)."""
    from .data.errors import CorpusNotFoundError

    if isinstance(e, OSError) and not isinstance(e, CorpusNotFoundError) and e.strerror:
        where = e.filename or ""
        return f"{where}: {e.strerror}" if where else e.strerror
    if isinstance(e, (ValueError, RuntimeError, FileNotFoundError, OSError)) and str(e):
        return str(e)
    return f"{type(e).__name__}: {e} (set SERCORE_TRACEBACK=1 to see where)"


def _check_args(args) -> str | None:
    """What is wrong with arguments argparse cannot judge alone (before any work), or None."""
    if args.cmd == "results" and args.results_cmd == "export":
        from pathlib import Path
        out = Path(args.path)
        if out.suffix not in (".csv", ".parquet"):
            return f"{args.path}: the output must end in .csv or .parquet"
        if out.is_dir():
            return f"{args.path}: is a folder; give a file name ending in .csv or .parquet"
        if not out.parent.is_dir():
            return f"{args.path}: its folder {out.parent} does not exist"
    if args.cmd == "predict":
        from pathlib import Path
        ck = Path(args.checkpoint)
        if not ck.is_dir():
            return f"--checkpoint {args.checkpoint}: {'not a folder' if ck.exists() else 'no such folder'}"
        for f in args.files:
            if not Path(f).exists():
                return f"{f}: no such audio file"
            if not Path(f).is_file():
                return f"{f}: not a file; predict takes audio files"
    if args.cmd == "data" and args.data_cmd == "fixtures":
        from pathlib import Path
        if Path(args.dir).exists() and not Path(args.dir).is_dir():
            return f"{args.dir}: not a folder"
    return None


def _fold_worker_setup(args):
    """``sercore run --fold-worker``: check the run checkpoints (folds are shared through its checkpoint
    tree, :func:`sercore.train.cross_validate`), point this process's checkpoints at the shared tree
    (``SERCORE_CHECKPOINTS``) and return a temporary results root for the worker's own copy; or an exit code
    after printing why not."""
    import tempfile

    from .paths import checkpoints_dir, project_root
    from .runs import parse_overrides, run_params

    P = run_params(args.paper, args.dataset, args.profile, args.seed, args.skip_bad,
                   parse_overrides(args.overrides), project_root(), args.data_root)
    if not P.get("checkpoint"):
        print(f"error: --fold-worker shares folds through checkpoints, and {args.paper}/{args.dataset} on the "
              f"{args.profile} profile does not checkpoint (its params have checkpoint: "
              f"{P.get('checkpoint', 'not a parameter')}); add --set checkpoint=true to both runs",
              file=sys.stderr)
        return 2
    os.environ["SERCORE_CHECKPOINTS"] = str(checkpoints_dir().resolve())
    return tempfile.mkdtemp(prefix=f"sercore-fold-worker-{args.paper}-{args.dataset}-")


def _dispatch(args) -> int:
    if args.cmd == "run":
        from .features.hub import CheckpointUnavailableError
        from .runs import parse_overrides, run_notebook
        results_root = None
        if args.fold_worker:
            results_root = _fold_worker_setup(args)
            if isinstance(results_root, int):
                return results_root
        try:
            out = run_notebook(args.paper, args.dataset, args.profile, args.data_root, args.seed,
                               progress=sys.stderr.isatty(), skip_bad=args.skip_bad,
                               overrides=parse_overrides(args.overrides), in_process=args.in_process,
                               **({"results_root": results_root} if results_root else {}))
        except CheckpointUnavailableError as e:     # found before anything ran
            print(f"error: {e}", file=sys.stderr)
            return 2
        except (RuntimeError, FileNotFoundError) as e:
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return 1
        if args.fold_worker:
            from .paths import results_dir
            print(f"fold worker finished: the run it helped writes its results under "
                  f"{results_dir() / args.paper / args.dataset}; this worker's own copy (the same folds, the same "
                  f"numbers) is {out / 'metrics.json'}")
            return 0
        print(f"wrote {out / 'metrics.json'} and {out / (args.paper + '.ipynb')}")
        return 0
    if args.cmd == "params":
        import yaml

        from .data import data_root
        from .runs import check_numbers, datasets_with_params, resolve
        P = resolve(args.paper, args.dataset, args.profile, {"seed": args.seed, "data_root": args.data_root})
        check_numbers(P, f"params/{args.paper}/{args.dataset}.yaml ({args.profile})")
        where = "--data-root" if args.data_root else ("SERCORE_DATA" if os.environ.get("SERCORE_DATA") else
                                                       "the default ./data")
        print(f"# data root of this run: {data_root(args.data_root)} (from {where})")
        if P["dataset"] not in datasets_with_params(args.paper):           # a manifest corpus
            from .data.manifest_corpus import run_values
            print(f"# a manifest corpus: {run_values(args.dataset, args.data_root)[0]}")
        print(yaml.safe_dump(dict(P), sort_keys=False), end="")
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
    if args.cmd == "data" and args.data_cmd == "manifest":
        from .data import manifest_scan
        try:
            print(manifest_scan.report(manifest_scan.write_manifest(
                args.dir, pattern=args.pattern, preset=args.preset, maps=args.maps, language=args.language,
                force=args.force)))
        except ValueError as e:
            print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
            return 2
        return 0
    if args.cmd == "data" and args.data_cmd == "fixtures":
        from .data import fixtures
        try:
            print(fixtures.report(fixtures.write_fixtures(args.dir, args.corpora, seed=args.seed)))
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.cmd == "data":
        from .data import listing
        print(listing(args.data_root))
        return 0
    if args.cmd == "predict":
        return _predict_cmd(args)
    if args.cmd == "fanout":
        return _fanout_cmd(args)
    if args.cmd == "status":
        from .paths import results_dir
        from .runlog import status_text
        print(status_text(args.results or results_dir()))
        return 0
    if args.cmd == "results" and args.results_cmd == "export":
        from .results import export
        try:
            path, df, skipped = export(args.path, args.results, skip_invalid=args.skip_invalid)
        except (ValueError, RuntimeError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"{path}: {len(df)} rows ({', '.join(f'{k} {v}' for k, v in df['kind'].value_counts().items())}) "
              f"from {df['source'].nunique()} run(s)")
        if skipped:
            print(f"left out {len(skipped)} invalid run(s):\n" + "\n".join(skipped), file=sys.stderr)
        return 0
    if args.cmd == "book":
        from .book import build_book
        build_book(args.run, args.profile, args.data_root, reuse=not args.force, jobs=args.jobs,
                   synthetic=args.synthetic, kernel=args.kernel, all_boards=args.all_boards)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
