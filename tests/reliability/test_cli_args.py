"""Inputs checked where they enter, and every failure one line.

Params files: a key given twice, YAML anchors and aliases (a few lines that expand into gigabytes),
nesting too deep, a file that is a link out of ``params/``, not a regular file, too large or not UTF-8:
each a one-line ``ParamsError`` naming the file (``sercore run`` exits 2). Numbers must fit before a
notebook starts. Every command validates its arguments before any work (exit 2, one line naming the
flag); any other failure (a read-only disk, a damaged file, a bug) is one ``error:`` line, exit 1.
"""
from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from sercore import cli, runs
from sercore.paths import project_root
from sercore.schemas import ParamsError
from sercore.schemas.common import RUN_KEYS

ROOT = project_root()
GOOD = (ROOT / "params/ctmam/synthetic.yaml").read_text()


def _line_of(prefix: str) -> int:
    """The 1-based line of GOOD that starts with ``prefix``."""
    return next(i for i, line in enumerate(GOOD.splitlines(), 1) if line.startswith(prefix))


@pytest.fixture
def proj(tmp_path, project):
    return project(tmp_path / "proj", dataset="toy")


def _resolve(root):
    return runs.resolve("ctmam", "toy", "smoke", root=root)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))

YAML_CASES = {
    "a top-level key twice": (GOOD + "model: ctmam_emodb\n", r"refused at line \d+, column 1: key 'model' is given "
                                                            rf"twice \(first at line {_line_of('model:')}\)"),
    "a key twice in a section": (GOOD.replace("smoke: {n_per_class: 4", "smoke: {n_per_class: 4, n_per_class: 5"),
                                 "key 'n_per_class' is given twice"),
    "a section twice": (GOOD + "smoke: {epochs: 3}\n", "key 'smoke' is given twice"),
    "an anchor and an alias": (GOOD + "lr: &rate 0.001\nlr_min: *rate\n",
                               "anchor &rate .params files take no YAML anchors or aliases"),
    "an alias expansion bomb": (GOOD + BOMB, "anchor &a"),
    "a merge key": (GOOD + "base: &b {epochs: 1}\nsmoke2:\n  <<: *b\n", "anchor &b"),
    "nested too deep": (GOOD + "deep: " + "[" * 40 + "]" * 40 + "\n", "nested more than 20 levels"),
    "not UTF-8": (GOOD + "note: caf\xe9\n", None),
}


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_params_yaml_that_is_not_plain_is_one_line(proj, case, capsys, monkeypatch, at_project, tmp_path):
    text, why = YAML_CASES[case]
    f = proj / "params/ctmam/toy.yaml"
    if case == "not UTF-8":
        f.write_bytes(text.encode("latin-1"))
        why = r"not UTF-8 text \(byte \d+\)"
    else:
        f.write_text(text)
    t0 = time.time()
    with pytest.raises(ParamsError) as e:
        _resolve(proj)
    msg = str(e.value)
    assert re.search(why, msg), msg
    assert msg.startswith("params/ctmam/toy.yaml: ") and "\n" not in msg and len(msg) < 400
    assert time.time() - t0 < 5                                 # nothing was expanded
    at_project(proj)
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    assert cli.main(["run", "ctmam", "--dataset", "toy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: params/ctmam/toy.yaml: ")
    assert not (tmp_path / "res").exists()


def test_a_params_file_that_links_out_of_params_is_refused(proj, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(GOOD)
    f = proj / "params/ctmam/toy.yaml"
    f.unlink()
    f.symlink_to(outside)
    with pytest.raises(ParamsError, match=f"params/ctmam/toy.yaml: is a link to {outside}, outside .*params"):
        _resolve(proj)
    inside = proj / "params/ctmam/synthetic2.yaml"             # a link to a file inside params/ is fine
    inside.write_text(GOOD)
    f.unlink()
    f.symlink_to(inside)
    assert _resolve(proj)["lr"] == 0.001


@pytest.mark.parametrize("kind", ["folder", "fifo", "device", "too large"])
def test_a_params_file_that_is_not_a_small_regular_file_is_refused(proj, kind):
    f = proj / "params/ctmam/toy.yaml"
    f.unlink()
    if kind == "folder":
        f.mkdir()
        why = "not a regular file"
    elif kind == "fifo":
        os.mkfifo(f)                                           # reading it would block for ever
        why = "not a regular file"
    elif kind == "device":
        f.symlink_to("/dev/zero")                              # would be read for ever
        why = "is a link to /dev/zero, outside"
    else:
        f.write_text(GOOD + "# padding\n" * 40000)
        why = r"[\d,]+ bytes; a params file holds plain scalars and lists"
    with pytest.raises(ParamsError, match=why):
        _resolve(proj)


# ----------------------------------------------------------------------------- --set and numbers

@pytest.mark.parametrize("pair, why", [
    ("epochs=99999999999999999999", "key 'epochs': expected an integer that fits in 64 bits"),
    ("epochs=-99999999999999999999", "key 'epochs'"),
    ("batch_size=18446744073709551616", "key 'batch_size': expected an integer that fits in 64 bits"),
    ("lr=1.0e999", "key 'lr'"),
    ("ablations=&a [*a]", "anchor &a"),
    ("lr=0.1=0.2", "key 'lr'"),
    ("=3", "expected KEY=VALUE"),
    ("lr", "expected KEY=VALUE"),
], ids=["epochs 1e20", "epochs -1e20", "batch size 2**64", "lr overflows to inf", "an alias", "two =",
        "no key", "no ="])
def test_set_values_a_run_cannot_represent_exit_2_before_any_notebook(pair, why, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    monkeypatch.setattr(runs.execute, "_papermill", lambda *a, **k: pytest.fail("a notebook started"))
    assert cli.main(["run", "ctmam", "--dataset", "synthetic", "--set", pair]) == 2
    err = capsys.readouterr().err
    assert re.search(why, err), err
    assert err.count("\n") == 1 and err.startswith("error: ") and not (tmp_path / "res").exists()


@pytest.mark.parametrize("key", RUN_KEYS)
def test_a_run_key_message_names_only_options_that_exist(key, capsys, tmp_path, project):
    """`--set results_dir=...` and `results_dir:` in a params file say where the key is set, and every
    `sercore run --flag` they name is a real option of `sercore run`."""
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    help_text = capsys.readouterr().out
    with pytest.raises(ParamsError) as e:
        runs.parse_overrides([f"{key}=1"])
    root = project(tmp_path, dataset="toy")
    raw = yaml.safe_load(GOOD)
    (raw["smoke"] if key == "paper" else raw)[key] = 1          # top-level `paper:` is the paper profile
    (root / "params/ctmam/toy.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError) as f:
        runs.resolve("ctmam", "toy", "smoke", root=root)
    for msg in (str(e.value), str(f.value)):
        assert key in msg and "\n" not in msg
        for flag in re.findall(r"sercore run (--[a-z-]+)", msg):
            assert re.search(rf"\s{flag}\b", help_text), f"{msg}: names {flag}, which `sercore run` does not have"
        assert "--results-dir" not in msg


def test_a_seed_beyond_32_bits_is_refused_in_python_too(tmp_path):
    with pytest.raises(ParamsError, match="key 'seed': expected a seed from 0 .at most 4294967295., got 4294967296"):
        runs.run_notebook("ctmam", "synthetic", "smoke", seed=2**32, results_root=tmp_path)
    with pytest.raises(ParamsError, match="seed: expected an integer"):
        runs.run_notebook("ctmam", "synthetic", "smoke", seed="1", results_root=tmp_path)
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- every entry point's arguments

ARG_CASES = {
    "run --seed -1": (["run", "ctmam", "--dataset", "synthetic", "--seed", "-1"], "argument --seed"),
    "run --seed 2**32": (["run", "ctmam", "--dataset", "synthetic", "--seed", str(2**32)], "argument --seed"),
    "run --seed x": (["run", "ctmam", "--dataset", "synthetic", "--seed", "x"], "argument --seed"),
    "run --data-root missing": (["run", "ctmam", "--dataset", "synthetic", "--data-root", "/no/such/dir"],
                                "argument --data-root: /no/such/dir: no such folder"),
    "run unknown paper": (["run", "nope", "--dataset", "synthetic"], "argument paper: invalid choice"),
    "fanout --seeds -1": (["fanout", "ctmam", "--datasets", "synthetic", "--seeds", "0", "-1"], "argument --seeds"),
    "fanout --max-parallel 0": (["fanout", "ctmam", "--max-parallel", "0"], "argument --max-parallel"),
    "fanout --timeout-min -5": (["fanout", "ctmam", "--timeout-min", "-5"], "argument --timeout-min"),
    "fanout --mem-gb x": (["fanout", "ctmam", "--mem-gb", "x"], "argument --mem-gb"),
    "book --jobs 0": (["book", "--jobs", "0"], "argument --jobs"),
    "book --data-root a file": (["book", "--data-root", __file__], "not a folder"),
    "export to .txt": (["results", "export", "/tmp/x.txt"], "must end in .csv or .parquet"),
    "export into a missing folder": (["results", "export", "/no/such/dir/x.csv"], "its folder /no/such/dir does not"),
    "export --results missing": (["results", "export", "x.csv", "--results", "/no/such/dir"], "no such folder"),
    "predict without a checkpoint folder": (["predict", __file__, "--checkpoint", "/no/such/ck"],
                                            "--checkpoint /no/such/ck: no such folder"),
    "predict a missing file": (["predict", "/no/such.wav", "--checkpoint", str(ROOT)], "/no/such.wav: no such audio"),
    "predict a folder": (["predict", str(ROOT), "--checkpoint", str(ROOT)], "not a file"),
    "data list --data-root missing": (["data", "list", "--data-root", "/no/such/dir"], "no such folder"),
    "data fixtures into a file": (["data", "fixtures", __file__], "not a folder"),
    "data fixtures --seed -3": (["data", "fixtures", "/tmp/x", "--seed", "-3"], "argument --seed"),
    "params --seed -1": (["params", "ctmam", "--dataset", "synthetic", "--seed", "-1"], "argument --seed"),
    "status --results missing": (["status", "--results", "/no/such/dir"], "no such folder"),
}


@pytest.mark.parametrize("case", list(ARG_CASES))
def test_every_entry_point_validates_its_arguments_before_any_work(case, capsys, monkeypatch, tmp_path):
    argv, why = ARG_CASES[case]
    import submitit

    import sercore.book as B
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "res"))
    for target in (runs, B):
        monkeypatch.setattr(target, "run_notebook", lambda *a, **k: pytest.fail("work started"), raising=False)
    monkeypatch.setattr(submitit, "AutoExecutor", lambda *a, **k: pytest.fail("a job was submitted"))
    monkeypatch.setattr(submitit, "LocalExecutor", lambda *a, **k: pytest.fail("a job was submitted"))
    try:
        code = cli.main(argv)
    except SystemExit as e:                                    # argparse's own exit
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert why in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and not (tmp_path / "res").exists()


def test_a_read_only_or_full_disk_is_one_line_naming_the_file(monkeypatch, capsys):
    for code in (errno.EROFS, errno.ENOSPC, errno.EACCES):
        def fail(*a, **k):
            raise OSError(code, os.strerror(code), "/results/ctmam/x/metrics.json")
        monkeypatch.setattr("sercore.runs.run_notebook", fail)
        assert cli.main(["run", "ctmam", "--dataset", "synthetic"]) == 1
        err = capsys.readouterr().err
        assert err == f"error: /results/ctmam/x/metrics.json: {os.strerror(code)}\n"


def test_an_unexpected_error_is_one_line_and_says_how_to_see_more(monkeypatch, capsys):
    def bug(*a, **k):
        raise KeyError("labels")
    monkeypatch.setattr("sercore.runs.run_notebook", bug)
    assert cli.main(["run", "ctmam", "--dataset", "synthetic"]) == 1
    err = capsys.readouterr().err
    assert err == "error: KeyError: 'labels' (set SERCORE_TRACEBACK=1 to see where)\n"
    monkeypatch.setenv("SERCORE_TRACEBACK", "1")
    with pytest.raises(KeyError):
        cli.main(["run", "ctmam", "--dataset", "synthetic"])


def test_the_command_line_never_prints_a_traceback_for_a_damaged_metrics_json(tmp_path):
    """A real process: `sercore results export` over a metrics.json that is not JSON text at all."""
    bad = tmp_path / "res/ctmam/synthetic/smoke"
    bad.mkdir(parents=True)
    (bad / "metrics.json").write_bytes(b"\xff\xfe\x00garbage")
    proc = subprocess.run([sys.executable, "-m", "sercore.cli", "results", "export", str(tmp_path / "x.csv"),
                           "--results", str(tmp_path / "res")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and str(bad / "metrics.json") in proc.stderr
