"""Folds shared between processes (``sercore run --fold-worker``): claims under the checkpoint tree,
a fold held by a live process is left for later and taken once it is let go, and every process returns
the same complete result in fold order."""
import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sercore import cli, train

from .test_results_resume import MeanLinear

LABELS = ["a", "b", "c"]


def _data(n=45, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    feats = [(rng.normal(size=(int(rng.integers(4, 9)), 6)) + [2.0 * c, 0, 0, 0, 0, 0]).astype(np.float32)
             for c in y]
    return feats, y


def _folds(n=45, k=3):
    idx = np.arange(n)
    parts = np.array_split(idx, k)
    return [SimpleNamespace(name=f"f{i}", train=np.setdiff1d(idx, parts[i]), val=parts[(i + 1) % k][:6],
                            test=parts[i]) for i in range(k)]


def _cfg(**kw):
    return train.TrainConfig(**{"epochs": 3, "batch_size": 8, "lr": 0.05, "progress": False, **kw})


def _claim_for(pid: int, path):
    from sercore import procs
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid} {procs.start_time(pid)}\n")


def test_a_fold_held_by_a_live_process_is_left_then_taken_once_let_go(tmp_path, monkeypatch):
    feats, y = _data()
    folds = _folds()
    ck = tmp_path / "ck"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _claim_for(other.pid, ck / "f1" / train.CLAIM_NAME)
        monkeypatch.setattr(train, "FOLD_WAIT_S", 0.05)
        order = []

        def on_end(item, model):
            order.append(item["name"])
            if item["name"] == "f2":          # the other process dies holding f1: it is taken over
                other.kill()
                other.wait()

        cv = train.cross_validate(MeanLinear, feats, y, folds, _cfg(checkpoint_dir=str(ck)), LABELS,
                                  on_fold_end=on_end)
    finally:
        other.kill()
    assert order == ["f0", "f2", "f1"]
    assert [f["name"] for f in cv.folds] == ["f0", "f1", "f2"]          # fold order in the result
    plain = train.cross_validate(MeanLinear, feats, y, folds, _cfg(), LABELS)
    assert [f["report"]["y_pred"] for f in cv.folds] == [f["report"]["y_pred"] for f in plain.folds]
    assert cv.summary == plain.summary and cv.pooled == plain.pooled
    assert not list(ck.rglob(train.CLAIM_NAME))                       # every claim let go


def test_a_run_without_checkpoints_claims_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    feats, y = _data()
    train.cross_validate(MeanLinear, feats, y, _folds(), _cfg(), LABELS)
    assert not list(tmp_path.rglob(train.CLAIM_NAME))


SCRIPT = textwrap.dedent('''
    import json, sys, time
    import numpy as np, torch
    from types import SimpleNamespace
    from sercore import train

    class Slow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(6, 3)

        def forward(self, x, lengths):
            if self.training:
                time.sleep(0.1)
            mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).float()[..., None]
            return self.lin((x * mask).sum(1) / lengths[:, None])

    train.FOLD_WAIT_S = 0.2
    rng = np.random.default_rng(0)
    y = np.arange(48) % 3
    feats = [(rng.normal(size=(int(rng.integers(4, 9)), 6)) + [2.0 * c, 0, 0, 0, 0, 0]).astype(np.float32)
             for c in y]
    idx = np.arange(48)
    parts = np.array_split(idx, 4)
    folds = [SimpleNamespace(name=f"f{i}", train=np.setdiff1d(idx, parts[i]), val=parts[(i + 1) % 4][:6],
                             test=parts[i]) for i in range(4)]
    cfg = train.TrainConfig(epochs=3, batch_size=8, lr=0.05, progress=False, checkpoint_dir=sys.argv[1])
    cv = train.cross_validate(Slow, feats, y, folds, cfg, ["a", "b", "c"])
    json.dump({"trained": [f["name"] for f in cv.folds if f["fit"]["resumed_from"] == 0],
               "pred": [f["report"]["y_pred"] for f in cv.folds], "names": [f["name"] for f in cv.folds],
               "summary": cv.summary}, open(sys.argv[2], "w"))
''')


@pytest.mark.timeout(180)
def test_two_processes_share_the_folds_of_one_run_and_return_the_same_result(tmp_path):
    """Each fold trains once, in one of the two processes (about 1.8 s a fold here), and both return
    the whole cross-validation."""
    import json

    script = tmp_path / "cv.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "SERCORE_PROGRESS": "0"}
    ck = tmp_path / "ck"
    a = subprocess.Popen([sys.executable, str(script), str(ck), str(tmp_path / "a.json")], env=env,
                         stderr=subprocess.PIPE)
    t0 = time.time()
    while not (ck / "f0" / train.CLAIM_NAME).exists():            # the first process is training fold f0
        assert a.poll() is None, a.communicate()[1].decode()[-2000:]
        assert time.time() - t0 < 90
        time.sleep(0.05)
    b = subprocess.Popen([sys.executable, str(script), str(ck), str(tmp_path / "b.json")], env=env,
                         stderr=subprocess.PIPE)
    assert a.wait(timeout=150) == 0, a.communicate()[1].decode()[-2000:]
    assert b.wait(timeout=150) == 0, b.communicate()[1].decode()[-2000:]
    ra, rb = (json.loads((tmp_path / f"{w}.json").read_text()) for w in "ab")
    assert ra["names"] == rb["names"] == ["f0", "f1", "f2", "f3"]
    assert ra["trained"] and rb["trained"], (ra["trained"], rb["trained"])   # both did a share
    assert sorted(ra["trained"] + rb["trained"]) == ["f0", "f1", "f2", "f3"]  # each fold trained once
    assert ra["pred"] == rb["pred"] and ra["summary"] == rb["summary"]


def test_fold_worker_refuses_a_run_that_does_not_checkpoint(capsys):
    assert cli.main(["run", "ctmam", "--dataset", "synthetic", "--profile", "smoke", "--fold-worker"]) == 2
    err = capsys.readouterr().err
    assert "--fold-worker shares folds through checkpoints" in err and "checkpoint=true" in err


def test_fold_worker_shares_the_checkpoint_tree_and_writes_its_copy_elsewhere(tmp_path, monkeypatch, capsys):
    from sercore import runs
    from sercore.paths import checkpoints_dir

    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SERCORE_CHECKPOINTS", "set-by-the-worker")     # undone after the test ...
    monkeypatch.delenv("SERCORE_CHECKPOINTS")                            # ... whatever the CLI sets
    seen = {}

    def fake_run(paper, dataset, profile, data_root, seed, results_root=None, **kw):
        seen.update(results_root=results_root, checkpoints=checkpoints_dir())
        out = tmp_path / "copy"
        out.mkdir()
        return out

    monkeypatch.setattr(runs, "run_notebook", fake_run)
    assert cli.main(["run", "ctmam", "--dataset", "synthetic", "--profile", "smoke", "--set", "checkpoint=true",
                     "--fold-worker"]) == 0
    assert seen["checkpoints"] == (tmp_path / "results").resolve()
    assert not str(seen["results_root"]).startswith(str(tmp_path / "results"))
    assert "fold worker finished" in capsys.readouterr().out
