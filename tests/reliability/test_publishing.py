"""A finished result is never lost: a run killed at any step of putting its results in place leaves the
previous (or the new) complete result, the clean-up after it never removes the last complete result,
the disk is checked before training, and a failure to publish keeps the earlier results.

Runs here execute no kernel: ``runs.execute._papermill`` is replaced by conftest's ``fake_papermill``, which writes what
the toy notebook would (its executed copy and ``metrics.json`` through ``results.Run``), so every step
after the notebook is the real code. A kill is ``os._exit`` in a forked child at the named step
(``runs.staging._STEP_HOOK``): no ``finally`` runs, as with ``kill -9``.
"""
import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

from sercore import book, cli, runs

CELL = ("ctmam", "synthetic", "smoke")


@pytest.fixture
def setup(tmp_path, project, fast_runs, monkeypatch):
    proj = project(tmp_path / "proj", project.metrics_cell(), dataset="synthetic")
    monkeypatch.setattr(runs.staging, "_STEP_HOOK", None)
    res = tmp_path / "res"
    return proj, res


def run(proj, res, epochs: int, **kw):
    return runs.run_notebook(*CELL, root=proj, results_root=res, overrides={"epochs": epochs}, **kw)


def wa(folder) -> float:
    return json.loads((folder / "metrics.json").read_text())["metrics"]["wa"]


def debris(res) -> list[str]:
    return sorted(p.name for p in (res / "ctmam/synthetic").iterdir() if p.name.startswith(".") and p.is_dir())


def killed_at(step: str, proj, res, epochs: int, exchange: bool = True) -> int:
    """Run in a forked child that dies (``os._exit``) at ``step``; returns the child's exit status."""
    pid = os.fork()
    if pid == 0:                                              # the child: never returns to pytest
        try:
            runs.staging._EXCHANGE = exchange
            runs.staging._STEP_HOOK = lambda name: os._exit(0) if name == step else None
            sys.stderr = open(os.devnull, "w")
            run(proj, res, epochs)
            os._exit(3)                                       # the step was never reached
        except BaseException:                                 # noqa: BLE001
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


STEPS = [("after-notebook", True, "old"), ("after-notebook-rewrite", True, "old"), ("after-run-key", True, "old"),
         ("before-swap", True, "old"), ("after-exchange", True, "new"), ("after-swap", True, "new"),
         ("after-cleanup", True, "new"),
         ("before-swap", False, "old"), ("after-moving-old-aside", False, "old"),
         ("after-moving-new-in", False, "new"), ("after-swap", False, "new")]


@pytest.mark.parametrize("step, exchange, expect", STEPS,
                         ids=[f"{s}-{'exchange' if x else 'two-renames'}" for s, x, _ in STEPS])
def test_a_run_killed_at_any_step_of_publishing_leaves_a_complete_result(setup, step, exchange, expect):
    proj, res = setup
    final = run(proj, res, epochs=2)                          # the previous result: WA 50
    before = {n: (final / n).read_bytes() for n in ("metrics.json", "run_key.json", "ctmam.ipynb")}
    assert killed_at(step, proj, res, epochs=1, exchange=exchange) == 0       # died at that step
    if step != "after-moving-old-aside":
        assert runs.staging._complete(final), f"{final} is not a complete result after a kill at {step}"
    else:
        assert not final.exists() and debris(res)            # the swap window: the previous result is aside
    runs.remove_dead_staging(res)                             # what `sercore book` and the next run do first
    assert runs.staging._complete(final) and not debris(res)
    if expect == "old":
        assert {n: (final / n).read_bytes() for n in before} == before      # byte for byte the previous one
    else:
        assert wa(final) == 100.0
        key = json.loads((final / "run_key.json").read_text())
        assert key["parts"]["params"]["epochs"] == 1          # the key inside is the new run's own
    # the dead run's lock does not block the next run, which finds nothing to clean
    assert wa(run(proj, res, epochs=1)) == 100.0 and not debris(res)


def test_the_swap_window_never_costs_the_last_result(setup, capsys):
    """Killed between moving the finished folder aside and putting the new one in place: `sercore book`'s
    clean-up moves the previous result back instead of deleting it with the dead run's staging."""
    proj, res = setup
    final = run(proj, res, epochs=2)
    assert killed_at("after-moving-old-aside", proj, res, epochs=1, exchange=False) == 0
    names = debris(res)
    assert any(".smoke.old-" in n for n in names) and any(".smoke.running-" in n for n in names)
    staged = book.stage_book(proj, res)
    assert wa(final) == 50.0 and not debris(res)
    assert any(p.parts[-2:] == ("ctmam", "synthetic.ipynb") for p in staged)
    assert "restored" in capsys.readouterr().err


def test_a_complete_staging_of_a_first_run_killed_before_its_rename_is_published(setup):
    proj, res = setup
    assert killed_at("before-swap", proj, res, epochs=1) == 0
    final = res / "ctmam/synthetic/smoke"
    assert not final.exists()
    runs.remove_dead_staging(res)
    assert runs.staging._complete(final) and wa(final) == 100.0


def test_an_unfinished_staging_is_removed_and_a_live_runs_is_left(setup):
    proj, res = setup
    final = run(proj, res, epochs=2)
    assert killed_at("after-notebook", proj, res, epochs=1) == 0        # no run_key.json yet
    live = final.with_name(".smoke.running-1")                          # pid 1 runs: not touched
    live.mkdir()
    removed = runs.remove_dead_staging(res)
    assert len(removed) == 1 and ".smoke.running-" in removed[0].name and live.exists()
    assert wa(final) == 50.0


def test_a_dead_runs_old_folder_is_left_while_a_live_run_holds_the_cell(setup):
    """The previous result aside, its cell locked by a live run: the clean-up leaves both alone (the
    live run moves it back itself)."""
    proj, res = setup
    final = run(proj, res, epochs=2)
    assert killed_at("after-moving-old-aside", proj, res, epochs=1, exchange=False) == 0
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = final.with_name(".smoke.lock")
        from sercore import procs
        lock.write_text(f"{holder.pid} {procs.start_time(holder.pid)}\n")
        runs.remove_dead_staging(res)
        old = [n for n in debris(res) if ".smoke.old-" in n]
        assert old and not final.exists()
    finally:
        holder.kill()
        holder.wait()
    runs.remove_dead_staging(res)
    assert wa(final) == 50.0


def test_a_kill_inside_the_notebook_while_it_writes_its_results_keeps_the_previous(setup, monkeypatch):
    """The kernel dies between two files of results.Run.write: nothing of it is published."""
    proj, res = setup
    final = run(proj, res, epochs=2)

    def dies_mid_write(nb, out_nb, params, cwd, progress, in_process=False):
        shutil.copyfile(nb, out_nb)
        (out_nb.parent / "test_predictions.csv").write_text("method,seed,fold,row,y_true,y_pred\n")
        os._exit(0)
    monkeypatch.setattr(runs.execute, "_papermill", dies_mid_write)
    assert killed_at("never", proj, res, epochs=1) == 0
    runs.remove_dead_staging(res)
    assert wa(final) == 50.0 and not debris(res)


@pytest.mark.parametrize("where", ["run_key", "notebook rewrite", "publish"])
def test_a_full_disk_while_publishing_keeps_the_previous_result_and_is_one_line(setup, monkeypatch, at_project, capsys, where):
    proj, res = setup
    final = run(proj, res, epochs=2)
    before = {n: (final / n).read_bytes() for n in ("metrics.json", "run_key.json")}
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final.parent / "x"))

    def raise_full(*a, **k):
        raise full
    if where == "run_key":
        monkeypatch.setattr(runs.execute, "write_run_key", raise_full)
    elif where == "notebook rewrite":
        monkeypatch.setattr("sercore.paths.atomic_write", raise_full)
    else:
        monkeypatch.setattr(runs.execute, "publish", raise_full)
    monkeypatch.setenv("SERCORE_RESULTS", str(res))
    at_project(proj)
    capsys.readouterr()
    assert cli.main(["run", *CELL[:1], "--dataset", CELL[1], "--set", "epochs=1"]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "untouched" in errors[0]
    assert "Traceback" not in err
    assert {n: (final / n).read_bytes() for n in before} == before and runs.staging._complete(final)
    assert (final.with_name("smoke.failed") / "ctmam.ipynb").exists()        # this run's, for inspection
    assert not debris(res) and not final.with_name(".smoke.lock").exists()


def test_the_fallback_puts_the_previous_result_back_when_the_new_one_cannot_move_in(setup, monkeypatch):
    proj, res = setup
    final = run(proj, res, epochs=2)
    monkeypatch.setattr(runs.staging, "_EXCHANGE", False)
    real = os.rename

    def refuse_second(src, dst):
        if ".running-" in str(src) and str(dst) == str(final):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        return real(src, dst)
    monkeypatch.setattr(os, "rename", refuse_second)
    with pytest.raises(RuntimeError, match="could not be put in place.*untouched"):
        run(proj, res, epochs=1)
    monkeypatch.setattr(os, "rename", real)
    assert wa(final) == 50.0 and runs.staging._complete(final) and not debris(res)


# ----------------------------------------------------------------------------- storage, before training

def _never(*a, **k):
    raise AssertionError("nothing may run when the storage check fails")


def test_too_little_free_space_is_found_before_training(setup, fast_runs, monkeypatch):
    proj, res = setup
    final = run(proj, res, epochs=2)
    monkeypatch.setattr(runs.execute, "_papermill", _never)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 2**16, 2**16))
    with pytest.raises(runs.StorageError, match=r"only 0.1 MiB free on the disk of .*SERCORE_MIN_FREE_MB"):
        run(proj, res, epochs=1)
    assert wa(final) == 50.0 and not debris(res)
    monkeypatch.setattr(runs.execute, "_papermill", fast_runs)
    monkeypatch.setenv("SERCORE_MIN_FREE_MB", "0")                   # the threshold is the user's to set
    assert wa(run(proj, res, epochs=1)) == 100.0


def test_a_results_folder_that_cannot_be_replaced_is_found_before_training(setup, monkeypatch, at_project, capsys):
    proj, res = setup
    final = run(proj, res, epochs=2)
    monkeypatch.setattr(runs.execute, "_papermill", _never)
    real = os.rename

    def refuse(src, dst):
        if str(src) == str(final):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(src))
        return real(src, dst)
    monkeypatch.setattr(os, "rename", refuse)
    monkeypatch.setenv("SERCORE_RESULTS", str(res))
    at_project(proj)
    capsys.readouterr()
    assert cli.main(["run", "ctmam", "--dataset", "synthetic", "--set", "epochs=1"]) == 1
    err = capsys.readouterr().err
    assert f"the results in {final} cannot be replaced" in err and "Operation not permitted" in err
    assert "nothing was run" in err and err.count("\n") == 1 and err.startswith("error: ")
    assert wa(final) == 50.0 and not debris(res)


def _chattr(flag: str, path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_an_immutable_results_folder_is_named_before_training(setup, monkeypatch):
    proj, res = setup
    final = run(proj, res, epochs=2)
    if not _chattr("+i", final):
        pytest.skip("chattr +i is not permitted here")
    try:
        monkeypatch.setattr(runs.execute, "_papermill", _never)
        with pytest.raises(runs.StorageError, match=f"{final} is immutable .chattr.*nothing was run"):
            run(proj, res, epochs=1)
    finally:
        _chattr("-i", final)
    assert wa(final) == 50.0 and not debris(res)


def test_a_tiny_disk_is_found_before_training(setup, monkeypatch, tmp_path):
    """A 64 KiB filesystem (a tmpfs, where this machine lets a test mount one)."""
    proj, _ = setup
    disk = tmp_path / "tiny"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        monkeypatch.setattr(runs.execute, "_papermill", _never)
        with pytest.raises(runs.StorageError, match="No space left on device|MiB free"):
            run(proj, disk / "res", epochs=1)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
