"""Runs: parameters resolved and validated in one place, papermill execution, failure handling, determinism."""
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from sercore import runs
from sercore.paths import project_root
from sercore.schemas import ParamsError
from sercore.schemas.common import PROFILES

ROOT = project_root()


def test_profile_sections_override_the_top_level(tmp_path, project):
    root = project(tmp_path, lr=0.01, **{"smoke.epochs": 3})
    smoke = runs.resolve("ctmam", "toy", "smoke", root=root)
    paper = runs.resolve("ctmam", "toy", "paper", root=root)
    assert (smoke["epochs"], smoke["lr"], paper["epochs"]) == (3, 0.01, 150)
    assert list(smoke)[:6] == ["paper", "dataset", "profile", "seed", "data_root", "results_dir"]
    assert runs.resolve("ctmam", "toy", "smoke", {"seed": 4}, root=root)["seed"] == 4


@pytest.mark.parametrize("edit, words", [
    ({"lr": "1e-3"}, ["params/ctmam/toy.yaml", "'lr' (top level)", "expected a number", "the string '1e-3'",
                      "write 0.001"]),
    ({"quick.epochs": 0}, ["'epochs' (section 'quick')", "a value >= 1", "the integer 0"]),
    ({"smoke.batch_size": -2}, ["'batch_size' (section 'smoke')", ">= 1"]),
    ({"test_fraction": 1.5}, ["'test_fraction'", "> 0 and < 1", "1.5"]),
    ({"paper.epoch": 5}, ["'epoch' (section 'paper')", "did you mean 'epochs'", "an unknown key"]),
    ({"ablations": ["no_such"]}, ["'ablations'", "one of no_tsa"]),
    ({"max_segments": True}, ["'max_segments'", "an integer or null", "the boolean True"]),
    ({"seed": 3}, ["'seed' (top level)", "the run sets seed"]),
    ({"languages": "en"}, ["'languages'", "a list of strings", "the string 'en'"]),
])
def test_bad_params_are_one_line_naming_file_and_key(tmp_path, project, edit, words):
    root = project(tmp_path, **edit)
    with pytest.raises(ParamsError) as err:
        runs.resolve("ctmam", "toy", "smoke", root=root)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("text, words", [
    ("corpus: synthetic\nlr: [0.1\n", ["not valid YAML at line"]),
    ("- a\n- b\n", ["expected a mapping", "got list"]),
    ("corpus: synthetic\nquick: 3\n", ["'quick'", "expected a mapping"]),
])
def test_unreadable_params_files(tmp_path, project, text, words):
    root = project(tmp_path)
    (root / "params/ctmam/toy.yaml").write_text(text)
    with pytest.raises(ParamsError) as err:
        runs.resolve("ctmam", "toy", "smoke", root=root)
    assert "\n" not in str(err.value) and "params/ctmam/toy.yaml" in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_names_are_registry_names_never_paths(tmp_path):
    for bad in ("../mdat/emodb", "/some/where/x", "Emo DB"):
        with pytest.raises(ParamsError, match="is not a name"):
            runs.resolve("ctmam", bad, "smoke")
    with pytest.raises(ParamsError, match="unknown paper"):
        runs.resolve("../ctmam", "synthetic", "smoke")
    with pytest.raises(ParamsError, match="datasets with parameters for ctmam: emodb, emodb_unstratified, iemocap, synthetic"):
        runs.resolve("ctmam", "nope", "smoke")
    with pytest.raises(ParamsError, match="unknown profile"):
        runs.resolve("ctmam", "synthetic", "fast")


def test_every_params_file_resolves_for_every_profile():
    n = 0
    for paper in runs.RUNNABLE:
        for ds in runs.datasets_with_params(paper, ROOT):
            for prof in PROFILES:
                if prof not in runs.profiles(paper, ds, ROOT):   # reference: where its file or _base.yaml has one
                    with pytest.raises(ParamsError, match="no 'reference:' section"):
                        runs.resolve(paper, ds, prof, root=ROOT)
                    continue
                p = runs.resolve(paper, ds, prof, root=ROOT)
                assert (p["paper"], p["dataset"], p["profile"]) == (paper, ds, prof)
                for k, v in p.items():       # papermill injects literals: scalars and flat lists only
                    assert v is None or isinstance(v, (bool, int, float, str)) or (
                        isinstance(v, list) and all(isinstance(i, (bool, int, float, str)) for i in v)), (k, v)
                n += 1
    assert n >= 3 * 23


def test_each_notebooks_parameters_cell_is_the_resolved_smoke_synthetic_params():
    for paper in runs.RUNNABLE:
        defaults = runs.notebook_defaults(ROOT / "book" / f"{paper}.ipynb")
        assert defaults == runs.resolve(paper, "synthetic", "smoke", root=ROOT), paper


def test_papermill_reads_every_parameter_of_each_notebooks_parameters_cell(caplog):
    """papermill's own reading of the cell (it warns "Passed unknown parameter" for a key it did not read,
    e.g. a line with two equals signs, once the leaderboard's chapter_sets help)."""
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    for paper in runs.RUNNABLE:
        with caplog.at_level("WARNING", logger="papermill"):
            names = [p.name for p in _infer_parameters(load_notebook_node(str(ROOT / "book" / f"{paper}.ipynb")))]
        assert names == list(runs.resolve(paper, "synthetic", "smoke", root=ROOT)), paper
        assert not caplog.records, [r.getMessage()[:200] for r in caplog.records]


def test_notebook_params_refuses_unknown_and_mistyped_values():
    P = runs.resolve("mlcct", "synthetic", "smoke")
    assert runs.notebook_params({**P, "Markdown": object, "_x": 1}) == P
    with pytest.raises(ParamsError, match="notebook parameters: key 'epoch'"):
        runs.notebook_params({**P, "epoch": 3})
    with pytest.raises(ParamsError, match="key 'epochs': expected an integer"):
        runs.notebook_params({**P, "epochs": "3"})


def test_no_per_profile_settings_outside_params():
    """Profile names appear in the package only where profiles are defined or reported, never as
    keys of a settings table."""
    import re
    pattern = re.compile(r"""["'](smoke|quick)["']\s*:""")
    hits = [f"{p.relative_to(ROOT)}:{i + 1}" for p in (ROOT / "sercore").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines()) if pattern.search(line)]
    assert not hits, hits


def test_failing_notebook_keeps_earlier_results(tmp_path, project):
    proj = project(tmp_path / "proj", project.metrics_cell(), **{"smoke.epochs": 2})
    out = runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    first = json.loads((out / "metrics.json").read_text())
    assert first["extra"]["params"]["epochs"] == 2 and first["metrics"]["wa"] == 50.0  # epochs 2 from smoke
    # now the notebook fails in its second cell
    nb = nbformat.read(proj / "book" / "ctmam.ipynb", as_version=4)
    nb.cells[1].source = "raise RuntimeError('corpus exploded')"
    nbformat.write(nb, proj / "book" / "ctmam.ipynb")
    with pytest.raises(RuntimeError, match="corpus exploded") as err:
        runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    assert "earlier results" in str(err.value)
    assert "RuntimeError: corpus exploded (in cell [" in str(err.value) and "Traceback" not in str(err.value)
    assert json.loads((out / "metrics.json").read_text()) == first          # untouched
    assert (out.parent / "smoke.failed" / "ctmam.ipynb").exists()           # the failed run is kept


def test_notebook_without_metrics_is_a_failure(tmp_path, project):
    proj = project(tmp_path / "proj", "x = 1")
    with pytest.raises(RuntimeError, match="metrics.json"):
        runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    assert not (tmp_path / "res" / "ctmam" / "toy" / "smoke").exists()


@pytest.mark.slow
def test_sercore_run_twice_gives_identical_metrics(tmp_path):
    """The real CLI on the real notebook: valid metrics.json, and the same seed gives the same numbers, in a
    kernel and in process (``--in-process``, as the run matrix runs most cells)."""
    metrics = []
    for i, engine in enumerate(([], ["--in-process"])):
        res = tmp_path / f"r{i}"
        proc = subprocess.run([sys.executable, "-m", "sercore.cli", "run", "ctmam", "--dataset", "synthetic",
                               "--profile", "smoke", "--seed", "1", *engine], capture_output=True, text=True,
                              env={**__import__("os").environ, "SERCORE_RESULTS": str(res)}, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = res / "ctmam" / "synthetic" / "seeds" / "smoke" / "seed-1"      # a seed other than 0: its own folder
        d = json.loads((out / "metrics.json").read_text())
        assert (out / "ctmam.ipynb").exists() and not (res / "ctmam" / "synthetic" / "smoke").exists()
        assert d["paper"] == "ctmam" and d["synthetic"] is True and d["seed"] == 1
        assert d["comparisons"] and d["comparisons"][0]["reported"] is not None
        metrics.append((d["metrics"], d["per_class"], d["confusion"]))
    assert metrics[0] == metrics[1]


# ----------------------------------------------------------------------------- run keys: reuse

def _counting_project(tmp_path, project, **edits):
    """A toy project whose notebook appends one line to ``runs.log`` per execution."""
    log = tmp_path / "runs.log"
    proj = project(tmp_path / "proj", f"open({str(log)!r}, 'a').write('ran\\n')", project.metrics_cell(), **edits)
    return proj, log


def test_a_run_with_an_unchanged_key_is_reused_and_force_runs_it_again(tmp_path, project):
    proj, log = _counting_project(tmp_path, project)
    res = tmp_path / "res"
    out = runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res)
    key = json.loads((out / "run_key.json").read_text())
    assert set(key["parts"]) == set(runs.KEY_PARTS) and len(key["key"]) == 64
    assert key["parts"]["params"]["seed"] == 0 and "results_dir" not in key["parts"]["params"]
    assert "sha" in key["record"]["git"] and isinstance(key["record"]["git"]["dirty_files"], (list, type(None)))
    assert runs.reusable_run("ctmam", "toy", "smoke", results_root=res, root=proj) == (out, [])
    assert runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res, reuse=True) == out
    assert log.read_text().count("ran") == 1                     # reused: not executed
    runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res, reuse=False)
    assert log.read_text().count("ran") == 2                     # --force: executed again
    # another seed is another key (compared in the same folder), and by default another folder
    hit, changed = runs.reusable_run("ctmam", "toy", "smoke", seed=3, results_root=res, root=proj, run_dir="smoke")
    assert hit is None and changed == ["params"]
    assert runs.reusable_run("ctmam", "toy", "smoke", seed=3, results_root=res, root=proj) == (None, ["no run_key.json"])



def test_a_run_made_with_other_threads_is_not_reused(tmp_path, project, monkeypatch):
    """Numbers depend on the kernel's thread count (float sums in another order): the key holds it."""
    proj, log = _counting_project(tmp_path, project)
    res = tmp_path / "res"
    monkeypatch.setenv("SERCORE_CPUS", "2")          # two cores, whatever this machine has
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    out = runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res, workers=1)
    key = json.loads((out / "run_key.json").read_text())
    assert key["parts"]["compute"]["threads"] == 2 and isinstance(key["parts"]["compute"]["cuda"], bool)
    assert runs.reusable_run("ctmam", "toy", "smoke", results_root=res, root=proj, workers=1) == (out, [])
    # two runs at once get one thread each: the 2-thread run is not theirs to reuse
    assert runs.reusable_run("ctmam", "toy", "smoke", results_root=res, root=proj, workers=2) == (None, ["compute"])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")       # a user's own limit counts the same way
    assert runs.reusable_run("ctmam", "toy", "smoke", results_root=res, root=proj, workers=1) == (None, ["compute"])


def test_what_invalidates_a_run(tmp_path, project):
    """Changing the params file changes the parameters (and the params file's hash); changing the
    notebook changes the code hash; a damaged metrics.json is no finished run to reuse."""
    proj, log = _counting_project(tmp_path, project)
    res = tmp_path / "res"
    out = runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res)

    def check():
        return runs.reusable_run("ctmam", "toy", "smoke", results_root=res, root=proj)

    yaml_text, nb_text, metrics = ((proj / "params/ctmam/toy.yaml").read_text(),
                                   (proj / "book/ctmam.ipynb").read_text(), (out / "metrics.json").read_text())
    project(proj, **{"smoke.epochs": 3})
    assert check() == (None, ["params", "code"])                # the values and the params file's hash
    (proj / "params/ctmam/toy.yaml").write_text(yaml_text)
    assert check() == (out, [])
    nb = nbformat.read(proj / "book/ctmam.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("a new note"))
    nbformat.write(nb, proj / "book/ctmam.ipynb")
    assert check() == (None, ["code"])
    (proj / "book/ctmam.ipynb").write_text(nb_text)
    (out / "metrics.json").write_text("{")
    assert check() == (None, ["unfinished"])
    runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res, reuse=True)
    assert log.read_text().count("ran") == 2
    assert json.loads((out / "metrics.json").read_text())["metrics"] == json.loads(metrics)["metrics"]


def test_a_changed_record_makes_its_papers_pages_and_the_scoreboard_stale(tmp_path, project, fast_runs, monkeypatch):
    """A page renders published runs from records/ (a chapter its own paper's beside this build's, the data
    chapter the studies' boards, the scoreboard all of them): a record changed, added or removed there makes
    exactly those pages' runs stale."""
    monkeypatch.delenv("SERCORE_RECORDS", raising=False)
    proj = project(tmp_path / "proj", project.metrics_cell())
    (proj / "book" / "scoreboard.ipynb").write_text("{}")
    res = tmp_path / "res"
    out = runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res)

    def stale() -> list[str]:
        return runs.reusable_run("ctmam", "toy", "smoke", results_root=res, root=proj)[1]

    def board() -> str:
        return runs.run_key("scoreboard", {"paper": "scoreboard", "dataset": "all", "profile": "smoke", "seed": 0},
                            proj, results_root=res)["key"]

    def read(page) -> str:
        return runs.records_fingerprint(runs.records_read(page), proj)["sha256"]

    assert stale() == [] and json.loads((out / "run_key.json").read_text())["parts"]["records"]["files"] == 0
    before = {"board": board(), **{p: read(p) for p in ("ca_ser", "data", "leaderboard")}}
    seed0 = proj / "records" / "ctmam" / "emodb" / "reference" / "seed-0"
    seed0.mkdir(parents=True)
    (seed0 / "metrics.json").write_text('{"metrics": {"wa": 50.0}}')
    assert stale() == ["records"] and board() != before["board"]
    assert {p: read(p) for p in ("ca_ser", "data", "leaderboard")} == {p: before[p] for p in ("ca_ser", "data",
                                                                                               "leaderboard")}
    runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=res)
    assert stale() == []
    (seed0 / "metrics.json").write_text('{"metrics": {"wa": 51.0}}')              # same size, other contents
    assert stale() == ["records"]
    (seed0 / "metrics.json").write_text('{"metrics": {"wa": 50.0}}')
    assert stale() == []                                                          # keyed by content
    (seed0 / ".metrics.json.swp").write_text("an editor's file")
    assert stale() == []
    board_now = board()
    (proj / "records" / "leaderboard" / "emodb").mkdir(parents=True)
    (proj / "records" / "leaderboard" / "emodb" / "board.json").write_text("{}")
    assert stale() == [] and read("data") != before["data"] and read("leaderboard") != before["leaderboard"]
    assert board() != board_now
    shutil.rmtree(seed0)
    assert stale() == ["records"]


def test_corpus_fingerprint_sees_changed_files_not_a_moved_folder(tmp_path):
    d = tmp_path / "a" / "emodb" / "wav"
    d.mkdir(parents=True)
    (d / "03a01Fa.wav").write_bytes(b"x" * 10)
    first = runs.corpus_fingerprint("emodb", tmp_path / "a")
    assert first["files"] == 1 and first["bytes"] == 10
    (tmp_path / "a").rename(tmp_path / "b")
    assert runs.corpus_fingerprint("emodb", tmp_path / "b")["sha256"] == first["sha256"]
    runs.runkey._CORPUS_MEMO.clear()
    (tmp_path / "b" / "emodb" / "wav" / "03a01Fa.wav").write_bytes(b"y" * 11)
    assert runs.corpus_fingerprint("emodb", tmp_path / "b")["sha256"] != first["sha256"]
    assert runs.corpus_fingerprint("synthetic")["name"] == "synthetic"


def test_book_prints_reused_and_ran_per_notebook(tmp_path, project, monkeypatch, capsys):
    from sercore import book

    proj, log = _counting_project(tmp_path, project)
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    assert book._run_or_reuse("ctmam", "toy", "smoke", None, proj, reuse=True) == "ran"
    assert "ctmam/toy: ran in" in capsys.readouterr().out
    assert book._run_or_reuse("ctmam", "toy", "smoke", None, proj, reuse=True) == "reused"
    assert "ctmam/toy: reused" in capsys.readouterr().out
    assert book._run_or_reuse("ctmam", "toy", "smoke", None, proj, reuse=False) == "ran"
    assert "(--force)" in capsys.readouterr().out
    assert log.read_text().count("ran") == 2


def test_book_runs_its_notebooks_in_process_unless_told_kernel(tmp_path, monkeypatch):
    """``sercore book --run`` executes each notebook in its worker process with the worker's share of the
    cores (no kernel start-up); ``--kernel`` gives each a fresh kernel."""
    from sercore import book, cli

    engines, threads, built = [], [], []
    monkeypatch.setattr(book, "reusable_run", lambda *a, **k: (None, ["no run_key.json"]))
    monkeypatch.setattr(book, "run_notebook", lambda *a, **k: engines.append(k["in_process"]))
    monkeypatch.setattr(book, "limit_threads", threads.append)
    book._run_or_reuse("ctmam", "toy", "quick", None, tmp_path, reuse=True, workers=2, in_process=True)
    book._run_or_reuse("ctmam", "toy", "quick", None, tmp_path, reuse=True, workers=2)
    assert engines == [True, False] and threads == [2]
    monkeypatch.setattr(book, "build_book", lambda *a, **k: built.append(k["kernel"]))
    assert cli.main(["book"]) == 0 and cli.main(["book", "--kernel"]) == 0
    assert built == [False, True]


def test_the_synthetic_corpus_stands_in_only_for_a_chapter_with_no_real_corpus(tmp_path):
    """`sercore book --run` plans a chapter on the synthetic corpus only when none of its real corpora is
    found (docs/contracts.md: a chapter with no real corpus runs on the synthetic corpus); ``synthetic=True``
    (`--synthetic`) plans both; with no corpus at all every chapter runs on the synthetic corpus."""
    from sercore.data.fixtures import write_fixtures

    root = tmp_path / "data"
    root.mkdir()
    write_fixtures(root, ["emodb"])
    plan = runs.plan_runs(str(root))
    by = {p: {d for q, d in plan if q == p} for p in runs.RUNNABLE}
    assert by["ctmam"] == {"emodb"} and by["ca_ser"] == {"emodb"} and by["mdat"] == {"emodb"}
    assert by["leaderboard"] == {"emodb"}
    assert by["mlcct"] == {"synthetic"} and by["mcwsa_cmha"] == {"synthetic"}     # no corpus of theirs here
    both = runs.plan_runs(str(root), synthetic=True)
    assert set(plan) < set(both) and {("ctmam", "synthetic"), ("leaderboard", "synthetic")} <= set(both)
    empty = tmp_path / "none"
    empty.mkdir()
    assert runs.plan_runs(str(empty)) == [(p, "synthetic") for p in runs.RUNNABLE]
