"""Fan-out of the (paper, dataset, profile, seed) grid through submitit: the grid, where seeds
land, failures reported per job, and one real ``sercore run`` of a smoke notebook in a
LocalExecutor worker process whose results land in the results tree the book stages from."""
import json
import os
from pathlib import Path

import pytest

from sercore import book, cli, fanout, runs


def test_grid_expands_and_places_seeds():
    jobs = fanout.grid(["mlcct", "ctmam"], ["synthetic"], ["smoke", "quick"], [3, 1, 3])
    assert len(jobs) == 2 * 1 * 2 * 2                      # duplicate seed dropped
    first = [j for j in jobs if j.seed == 3]
    assert all(j.run_dir is None for j in first)           # the book's folder
    other = [j for j in jobs if j.seed == 1]
    assert {j.run_dir for j in other} == {"seeds/smoke/seed-1", "seeds/quick/seed-1"}
    assert other[0].results_path("/r") == Path("/r/mlcct/synthetic/seeds/smoke/seed-1")
    every = fanout.grid(["ctmam"])                         # default: what `sercore book --run` runs
    assert {j.dataset for j in every} == {d for p, d in runs.plan_runs() if p == "ctmam"}
    nothing = fanout.grid(["ctmam"], data_root="/nonexistent")   # no real corpus: the synthetic one stands in
    assert {j.dataset for j in nothing} == {"synthetic"}


def test_grid_names_what_is_missing():
    with pytest.raises(ValueError, match="no params/mlcct/<dataset>.yaml for \\['nope'\\]"):
        fanout.grid(["mlcct"], ["nope"])
    with pytest.raises(ValueError, match="unknown paper"):
        fanout.grid(["bogus"])
    with pytest.raises(ValueError, match="profile"):
        fanout.grid(["mlcct"], ["synthetic"], ["fast"])


def _fake_execute(fail_seed=None):
    """Stands in for papermill: writes a valid metrics.json into the run's staging folder."""
    from sercore.results import ChapterResult, Run

    class Synthetic:
        synthetic, note = True, None

        def record(self):
            return {"name": "synthetic"}

    def execute(nb, out_nb, parameters, **kw):
        if parameters["seed"] == fail_seed:
            raise RuntimeError("cell 7 raised")
        Path(out_nb).write_text("{}")
        acc = 50.0 + parameters["seed"]
        Run(parameters).write(ChapterResult(protocol={"name": "official"},
                                            metrics={"wa": acc, "ua": acc, "macro_f1": acc, "weighted_f1": acc},
                                            per_class={}, confusion={"labels": [], "matrix": []}),
                              corpus=Synthetic())
    return execute


def test_debug_executor_seeds_and_failures(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", _fake_execute(fail_seed=2))
    monkeypatch.setattr("pdb.post_mortem", lambda *a: None)   # DebugExecutor opens pdb on a failure
    jobs = fanout.grid(["mlcct"], ["synthetic"], ["smoke"], [0, 1, 2])
    rep = fanout.fan_out(jobs, "debug", results_root=tmp_path, progress=False)
    states = {e["job"]["seed"]: e["state"] for e in rep.entries}
    assert states == {0: "done", 1: "done", 2: "failed"}
    assert "cell 7 raised" in rep.failed[0]["error"]
    m0 = json.loads((tmp_path / "mlcct/synthetic/smoke/metrics.json").read_text())
    m1 = json.loads((tmp_path / "mlcct/synthetic/seeds/smoke/seed-1/metrics.json").read_text())
    assert (m0["seed"], m1["seed"]) == (0, 1)
    assert (tmp_path / "mlcct/synthetic/seeds/smoke/seed-2.failed").is_dir()   # kept for inspection
    saved = json.loads((Path(rep.folder) / "jobs.json").read_text())
    assert [e["state"] for e in saved["entries"]] == ["done", "done", "failed"]
    (row,) = rep.seed_summary()
    assert row["seeds"] == 2 and row["wa"] == 50.5 and row["wa_std"] == pytest.approx(0.71, abs=0.01)


def test_executor_kinds(tmp_path):
    import shutil

    import submitit

    with pytest.raises(ValueError, match="executor must be one of"):
        fanout.make_executor("kubernetes", tmp_path)
    assert isinstance(fanout.make_executor("local", tmp_path, timeout_min=5), submitit.LocalExecutor)
    assert isinstance(fanout.make_executor("debug", tmp_path), submitit.DebugExecutor)
    if shutil.which("srun") is None:                   # not on a SLURM cluster: a clear error
        with pytest.raises(RuntimeError, match="SLURM login node"):
            fanout.make_executor("slurm", tmp_path, 4, slurm_partition="gpu")
    else:
        ex = fanout.make_executor("slurm", tmp_path, 4, slurm_partition="gpu", gpus_per_node=1)
        assert ex.cluster == "slurm"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_local_executor_runs_a_real_smoke_notebook(tmp_path, monkeypatch):
    """A LocalExecutor worker process runs ``sercore run mlcct --dataset synthetic --profile smoke
    --seed 5`` through the CLI's function; its results are where ``sercore book`` stages from."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    jobs = fanout.grid(["mlcct"], ["synthetic"], ["smoke"], [5])
    rep = fanout.fan_out(jobs, "local", results_root=tmp_path / "results", progress=False,
                         data_root=os.environ.get("SERCORE_DATA"))
    assert not rep.failed, rep.failed
    (e,) = rep.entries
    assert e["job_id"].isdigit()                           # a real submitit local job (its process id)
    out = tmp_path / "results/mlcct/synthetic/smoke"
    m = json.loads((out / "metrics.json").read_text())
    assert (m["paper"], m["profile"], m["seed"]) == ("mlcct", "smoke", 5)
    assert e["result"]["metrics"]["wa"] == m["metrics"]["wa"]
    staged = book.stage_book(tmp_path / "root", tmp_path / "results")   # not the checkout's book/_generated
    assert any(p.parts[-2:] == ("mlcct", "synthetic.ipynb") for p in staged)


def test_cli_fanout_reports_grid_errors(capsys):
    assert cli.main(["fanout", "mlcct", "--datasets", "nope", "--profiles", "smoke"]) == 1
    assert "no params/mlcct/<dataset>.yaml for ['nope']" in capsys.readouterr().err


def test_cli_fanout_runs_through_submitit(tmp_path, monkeypatch, capsys):
    import papermill

    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path))
    monkeypatch.setattr(papermill, "execute_notebook", _fake_execute())
    assert cli.main(["fanout", "mlcct", "--datasets", "synthetic", "--profiles", "smoke",
                     "--seeds", "0", "4", "--executor", "debug"]) == 0
    out = capsys.readouterr().out
    assert "2 run(s) with the debug executor" in out and "over 2 seeds: wa 52.0 ± 2.8" in out
    assert (tmp_path / "mlcct/synthetic/seeds/smoke/seed-4/metrics.json").exists()


# ----------------------------------------------------------------------------- thread discipline

def test_thread_env_divides_the_cpus_and_never_raises_a_users_limit(monkeypatch):
    from sercore import paths

    monkeypatch.setenv("SERCORE_CPUS", "4")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert paths.available_cpus() == 4
    assert paths.thread_env(1) == {v: "4" for v in paths.THREAD_VARS}
    assert paths.thread_env(2)["OMP_NUM_THREADS"] == "2" and paths.thread_env(2)["OPENBLAS_NUM_THREADS"] == "2"
    assert paths.thread_env(8)["MKL_NUM_THREADS"] == "1"            # never 0
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert paths.thread_env(2)["RAYON_NUM_THREADS"] == "1"           # a smaller user limit is kept
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert paths.thread_env(2)["OMP_NUM_THREADS"] == "2"             # a larger one is cut to the share
    monkeypatch.setenv("SERCORE_CPUS", "two")
    with pytest.raises(ValueError, match="SERCORE_CPUS must be a whole number >= 1, got 'two'"):
        paths.thread_env(1)
    monkeypatch.delenv("SERCORE_CPUS")
    assert 1 <= paths.available_cpus() <= len(os.sched_getaffinity(0))


def test_limit_threads_applies_the_share_to_this_process(monkeypatch):
    import torch

    from sercore import paths

    for v in paths.THREAD_VARS:            # monkeypatch restores them after the test
        monkeypatch.setenv(v, "1")
    monkeypatch.setenv("SERCORE_CPUS", "4")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    before = torch.get_num_threads()
    try:
        assert paths.limit_threads(2) == 2
        assert torch.get_num_threads() == 2 and os.environ["OPENBLAS_NUM_THREADS"] == "2"
    finally:
        torch.set_num_threads(before)


def test_local_fanout_gives_each_job_its_share(tmp_path, monkeypatch):
    """`sercore fanout --executor local --max-parallel 2`: every job is told 2 workers share the machine
    (1 when only one job runs, and for debug/slurm, whose jobs do not share cores)."""
    import contextlib

    seen = []

    class Handle:
        job_id = "1"

        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    class Fake:
        def batch(self):
            return contextlib.nullcontext()

        def submit(self, fn, job, **kw):
            seen.append(kw["workers"])
            return Handle({"metrics": {"wa": 1.0}})

    monkeypatch.setattr(fanout, "make_executor", lambda *a, **k: Fake())
    jobs = fanout.grid(["mlcct"], ["synthetic"], ["smoke"], [0, 1, 2])
    fanout.fan_out(jobs, "local", max_parallel=2, results_root=tmp_path, progress=False)
    fanout.fan_out(jobs[:1], "local", max_parallel=2, results_root=tmp_path, progress=False)
    fanout.fan_out(jobs, "debug", max_parallel=2, results_root=tmp_path, progress=False)
    assert seen == [2, 2, 2, 1, 1, 1, 1]


def test_a_kernel_of_two_workers_runs_its_share_of_threads(tmp_path, project, monkeypatch):
    """The kernel of one of 2 workers on a 4-CPU allowance: torch's intra-op pool and the BLAS/OpenMP
    variables are 2, even though the caller's OMP_NUM_THREADS says 3."""
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    import nbformat
    nb = nbformat.read(proj / "book/ctmam.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, torch\nopen(os.path.join(results_dir, 'threads.txt'), 'w').write(' '.join(\n"
        "    [str(torch.get_num_threads())] + [os.environ[v] for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS',"
        " 'RAYON_NUM_THREADS')]))"))
    nbformat.write(nb, proj / "book/ctmam.ipynb")
    monkeypatch.setenv("SERCORE_CPUS", "4")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    out = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=tmp_path / "r", workers=2)
    assert (out / "threads.txt").read_text() == "2 2 2 2"
