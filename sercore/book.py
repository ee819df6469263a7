"""The book: stage the executed notebooks of ``results/`` into ``book/_generated/``, filter the
table of contents to the pages that exist, render the benchmarks page, and build with Jupyter Book.

``build_book(run=True)`` first runs every (paper, dataset) whose corpus is found
(:func:`sercore.runs.plan_runs`), then the data chapter and the scoreboard; after staging it executes
the reproduction summary (``book/summary.ipynb``, :func:`execute_summary`). Staging also writes each
paper's summary rows (``_generated/summary/<paper>.md``, included by its chapter page) and the page of
published runs (``_generated/published_runs.md``).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import PAPERS
from .paths import limit_threads, project_root, results_dir
from .runs import SPECIAL, STUDIES, plan_runs, remove_dead_staging, reusable_run, run_notebook
from .schemas.common import PROFILES

#: which profile a page shows when several ran: the most complete (reference, paper, quick, smoke)
PROFILE_RANK = {p: i for i, p in enumerate(reversed(PROFILES))}


def stage_book(root: Path | None = None, results_root: Path | None = None) -> list[Path]:
    """Copy the best executed notebook of each (paper, dataset) into ``book/_generated/``.

    "Best" is the most complete profile present (reference > paper > quick > smoke). Published runs
    (``records/``, :func:`stage_published`) get a page of their own, labelled as such,
    where ``results/`` holds no fresher run of the same (paper, dataset, profile). Only finished runs are
    staged: a folder named after a profile (``book`` for the data chapter and the scoreboard) that
    holds its notebook and, for a paper, its ``metrics.json``. Staging and swap folders of killed
    runs are removed first and never staged. Each paper's summary rows (:func:`stage_summary_fragments`)
    and the page of published runs (:func:`stage_published_runs`) are written too.
    """
    root = root or project_root()
    results_root = results_root or results_dir()
    for d in remove_dead_staging(results_root):
        print(f"removed {d} (left by a run that was killed)", flush=True)
    gen = root / "book" / "_generated"
    shutil.rmtree(gen, ignore_errors=True)
    gen.mkdir(parents=True)
    out = []
    for paper in (*PAPERS, *STUDIES, *SPECIAL):
        by_ds: dict[str, Path] = {}
        for nb in sorted((results_root / paper).glob(f"*/*/{paper}.ipynb")):
            ds, prof = nb.parent.parent.name, nb.parent.name
            if paper in SPECIAL and prof != "book":
                continue
            if paper not in SPECIAL and (prof not in PROFILE_RANK or not (nb.parent / "metrics.json").exists()):
                continue
            rank = PROFILE_RANK.get
            if ds not in by_ds or rank(prof, 9) < rank(by_ds[ds].parent.name, 9):
                by_ds[ds] = nb
        for ds, nb in sorted(by_ds.items()):
            dest = gen / paper / f"{ds}.ipynb" if paper not in SPECIAL else gen / f"{paper}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            _stage_notebook(nb, dest, None if paper in SPECIAL else f"{ds} ({nb.parent.name} profile)")
            out.append(dest)
    published = stage_published(gen, results_root, root=root)  # records/ where results/ has no fresher run
    for page in published:
        print(f"staged the published run {page.relative_to(gen)} (from records/)", flush=True)
    out += published
    out.append(stage_benchmarks(gen, root, results_root))
    # always written (not counted as staged pages): each chapter page includes its fragment
    stage_summary_fragments(gen, root, results_root)
    stage_published_runs(gen, root)
    return out


def stage_summary_fragments(gen: Path, root: Path, results_root: Path) -> list[Path]:
    """``gen/summary/<paper>.md`` for every paper: its headline claims and what we measured
    (:func:`sercore.reproduction.fragment`), which each chapter's landing page includes at its top. A
    paper with no run gets a sentence saying so, never an empty file."""
    from . import reproduction
    from .records import records_dir

    rows = reproduction.summary_rows(results_root, records_dir(root))
    return reproduction.write_fragments(gen / "summary", rows, PAPERS)


def stage_published_runs(gen: Path, root: Path) -> Path:
    """``gen/published_runs.md``: every record under ``records/`` with the command that makes it again,
    its commit, device and wall time (:func:`sercore.records.published_runs_page`)."""
    from .records import published_runs_page, records_dir

    page = gen / "published_runs.md"
    page.write_text(published_runs_page(records_dir(root)))
    return page


def execute_summary(root: Path, results_root: Path) -> Path:
    """Execute ``book/summary.ipynb`` (the reproduction summary, read from ``results/`` and ``records/``)
    into ``book/_generated/summary.ipynb``, after :func:`stage_book`. A failure stops the build: the
    book's first page must not be missing or stale."""
    from .runs.execute import _papermill

    src = root / "book" / "summary.ipynb"
    dest = root / "book" / "_generated" / "summary.ipynb"
    _papermill(src, dest, {"results_root": str(results_root)}, root / "book", False, in_process=True)
    _stage_notebook(dest, dest, None)
    return dest


def published_pages(gen: Path, results_root: Path | None = None, records_root: Path | None = None,
                    root: Path | None = None) -> list[tuple[tuple[str, str, str], list[dict], Path]]:
    """The published cells the book shows, each with its records and its page
    ``gen/<paper>/<dataset>-<profile>-published.ipynb``: every cell of ``records/`` unless ``results/``
    has a fresher run of it (:func:`sercore.records.fresher_result`; that run is staged instead)."""
    from .records import fresher_result, published_cells, records_dir

    return [(cell, items, gen / cell[0] / f"{cell[1]}-{cell[2]}-published.ipynb")
            for cell, items in sorted(published_cells(records_root or records_dir(root)).items())
            if fresher_result(cell, items, results_root) is None]


def _render_published(code: Path, dest: Path, params: dict) -> None:
    """Execute ``code/published.ipynb`` into ``dest`` for one published cell (``params``: paper, dataset,
    profile, records_root); a failure is a RuntimeError naming the cell and the page."""
    from .runs.execute import _papermill

    try:
        _papermill(code / "published.ipynb", dest, params, code, False, in_process=True)
    except Exception as e:       # noqa: BLE001 - papermill raises its own kinds; the cause is named
        cell = f"{params['paper']}/{params['dataset']}/{params['profile']}"
        raise RuntimeError(f"the published page of {cell} failed to render ({type(e).__name__}: "
                           f"{str(e).strip()[:2000]}); see {dest}") from None


def stage_published(gen: Path, results_root: Path | None = None, records_root: Path | None = None,
                    root: Path | None = None, jobs: int | None = None) -> list[Path]:
    """Render one page per published cell (:func:`published_pages`): this checkout's
    ``book/published.ipynb`` executed with papermill for the cell (:mod:`sercore.record_page`: the page is
    made from the records' data by this build's code, never copied from a record's notebook), titled
    ``<PAPER> on <dataset> (<profile> profile, published run)``, with the published banner and links to
    each seed's executed notebook, the record's artifact (:func:`sercore.record_page.heading`). The pages are rendered again by every build, so a
    changed record or display code always reaches them; ``jobs`` pages at a time (default
    :func:`default_jobs`). A page that fails to render stops the build. Returns the pages."""
    import nbformat

    from . import record_page
    from .records import records_dir

    root = root or project_root()
    records_root = Path(records_root or records_dir(root)).resolve()
    # the page's kernel reads records/ of the project unless told otherwise (no path of this machine is passed)
    rr = None if records_root == records_dir().resolve() else str(records_root)
    code = project_root() / "book"          # the page's notebook and the chapters' titles: this checkout's code
    pages = published_pages(gen, results_root, records_root, root)
    for *_, dest in pages:
        dest.parent.mkdir(parents=True, exist_ok=True)
    # the pages' kernels run side by side, as the chapters' do (each page only reads records: no training)
    got = run_parallel(_render_published, [(code, dest, {"paper": c[0], "dataset": c[1], "profile": c[2],
                                                         "records_root": rr}) for c, _, dest in pages],
                       default_jobs() if jobs is None else max(1, int(jobs)))
    failed = next((e for e in got if isinstance(e, Exception)), None)
    if failed is not None:
        raise failed
    out = []
    for (paper, dataset, profile), items, dest in pages:
        _stage_notebook(dest, dest, None)
        nb = nbformat.read(dest, as_version=4)
        # the cell's name is the title and the banner's; the parameter cells are not shown
        nb.cells = [c for c in nb.cells if not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
        first = next(c for c in nb.cells if c.cell_type == "markdown")      # the notebook's own title
        first.source = record_page.heading(items, dest.parent)
        nbformat.write(nb, dest)
        out.append(dest)
    return out


def stage_benchmarks(gen: Path, root: Path, results_root: Path) -> Path:
    """``book/_generated/benchmarks.md`` from ``results/benchmarks/benchmarks.json`` (written by
    ``benchmarks/run``), or a page saying how to produce it when no benchmark has run."""
    page = gen / "benchmarks.md"
    src = results_root / "benchmarks" / "benchmarks.json"
    if src.exists():
        import json

        from .bench_page import write_page

        return write_page(json.loads(src.read_text()), page, src)
    page.write_text("# Benchmarks: speed, memory, cache and scale\n\n"
                    "`results/benchmarks/benchmarks.json` does not exist, so this page has no numbers. Run\n\n"
                    "```bash\nbenchmarks/run            # CPU, or --device cuda on a GPU machine\n```\n\n"
                    "then `sercore book` again: it renders `results/benchmarks/benchmarks.json` here "
                    "(training and inference throughput per model, peak memory, feature extraction and the "
                    "cache, the CTMAM reference point, `make book` wall time).\n")
    return page


def _empty_markdown(output: dict) -> bool:
    """``display(Markdown(""))``: the page would render its ``text/plain`` repr
    (``<IPython.core.display.Markdown object>``) in place of nothing."""
    data = output.get("data") or {}
    return (output.get("output_type") == "display_data" and "text/markdown" in data
            and not str(data["text/markdown"]).strip())


SHOWN_INPUT_TAGS = ("hide-input", "hide-cell", "remove-input", "remove-cell", "parameters")
"""A code cell tagged with one of these keeps its own handling when staged; every other code cell's
input is folded (``hide-input``): the page shows what the code displays, the code one click away."""


def _stage_notebook(src: Path, dest: Path, subtitle: str | None) -> None:
    """Copy an executed notebook; every code cell's input is folded unless a tag says otherwise
    (:data:`SHOWN_INPUT_TAGS`); with ``subtitle``, its first heading becomes ``# <title>: <subtitle>``
    so each dataset's page has its own name in the book's navigation. Outputs of an empty Markdown
    display are dropped from the copy (published records' notebooks made before ``gap_text`` always
    returned text hold one)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    injected = any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":                # an empty Markdown shows nothing, not its Python repr
            cell.outputs = [o for o in cell.get("outputs", []) if not _empty_markdown(o)]
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags and injected:
            tags.append("remove-cell")        # the notebook's defaults; the values that ran follow
        elif "injected-parameters" in tags:
            tags.append("remove-cell")        # paths of the build machine; every other value is in the provenance panel
        elif cell.cell_type == "code" and not any(t in tags for t in SHOWN_INPUT_TAGS):
            tags.append("hide-input")         # glue that only displays: folded, its output shown
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


def _run_or_reuse(paper: str, ds: str, profile: str, data_root: str | None, root: Path, reuse: bool,
                  workers: int = 1, in_process: bool = False) -> str:
    """Reuse the run in ``results/`` when its run key matches (:func:`sercore.runs.reusable_run`), else
    run it (its kernel, or with ``in_process`` this process, takes its share of the cores for ``workers``
    runs at once); prints one line, ``reused`` or ``ran`` (with what changed), and returns which."""
    t0 = time.time()
    name = paper if paper in SPECIAL else f"{paper}/{ds}"
    hit, changed = reusable_run(paper, ds, profile, data_root=data_root, root=root, workers=workers)
    if reuse and hit is not None:
        print(f"  {name}: reused {hit} (run key unchanged)", flush=True)
        return "reused"
    why = "--force" if not reuse else ", ".join(changed) + " changed" if changed[0] != "no run_key.json" \
        else "no earlier run with a key"
    if in_process:                 # this process computes: its torch pool gets the share a kernel would
        limit_threads(workers)
    run_notebook(paper, ds, profile, data_root=data_root, root=root, workers=workers, in_process=in_process)
    print(f"  {name}: ran in {time.time() - t0:.0f} s ({why})", flush=True)
    return "ran"


def default_jobs() -> int:
    """Notebooks the book runs at once by default: two where there are two cores or more, else one (each
    kernel then takes its share of the cores, :func:`sercore.paths.thread_env`)."""
    from .paths import available_cpus

    return max(1, min(2, available_cpus()))


def run_parallel(fn, calls: list[tuple], jobs: int = 1) -> list:
    """``fn(*args)`` for every ``args`` in ``calls``, ``jobs`` at a time in separate processes (spawned:
    each has its own environment, so kernels never see another run's variables); results in the order
    of ``calls``. An exception is returned in its place, not raised, so one failure stops nothing."""
    if jobs <= 1 or len(calls) <= 1:
        out = []
        for args in calls:
            try:
                out.append(fn(*args))
            except Exception as e:      # noqa: BLE001 - reported by the caller
                out.append(e)
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(fn, *args) for args in calls]
        out = []
        for f in futures:
            try:
                out.append(f.result())
            except Exception as e:      # noqa: BLE001
                out.append(e)
        return out


#: Seconds each never-run notebook takes on the quick profile on a 2-core machine, two at a time, with the
#: corpora of ../shared/data: measured by ``make book`` at 74c9545 (feature cache empty, notebooks in process).
#: Used only to order runs that have no earlier result here (a clean clone); any run that finished before
#: orders by its own runtime.
_TYPICAL_QUICK_S = {("leaderboard", "meld"): 188, ("leaderboard", "emodb"): 179, ("ctmam", "emodb"): 167,
                    ("leaderboard", "emovo"): 164, ("leaderboard", "urdu"): 126, ("mcwsa_cmha", "iemocap_text"): 102,
                    ("mdat", "emodb"): 74, ("mlcct", "iemocap_text"): 73, ("mdat", "emodb_emovo_urdu"): 70,
                    ("ca_ser", "emodb"): 63, ("mlcct", "meld"): 56, ("data", "all"): 36,
                    ("leaderboard", "iemocap_text"): 28}


def _longest_first(plan: list[tuple[str, str]], profile: str) -> list[tuple[str, str]]:
    """The plan with the runs expected to take longest first, so that parallel workers finish together:
    a run's own last runtime in ``results/``, else its typical quick time (:data:`_TYPICAL_QUICK_S`), else
    a guess (a leaderboard first: they are the long ones; a chapter next; the data chapter last). Stable:
    equal guesses keep plan order."""
    import json

    def expected(p, d):
        folder = results_dir() / p / d / ("book" if p in SPECIAL else profile)
        try:
            return float(json.loads((folder / "metrics.json").read_text()).get("runtime_s") or 0.0)
        except (OSError, ValueError, AttributeError):
            pass
        if profile == "quick" and (p, d) in _TYPICAL_QUICK_S:
            return float(_TYPICAL_QUICK_S[(p, d)])
        return 1e9 if p in STUDIES else 20.0 if p in SPECIAL else 60.0
    return sorted(plan, key=lambda pd_: -expected(*pd_))


def _without_published_boards(plan: list[tuple[str, str]], data_root: str | None,
                              profile: str) -> list[tuple[str, str]]:
    """``plan`` without the leaderboards whose reference board is published on the corpus files found here
    (a reference board trains every method longer, on more folds and seeds; its page is in the book), each
    left out named on one line. Only for the quick and smoke profiles: a paper or reference build runs all."""
    from .leaderboard import published_on_these_files

    if profile not in ("quick", "smoke"):
        return plan
    out = []
    for paper, ds in plan:
        where = published_on_these_files(ds, data_root) if paper == "leaderboard" else None
        if where:
            print(f"  leaderboard/{ds}: not run at {profile} size: its reference board is published on these corpus "
                  f"files ({where}) and the book shows it (--all-boards runs it)", flush=True)
            continue
        out.append((paper, ds))
    return out


def build_book(run: bool = False, profile: str = "quick", data_root: str | None = None,
               reuse: bool = True, jobs: int | None = None, synthetic: bool = False,
               kernel: bool = False, all_boards: bool = False) -> Path:
    """Optionally run every planned notebook, execute the data chapter and the
    scoreboard, then ``jupyter-book build`` with warnings as errors.

    reuse: a run whose key (parameters, seed, corpus files, code, records shown; :func:`sercore.runs.run_key`) equals
    the one in ``results/`` is not executed again (``sercore book --force`` sets it False).
    jobs: notebooks run at once (default :func:`default_jobs`), each kernel with its share of the cores.
    synthetic: also run chapters on the synthetic corpus where a real corpus of theirs is found
    (:func:`sercore.runs.plan_runs`).
    all_boards: also run the quick leaderboard of a corpus whose reference board is published on the very
    files found here (:func:`sercore.leaderboard.published_on_these_files`); by default the book shows
    that published board instead of training a smaller one again.
    kernel: execute each notebook in a fresh Jupyter kernel. By default each of the ``jobs`` worker
    processes (spawned for the build) executes its notebooks in process (:mod:`sercore.runs.inprocess`):
    the same cells, parameters and executed notebooks, without a kernel's start-up and imports (about
    5 s a notebook on a 2-core machine)."""
    root = project_root()
    failures = []
    done: dict[str, int] = {"reused": 0, "ran": 0}
    t_start = time.time()
    # with --run the data chapter (it reads only the corpora) runs beside the training notebooks; the
    # scoreboard reads their results, so it always runs after them
    last = [s for s in SPECIAL if not (run and s == "data")]
    if run:
        jobs = default_jobs() if jobs is None else max(1, int(jobs))
        plan = [*plan_runs(data_root, root, synthetic=synthetic), ("data", "all")]
        if not all_boards:
            plan = _without_published_boards(plan, data_root, profile)
        plan = _longest_first(plan, profile) if jobs > 1 else plan
        print(f"running {len(plan)} notebook(s) on the {profile} profile, {jobs} at a time: "
              + ", ".join(f"{p}/{d}" for p, d in plan), flush=True)
        calls = [(p, d, "book" if p in SPECIAL else profile, data_root, root, reuse, jobs, not kernel)
                 for p, d in plan]
        got = run_parallel(_run_or_reuse, calls, jobs)
        for (paper, ds), r in zip(plan, got):
            if isinstance(r, Exception):
                failures.append(str(r))
                print(f"  {paper}/{ds}: FAILED\n{r}", file=sys.stderr, flush=True)
            else:
                done[r] += 1
    for special in last:
        done[_run_or_reuse(special, "all", "book", data_root, root, reuse, in_process=not kernel)] += 1
    print(f"notebooks: {done['reused']} reused, {done['ran']} ran, {len(failures)} failed "
          f"({time.time() - t_start:.0f} s)", flush=True)
    staged = stage_book(root)
    print(f"staged {len(staged)} executed notebook(s) into book/_generated", flush=True)
    execute_summary(root, results_dir())
    print("executed the reproduction summary into book/_generated/summary.ipynb", flush=True)
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
