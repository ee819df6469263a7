"""Issue 16: a run publishes only a sound result, and resume is keyed.

Training (``sercore.train``): non-finite features, a non-finite loss or weights, non-finite outputs,
nothing to train, or no epoch trained raise ``TrainingError`` naming where and the likely cause.
Results (``sercore.results``): NaN/Inf in the headline, the per-class table, the confusion matrix or
a comparison row is refused (``MetricsError``), nothing is written, and ``sercore run`` exits 1 keeping
the failed notebook in ``<profile>.failed/``. Resume: a checkpoint is used only when its fingerprint
matches the run; otherwise (another seed, config, model, fold or data; a damaged file) it is moved aside
with a ``CheckpointWarning`` naming what differed and training starts fresh. A run killed by SIGKILL
mid-epoch resumes to exactly the weights and metrics of an uninterrupted run.
"""
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sercore import results, runs
from sercore.metrics import classification_report
from sercore.paths import project_root
from sercore.train import (CheckpointWarning, FeatureDataset, TrainConfig, TrainingError, cross_validate,
                           evaluate, fit)

LABELS = ["a", "b", "c"]
ROOT = project_root()


# ----------------------------------------------------------------------------- helpers

def toy_data(n=36, d=6, seed=0):
    """Variable-length sequences whose class shifts the mean of feature 0."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    feats = []
    for i in range(n):
        x = rng.normal(size=(int(rng.integers(4, 9)), d)).astype(np.float32)
        x[:, 0] += 2.0 * y[i]
        feats.append(x)
    return feats, y


class MeanLinear(torch.nn.Module):
    """logits = W · masked mean of x over time: tiny, exact, deterministic."""

    def __init__(self, d=6, k=3, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.lin = torch.nn.Linear(d, k)

    def forward(self, x, lengths):
        mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).float()[..., None]
        return self.lin((x * mask).sum(1) / lengths[:, None])


def cfg(**kw):
    return TrainConfig(**{"epochs": 3, "batch_size": 8, "lr": 0.05, "progress": False, "seed": 0, **kw})


def split(feats, y, n_train=27, **kw):
    idx = np.arange(len(y))
    return FeatureDataset(feats, y, idx[:n_train], **kw), FeatureDataset(feats, y, idx[n_train:], **kw)


def same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


# ----------------------------------------------------------------------------- sound training

@pytest.mark.parametrize("where, value", [("train", np.nan), ("train", np.inf), ("val", np.nan)])
def test_non_finite_features_are_refused_naming_the_rows(where, value):
    feats, y = toy_data()
    row = 5 if where == "train" else 30
    feats[row][1, 2] = value
    with pytest.raises(TrainingError) as err:
        split(feats, y)
    msg = str(err.value)
    assert f"manifest rows {row}" in msg and "NaN/Inf" in msg and "1 of" in msg


def test_nan_loss_from_nan_features_names_epoch_step_and_rows():
    feats, y = toy_data()
    feats[4][0, 0] = np.nan
    tr, va = split(feats, y, check_finite=False)       # the input check off: the loss check catches it
    with pytest.raises(TrainingError) as err:
        fit(MeanLinear(), tr, va, cfg(), LABELS)
    msg = str(err.value)
    assert "training loss became non-finite (nan) in epoch 1, step" in msg
    assert "manifest rows 4" in msg and "fix or drop" in msg


def test_inf_loss_from_a_learning_rate_too_high():
    feats, y = toy_data()
    tr, va = split(feats, y)
    with pytest.raises(TrainingError) as err:
        fit(MeanLinear(), tr, va, cfg(lr=1e38, optimizer="sgd"), LABELS)
    msg = str(err.value)
    assert "non-finite" in msg and "epoch 1, step" in msg
    assert "features are finite" in msg and "lr=1e+38" in msg and "too high" in msg


def test_weights_becoming_non_finite_with_a_finite_loss():
    class Poisoned(MeanLinear):
        """An unused parameter turns NaN during training; the loss stays finite."""

        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(2))

        def forward(self, x, lengths):
            if self.training:
                with torch.no_grad():
                    self.unused.fill_(float("nan"))
            return super().forward(x, lengths)

    feats, y = toy_data()
    tr, va = split(feats, y)
    with pytest.raises(TrainingError, match=r"weights became non-finite in epoch 1 \(parameters unused\)"):
        fit(Poisoned(), tr, va, cfg(), LABELS)


def test_non_finite_model_output_in_evaluation_names_the_rows():
    class NanOnLarge(MeanLinear):
        """NaN logits for utterances whose feature 0 mean is large (class c) in evaluation."""

        def forward(self, x, lengths):
            out = super().forward(x, lengths)
            if not self.training:
                out = torch.where((x[:, :, 0].sum(1) / lengths > 3.0)[:, None], float("nan"), out)
            return out

    feats, y = toy_data()
    _, va = split(feats, y)
    with pytest.raises(TrainingError) as err:
        evaluate(NanOnLarge(), va, cfg(), LABELS)
    msg = str(err.value)
    assert "output is non-finite" in msg and "manifest rows 29" in msg
    assert "input features are finite" in msg


def test_empty_training_set():
    feats, y = toy_data()
    tr = FeatureDataset(feats, y, np.array([], dtype=int))
    with pytest.raises(TrainingError, match=r"training set is empty \(0 items\)"):
        fit(MeanLinear(), tr, None, cfg(), LABELS)


@pytest.mark.parametrize("epochs", [0, -3])
def test_no_epochs_to_train(epochs):
    feats, y = toy_data()
    tr, va = split(feats, y)
    with pytest.raises(TrainingError, match=f"epochs must be >= 1 to train a model, got {epochs}"):
        fit(MeanLinear(), tr, va, cfg(epochs=epochs), LABELS)


def test_patience_zero_trains_no_epoch():
    feats, y = toy_data()
    tr, va = split(feats, y)
    with pytest.raises(TrainingError, match="no epoch was trained"):
        fit(MeanLinear(), tr, va, cfg(patience=0), LABELS)


def test_cross_validation_with_an_empty_test_fold():
    feats, y = toy_data()
    folds = [SimpleNamespace(name="f0", train=np.arange(30), val=np.array([], dtype=int),
                             test=np.array([], dtype=int))]
    with pytest.raises(TrainingError, match="fold f0: the test set is empty"):
        cross_validate(MeanLinear, feats, y, folds, cfg(), LABELS)


# ----------------------------------------------------------------------------- sound metrics.json

class _Corpus:
    synthetic, note = True, None

    def record(self):
        return {"name": "toy"}


def _result(**change):
    rep = classification_report([0, 1, 1, 0], [0, 1, 0, 0], ["neutral", "angry"])
    r = results.ChapterResult(protocol={"name": "random"}, metrics=rep["metrics"], per_class=rep["per_class"],
                              confusion=rep["confusion"],
                              comparisons=[results.comparison("Table II", "Proposed", "wa", 90.65, 75.0)])
    for path, value in change.items():
        obj, *keys = path.split(".")
        target = getattr(r, obj)
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        last = keys[-1]
        target[int(last) if isinstance(target, list) else last] = value
    return r


def _run(tmp_path):
    return results.Run({"paper": "ctmam", "dataset": "toy", "profile": "smoke", "seed": 0,
                        "results_dir": str(tmp_path / "out")})


@pytest.mark.parametrize("change, named", [
    ({"metrics.ua": float("nan")}, "metrics.ua=nan"),
    ({"metrics.wa": float("inf")}, "metrics.wa=inf"),
    ({"metrics.macro_f1": np.float32("nan")}, "metrics.macro_f1=nan"),
    ({"per_class.angry.recall": float("nan")}, "per_class.angry.recall=nan"),
    ({"confusion.matrix.1.0": float("nan")}, "confusion.matrix[1][0]=nan"),
    ({"comparisons.0.measured": float("-inf")}, "comparisons[0].measured=-inf"),
])
def test_non_finite_metrics_are_refused_and_nothing_is_written(tmp_path, change, named):
    run = _run(tmp_path)
    with pytest.raises(results.MetricsError) as err:
        run.write(_result(**change), corpus=_Corpus())
    msg = str(err.value)
    assert named in msg and "not a result" in msg and "ctmam on toy (smoke, seed 0)" in msg
    assert not (tmp_path / "out").exists()


def test_null_headline_is_written_as_null(tmp_path):
    run = _run(tmp_path)
    out = run.write(_result(**{"metrics.weighted_f1": None}), corpus=_Corpus())
    assert out["metrics"]["weighted_f1"] is None
    assert results.read_metrics(run.metrics_path)["metrics"]["weighted_f1"] is None


def test_reading_a_metrics_json_with_nan_names_the_file(tmp_path):
    run = _run(tmp_path)
    data = run.write(_result(), corpus=_Corpus())
    data["metrics"]["ua"] = float("nan")
    run.metrics_path.write_text(json.dumps(data))          # json writes NaN as a bare token
    with pytest.raises(ValueError) as err:
        results.read_metrics(run.metrics_path)
    assert str(run.metrics_path) in str(err.value) and "metrics.ua=nan" in str(err.value)


# --- the same through `sercore run` (run_notebook executes a notebook with papermill)

TRAIN_ON_NAN = """
import numpy as np, torch
from sercore import runs, train
P = runs.notebook_params(globals())
feats = [np.full((4, 3), np.nan, dtype=np.float32) for _ in range(6)]
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)
    def forward(self, x):
        return self.lin(x.mean(1))
train.fit(M(), train.FeatureDataset(feats, [0, 1] * 3, range(6), check_finite=False), None,
          train.TrainConfig(epochs=1, progress=False, inputs=("x",)), ["a", "b"])
"""


def test_sercore_run_with_a_nan_metric_exits_1_and_writes_nothing(tmp_path, project, monkeypatch, capsys):
    from sercore import cli

    proj = project(tmp_path / "proj", project.metrics_cell('rep["metrics"]["ua"] = float("nan")'),
                   **{"smoke.epochs": 2})
    res = tmp_path / "res"
    real = runs.run_notebook
    monkeypatch.setattr(runs, "run_notebook", lambda *a, **kw: real(*a, **kw, root=proj, results_root=res))
    assert cli.main(["run", "ctmam", "--dataset", "toy", "--profile", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "metrics.ua=nan" in err and "not a result" in err
    assert not (res / "ctmam" / "toy" / "smoke").exists()
    assert (res / "ctmam" / "toy" / "smoke.failed" / "ctmam.ipynb").exists()   # the failed run is kept
    assert not list(res.rglob("metrics.json"))                                  # nothing published


def test_a_run_whose_training_diverges_fails_and_keeps_earlier_results(tmp_path, project):
    proj = project(tmp_path / "proj", TRAIN_ON_NAN, **{"smoke.epochs": 2})
    final = tmp_path / "res" / "ctmam" / "toy" / "smoke"
    final.mkdir(parents=True)
    (final / "metrics.json").write_text('{"earlier": true}')
    with pytest.raises(RuntimeError) as err:
        runs.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    assert "TrainingError" in str(err.value) and "training loss became non-finite" in str(err.value)
    assert (final / "metrics.json").read_text() == '{"earlier": true}'
    assert (final.parent / "smoke.failed" / "ctmam.ipynb").exists()


# ----------------------------------------------------------------------------- keyed resume

def _finished(tmp_path, model=None, **kw):
    """A finished run's checkpoint folder (3 epochs, seed 0 unless told)."""
    feats, y = toy_data()
    tr, va = split(feats, y)
    ck = tmp_path / "ck"
    fit(model or MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck), **kw), LABELS)
    return ck, tr, va


@pytest.mark.parametrize("change, named", [
    ({"seed": 1}, "seed: 0 -> 1"),
    ({"epochs": 5}, "config.epochs: 3 -> 5"),
    ({"lr": 0.01}, "config.lr: 0.05 -> 0.01"),
    ({"optimizer": "adamw"}, "config.optimizer: 'adam' -> 'adamw'"),
])
def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, change, named):
    ck, tr, va = _finished(tmp_path)
    m = MeanLinear()
    with pytest.warns(CheckpointWarning) as w:
        res = fit(m, tr, va, cfg(checkpoint_dir=str(ck), **change), LABELS)
    msg = str(w[0].message)
    assert "is not resumed" in msg and named in msg and "starts fresh" in msg
    assert res.resumed_from == 0 and len(res.history) == change.get("epochs", 3)
    assert len(list(ck.glob("last.pt.stale-*"))) == 1 and len(list(ck.glob("best.pt.stale-*"))) == 1
    fresh = MeanLinear()                                      # the same as a run without any checkpoint
    fit(fresh, tr, va, cfg(**change), LABELS)
    assert same_weights(m, fresh)
    assert torch.load(ck / "last.pt", weights_only=True)["fingerprint"]["seed"] == change.get("seed", 0)


def test_a_checkpoint_of_another_model_shape_is_not_resumed(tmp_path):
    ck, tr, va = _finished(tmp_path)

    class Wider(MeanLinear):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 3))

    with pytest.warns(CheckpointWarning, match=r"model\.parameters: 21 -> 43; model\.shapes: '[0-9a-f]+' -> "):
        res = fit(Wider(), tr, va, cfg(checkpoint_dir=str(ck)), LABELS)
    assert res.resumed_from == 0 and len(res.history) == 3


def test_a_checkpoint_of_another_fold_or_data_is_not_resumed(tmp_path):
    ck, tr, va = _finished(tmp_path)
    feats, y = toy_data()
    other = FeatureDataset(feats, y, np.arange(9, 36))           # another fold's training part
    with pytest.warns(CheckpointWarning, match="train_data"):
        assert fit(MeanLinear(), other, va, cfg(checkpoint_dir=str(ck)), LABELS).resumed_from == 0
    feats[3] = feats[3] + 1.0                                    # re-extracted features, same shapes
    ck2 = tmp_path / "ck2"
    fit(MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck2)), LABELS)
    tr2, va2 = split(feats, y)
    with pytest.warns(CheckpointWarning, match="train_data"):
        assert fit(MeanLinear(), tr2, va2, cfg(checkpoint_dir=str(ck2)), LABELS).resumed_from == 0


def test_cross_validation_keys_checkpoints_by_fold(tmp_path):
    feats, y = toy_data()
    folds = [SimpleNamespace(name=f"f{i}", train=np.setdiff1d(np.arange(36), np.arange(i * 12, i * 12 + 12)),
                             val=np.array([], dtype=int), test=np.arange(i * 12, i * 12 + 12)) for i in range(2)]
    c = cfg(checkpoint_dir=str(tmp_path / "cv"))
    cross_validate(MeanLinear, feats, y, folds, c, LABELS)
    fp = torch.load(tmp_path / "cv" / "f1" / "last.pt", weights_only=True)["fingerprint"]
    assert fp["key.fold"] == "f1"
    # fold f1's folder reused for a fold named f0: not resumed
    (tmp_path / "cv" / "f0").rename(tmp_path / "cv" / "old")
    (tmp_path / "cv" / "f1").rename(tmp_path / "cv" / "f0")
    with pytest.warns(CheckpointWarning, match="key.fold: 'f1' -> 'f0'"):
        cross_validate(MeanLinear, feats, y, folds[:1], c, LABELS)


@pytest.mark.parametrize("damage, named", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "cannot be read"),
    (lambda p: p.write_text("not a checkpoint"), "cannot be read"),
    (lambda p: torch.save({"model": {}}, p), "it lacks"),
], ids=["truncated", "not-a-checkpoint", "missing-keys"])
def test_a_damaged_last_pt_is_set_aside_and_training_starts_fresh(tmp_path, damage, named):
    ck, tr, va = _finished(tmp_path)
    damage(ck / "last.pt")
    m = MeanLinear()
    with pytest.warns(CheckpointWarning) as w:
        res = fit(m, tr, va, cfg(checkpoint_dir=str(ck)), LABELS)
    msg = str(w[0].message)
    assert str(ck / "last.pt") in msg and named in msg and "last.pt.damaged-" in msg
    assert res.resumed_from == 0 and len(res.history) == 3
    fresh = MeanLinear()
    fit(fresh, tr, va, cfg(), LABELS)
    assert same_weights(m, fresh)


def test_a_missing_or_foreign_best_pt_is_not_trusted(tmp_path):
    ck, tr, va = _finished(tmp_path, epochs=2)
    (ck / "best.pt").unlink()
    with pytest.warns(CheckpointWarning, match="its best.pt cannot be used"):
        assert fit(MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck), epochs=2), LABELS).resumed_from == 0
    # best.pt of another run beside this run's last.pt
    _finished(tmp_path / "other", seed=1, epochs=2)
    (tmp_path / "other" / "ck" / "best.pt").replace(ck / "best.pt")
    with pytest.warns(CheckpointWarning, match="not the best epoch"):
        fit(MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck), epochs=2), LABELS)


def test_a_checkpoint_without_fingerprint_is_not_resumed(tmp_path):
    ck, tr, va = _finished(tmp_path)
    state = torch.load(ck / "last.pt", weights_only=True)
    del state["fingerprint"]
    torch.save(state, ck / "last.pt")
    with pytest.warns(CheckpointWarning, match="records no fingerprint"):
        assert fit(MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck)), LABELS).resumed_from == 0


def test_a_matching_checkpoint_resumes_whatever_the_execution_settings(tmp_path, recwarn):
    ck, tr, va = _finished(tmp_path)
    m = MeanLinear(seed=5)
    res = fit(m, tr, va, cfg(checkpoint_dir=str(ck), progress=True, device="cpu"), LABELS)
    assert res.resumed_from == 3 and res.optimizer_steps == 0 and len(res.history) == 3
    assert not [w for w in recwarn if issubclass(w.category, CheckpointWarning)]
    ref = MeanLinear()
    fit(ref, tr, va, cfg(), LABELS)
    assert same_weights(m, ref)                               # the finished run's best weights


def test_settings_given_as_numpy_scalars_still_resume(tmp_path, recwarn):
    """lr/batch_size read from an array are numpy scalars: the checkpoint must still load weights-only."""
    ck, tr, va = _finished(tmp_path, lr=np.float64(0.05), batch_size=np.int64(8))
    res = fit(MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck), lr=np.float64(0.05)), LABELS)
    assert res.resumed_from == 3
    assert not [w for w in recwarn if issubclass(w.category, CheckpointWarning)]


def test_a_temporary_of_a_dead_writer_is_removed(tmp_path):
    ck, tr, va = _finished(tmp_path)
    dead = ck / "last.pt.999999999.tmp"                 # no such process
    dead.write_bytes(b"half a checkpoint")
    mine = ck / f"best.pt.{os.getpid()}.tmp"            # a live writer's file stays
    mine.write_bytes(b"being written")
    assert fit(MeanLinear(), tr, va, cfg(checkpoint_dir=str(ck)), LABELS).resumed_from == 3
    assert not dead.exists() and mine.exists()


# ----------------------------------------------------------------------------- kill -9 and resume

KILL_SCRIPT = textwrap.dedent('''
    import json, os, sys, time
    import numpy as np, torch
    from sercore import train

    class Slow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(6, 3)

        def forward(self, x, lengths):
            if self.training and os.environ.get("SLOW"):
                time.sleep(float(os.environ["SLOW"]))
            mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).float()[..., None]
            return self.lin((x * mask).sum(1) / lengths[:, None])

    ckpt, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    feats = [(rng.normal(size=(int(rng.integers(4, 9)), 6)) + [2.0 * c, 0, 0, 0, 0, 0]).astype(np.float32)
             for c in y]
    tr = train.FeatureDataset(feats, y, np.arange(48))
    va = train.FeatureDataset(feats, y, np.arange(48, 60))
    cfg = train.TrainConfig(epochs=6, batch_size=8, lr=0.05, progress=False, checkpoint_dir=ckpt)
    model = Slow()
    res = train.fit(model, tr, va, cfg, ["a", "b", "c"])
    torch.save({"state": model.state_dict(), "resumed_from": res.resumed_from,
                "history": [{k: v for k, v in h.items() if k != "seconds"} for h in res.history],
                "metrics": train.evaluate(model, va, cfg, ["a", "b", "c"])["metrics"]}, out)
''')


@pytest.mark.timeout(120)
def test_kill_9_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    script = tmp_path / "train_slow.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "SERCORE_PROGRESS": "0"}
    env.pop("SLOW", None)
    t0 = time.time()
    ref = subprocess.Popen([sys.executable, str(script), str(tmp_path / "ref"), str(tmp_path / "ref.pt")],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    victim = subprocess.Popen([sys.executable, str(script), str(tmp_path / "ck"), str(tmp_path / "victim.pt")],
                              env={**env, "SLOW": "0.08"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    last = tmp_path / "ck" / "last.pt"
    while not last.exists():
        assert victim.poll() is None, victim.communicate()[1].decode()[-2000:]
        assert time.time() - t0 < 90, "no checkpoint within 90 s"
        time.sleep(0.02)
    time.sleep(0.2)                                        # into epoch 2's batches (6 x 0.08 s each)
    os.kill(victim.pid, signal.SIGKILL)                    # by PID, no chance to clean up
    assert victim.wait(timeout=30) == -signal.SIGKILL
    epoch_at_kill = torch.load(last, weights_only=True)["epoch"]
    assert 1 <= epoch_at_kill < 6 and not (tmp_path / "victim.pt").exists()

    resumed = subprocess.run([sys.executable, str(script), str(tmp_path / "ck"), str(tmp_path / "resumed.pt")],
                             env=env, capture_output=True, text=True, timeout=90)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "CheckpointWarning" not in resumed.stderr
    assert ref.wait(timeout=90) == 0, ref.communicate()[1].decode()[-3000:]
    a = torch.load(tmp_path / "ref.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert a["resumed_from"] == 0 and b["resumed_from"] == epoch_at_kill
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    assert a["history"] == b["history"] and len(a["history"]) == 6
    assert a["metrics"] == b["metrics"] and not math.isnan(a["metrics"]["ua"])
    assert not list((tmp_path / "ck").glob("*.tmp"))       # a killed write's temporary is cleaned up
