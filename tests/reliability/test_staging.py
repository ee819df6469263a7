"""Staging and concurrency: killed runs leave nothing that reaches the book, one run per results folder,
a results folder that cannot be written is a clear error, and skip_bad counts what it skips."""
import json
import os
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
import soundfile as sf
import yaml

from sercore import book, cli, experiment, runs
from sercore.paths import project_root

ROOT = project_root()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_debris_of_a_killed_run_is_removed_and_never_staged(tmp_path):
    res = tmp_path / "results"
    dead = _dead_pid()
    debris = res / "ctmam/synthetic" / f".smoke.running-{dead}"
    debris.mkdir(parents=True)
    (debris / "metrics.json").write_text("{}")
    (debris / "ctmam.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    swap = res / "ctmam/synthetic" / f".smoke.old-{dead}"
    swap.mkdir()
    special = res / "scoreboard/all" / f".book.running-{dead}"
    special.mkdir(parents=True)
    (special / "scoreboard.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    live = res / "ctmam/emodb" / ".smoke.running-1"          # pid 1 is alive: left alone
    live.mkdir(parents=True)
    staged = book.stage_book(tmp_path / "root", res)
    assert not debris.exists() and not swap.exists() and not special.exists() and live.exists()
    assert [p.name for p in staged] == ["benchmarks.md"]     # nothing of the killed runs reached the book


def test_the_next_run_of_a_cell_removes_its_dead_staging(tmp_path, project, fast_runs):
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    res = tmp_path / "res"
    debris = res / "ctmam/synthetic" / f".smoke.running-{_dead_pid()}"
    debris.mkdir(parents=True)
    out = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res)
    assert (out / "metrics.json").exists() and not debris.exists()
    assert not (res / "ctmam/synthetic/.smoke.lock").exists()               # the lock is released


def test_a_second_run_of_the_same_cell_is_refused_while_the_first_lives(tmp_path, project, capsys, monkeypatch, at_project):
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    res = tmp_path / "res"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (res / "ctmam/synthetic").mkdir(parents=True)
        (res / "ctmam/synthetic/.smoke.lock").write_text(str(holder.pid))
        with pytest.raises(runs.RunLockedError, match=f"another run \\(process {holder.pid}\\) is writing"):
            runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res)
        assert not (res / "ctmam/synthetic/smoke").exists()
        monkeypatch.setenv("SERCORE_RESULTS", str(res))
        at_project(proj)
        assert cli.main(["run", "ctmam", "--dataset", "synthetic"]) == 1
        assert f"process {holder.pid}" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, project, fast_runs):
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    res = tmp_path / "res"
    (res / "ctmam/synthetic").mkdir(parents=True)
    (res / "ctmam/synthetic/.smoke.lock").write_text(str(_dead_pid()))
    out = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res)
    assert json.loads((out / "metrics.json").read_text())["paper"] == "ctmam"


def test_a_results_folder_that_cannot_be_written_is_named(tmp_path, project):
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    blocked = tmp_path / "res"
    blocked.write_text("a file where the results folder should be")
    with pytest.raises(RuntimeError, match="cannot write results under .*res/ctmam/synthetic"):
        runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=blocked)


def _emodb(root, bad: bool):
    wav = root / "emodb" / "wav"
    wav.mkdir(parents=True)
    t = np.linspace(0, 1, 16000, dtype=np.float32)
    for name in ("03a01Fa.wav", "03a01Wa.wav", "08a02Ta.wav", "08a02Na.wav"):
        sf.write(wav / name, 0.1 * np.sin(2 * np.pi * 220 * t), 16000)
    if bad:
        (wav / "09a01Fa.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")   # not decodable


def test_skip_bad_counts_and_reports_what_it_skipped(tmp_path):
    _emodb(tmp_path, bad=True)
    P = {"corpus": "emodb", "label_map": "emodb7", "data_root": str(tmp_path), "languages": None,
         "n_per_class": None, "seed": 0}
    with pytest.raises(Exception, match="09a01Fa.wav"):
        experiment.load_corpus({**P, "skip_bad": False})
    c = experiment.load_corpus({**P, "skip_bad": True})
    assert len(c.manifest) == 4 and len(c.skipped) == 1
    assert "1 file(s) skipped" in c.note and "09a01Fa.wav" in c.note
    assert c.record()["skipped_files"] == 1


def test_skip_bad_is_a_run_key_not_a_params_file_key(tmp_path):
    (tmp_path / "params/ctmam").mkdir(parents=True)
    raw = yaml.safe_load((ROOT / "params/ctmam/synthetic.yaml").read_text())
    (tmp_path / "params/ctmam/toy.yaml").write_text(yaml.safe_dump({**raw, "skip_bad": True}))
    with pytest.raises(runs.ParamsError, match="'skip_bad' \\(top level\\): expected no value here"):
        runs.resolve("ctmam", "toy", "smoke", root=tmp_path)
    assert runs.resolve("ctmam", "synthetic", "smoke", {"skip_bad": True})["skip_bad"] is True


def test_a_runs_kernel_gets_its_share_of_the_cores(tmp_path, project, monkeypatch):
    """Two concurrent workers on this machine: each kernel's OpenMP/torch threads are half the CPUs."""
    from sercore.paths import thread_share
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    nb = nbformat.read(proj / "book/ctmam.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, torch\nopen(os.path.join(results_dir, 'threads.txt'), 'w').write("
        "os.environ['OMP_NUM_THREADS'] + ' ' + str(torch.get_num_threads()))"))
    nbformat.write(nb, proj / "book/ctmam.ipynb")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    out = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=tmp_path / "r", workers=2)
    share = thread_share(2)
    assert (out / "threads.txt").read_text() == f"{share} {share}"
    assert thread_share(1) >= share and thread_share(10_000) == 1


def test_a_bad_file_met_inside_the_notebook_is_named_in_one_error(tmp_path, project, capsys, monkeypatch, at_project):
    """`sercore run` on a corpus with a damaged file: exit 1, the loader's message (file and cause), the
    kept notebook, no traceback, nothing in the results tree."""
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    nb = nbformat.read(proj / "book/ctmam.ipynb", as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(
        "from sercore.data import CorruptFileError\n"
        "raise CorruptFileError('/data/emodb/wav/03a01Fa.wav', 'holds non-finite samples (NaN or Inf)')"))
    nbformat.write(nb, proj / "book/ctmam.ipynb")
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    at_project(proj)
    assert cli.main(["run", "ctmam", "--dataset", "synthetic"]) == 1
    err = capsys.readouterr().err
    assert "CorruptFileError: /data/emodb/wav/03a01Fa.wav: holds non-finite samples" in err
    assert "Traceback" not in err and err.count("\n") <= 3
    assert not (tmp_path / "res/ctmam/synthetic/smoke").exists()
    assert (tmp_path / "res/ctmam/synthetic/smoke.failed/ctmam.ipynb").exists()


# ----------------------------------------------------------------------------- seeds: one folder each

def test_a_seed_other_than_0_gets_its_own_folder_and_lock(tmp_path, project, fast_runs, monkeypatch, at_project, capsys):
    """`sercore run ... --seed 1` never replaces seed 0's result, nor waits for seed 0's run."""
    from sercore import procs, results
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    res = tmp_path / "res"
    zero = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res)
    before = (zero / "metrics.json").read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:       # seed 0 is running again (its lock held by a live process): seed 1 is not refused
        (res / "ctmam/synthetic/.smoke.lock").write_text(f"{holder.pid} {procs.start_time(holder.pid)}\n")
        monkeypatch.setenv("SERCORE_RESULTS", str(res))
        at_project(proj)
        assert cli.main(["run", "ctmam", "--dataset", "synthetic", "--seed", "1"]) == 0
        one = res / "ctmam/synthetic/seeds/smoke/seed-1"
        assert f"wrote {one / 'metrics.json'}" in capsys.readouterr().out
        with pytest.raises(runs.RunLockedError):
            runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res)
    finally:
        holder.kill()
        holder.wait()
    assert (zero / "metrics.json").read_bytes() == before
    assert json.loads((one / "metrics.json").read_text())["seed"] == 1 and runs.staging._complete(one)
    assert runs.run_folder(res, "ctmam", "synthetic", "smoke", 1) == one
    assert runs.reusable_run("ctmam", "synthetic", "smoke", seed=1, results_root=res, root=proj)[0] == one
    # what reads results finds each run where it is
    staged = book.stage_book(tmp_path / "root", res)           # the book shows the book's run (seed 0)
    assert [p.parts[-2:] for p in staged if p.suffix == ".ipynb"] == [("ctmam", "synthetic.ipynb")]
    assert [r["seed"] for r in results.collect(res)] == [0]
    assert [r["seed"] for r in results.collect_seeds(res)] == [1]
    path, df, _ = results.export(tmp_path / "all.csv", res)
    assert sorted(df[df["kind"] == "headline"]["seed"].unique()) == [0, 1]


def test_fanout_keeps_the_grids_first_seed_in_the_books_folder(tmp_path, project, fast_runs):
    from sercore import fanout
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    job = fanout.grid(["ctmam"], ["synthetic"], ["smoke"], [3, 4], root=proj)
    assert [j.run_dir for j in job] == [None, "seeds/smoke/seed-4"]
    out = fanout.run_job(job[0], results_root=str(tmp_path / "res"), root=str(proj))
    assert out["results"] == str(tmp_path / "res/ctmam/synthetic/smoke")
    with pytest.raises(ValueError, match="seeds must be whole numbers from 0"):
        fanout.grid(["ctmam"], ["synthetic"], ["smoke"], [-1], root=proj)


# ----------------------------------------------------------------------------- locks: pid and start time

def test_a_stale_lock_whose_pid_now_names_another_process_is_taken_over(tmp_path, project, fast_runs, capsys):
    """The lock's pid is alive but started at another time than the run that wrote it: not a run."""
    from sercore import procs
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    res = tmp_path / "res"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (res / "ctmam/synthetic").mkdir(parents=True)
        lock = res / "ctmam/synthetic/.smoke.lock"
        lock.write_text(f"{other.pid} {procs.start_time(other.pid) - 12345}\n")
        assert cli.main(["status", "--results", str(res)]) == 0
        assert "no run in progress" in capsys.readouterr().out      # status does not list it
        out = runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res)
        assert runs.staging._complete(out) and not lock.exists()
    finally:
        other.kill()
        other.wait()


def test_an_old_style_lock_of_a_live_pid_without_its_staging_folder_is_stale(tmp_path, project, fast_runs, capsys):
    """A lock holding a bare pid (older sercore): taken over when that process has no staging folder here
    and the lock is not fresh; held while the folder exists."""
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    res = tmp_path / "res"
    cell = res / "ctmam/synthetic"
    cell.mkdir(parents=True)
    lock = cell / ".smoke.lock"
    lock.write_text(f"{os.getppid()}")                         # a live process that is not a run
    old = time.time() - 3600
    os.utime(lock, (old, old))
    assert runs.lock_owner_alive(lock) is False
    (cell / f".smoke.running-{os.getppid()}").mkdir()          # ... unless its staging folder is there
    assert runs.lock_owner_alive(lock) is True
    assert cli.main(["status", "--results", str(res)]) == 0
    assert str(cell / "smoke") in capsys.readouterr().out
    (cell / f".smoke.running-{os.getppid()}").rmdir()
    assert runs.staging._complete(runs.run_notebook("ctmam", "synthetic", "smoke", root=proj, results_root=res))


def test_status_lists_a_live_run_with_its_progress_line(tmp_path):
    from sercore import procs, runlog
    cell = tmp_path / "res/ctmam/synthetic/seeds/smoke"
    cell.mkdir(parents=True)
    pid, start = procs.me()
    (cell / ".seed-1.lock").write_text(f"{pid} {start}\n")
    stage = cell / f".seed-1.running-{pid}-{start}"
    stage.mkdir()
    runlog.write_line(stage / "run.log", "fold 1/10 epoch 3/50")
    (live,) = runlog.live_runs(tmp_path / "res")
    assert live["folder"] == str(cell / "seed-1") and live["last"].endswith("fold 1/10 epoch 3/50")
