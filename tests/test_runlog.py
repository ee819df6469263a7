"""A long run shows where it is: fit's progress lines in run.log, the test-set monitor kept apart
from selection, `sercore status` listing live runs, the log echoed to the terminal."""
import io
import os
import subprocess
import sys

import numpy as np

from sercore import cli, runlog, train
from sercore.protocols import Fold
from sercore.train import FeatureDataset, TrainConfig, cross_validate

from .test_train import LABELS, make_model, toy_data


def test_fit_writes_one_progress_line_per_epoch_and_the_test_monitor_never_selects(tmp_path, monkeypatch):
    log = tmp_path / "run.log"
    monkeypatch.setenv("SERCORE_RUN_LOG", str(log))
    feats, y = toy_data()
    fold = Fold(name="f1", train=np.arange(45), val=np.arange(0), test=np.arange(45, 60))
    cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-2, progress=False, seed=0)
    with train.progress_stage("toy seed 0"):
        plain = cross_validate(make_model, feats, y, [fold], cfg, LABELS)
        watched = cross_validate(make_model, feats, y, [fold], cfg, LABELS, monitor_test=True)
    lines = log.read_text().splitlines()
    assert len(lines) == 6
    assert "toy seed 0 | fold f1 | epoch 3/3 | loss " in lines[-1] and "ETA 0m00s (this fit)" in lines[-1]
    hist = watched.folds[0]["fit"]["history"]
    assert all({"test_wa", "test_ua"} <= set(h) for h in hist)
    assert "test_wa" not in plain.folds[0]["fit"]["history"][0]
    # the monitor only records: the tested model is the last epoch's, as without it
    assert watched.folds[0]["report"]["metrics"] == plain.folds[0]["report"]["metrics"]
    assert hist[-1]["test_wa"] == watched.folds[0]["report"]["metrics"]["wa"]


def test_status_lists_live_locks_with_their_last_line_and_ignores_dead_ones(tmp_path, capsys):
    cell = tmp_path / "ctmam" / "emodb"
    cell.mkdir(parents=True)
    (cell / ".reference.lock").write_text(str(os.getpid()))
    stage = cell / f".reference.running-{os.getpid()}"
    stage.mkdir()
    runlog.write_line(stage / "run.log", "started")
    runlog.write_line(stage / "run.log", "variant proposed (1/1) | fold random | epoch 7/150 | loss 0.8")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (cell / ".quick.lock").write_text(dead)
    live = runlog.live_runs(tmp_path)
    assert [r["folder"] for r in live] == [str(cell / "reference")]
    assert live[0]["last"].endswith("epoch 7/150 | loss 0.8") and live[0]["pid"] == os.getpid()
    assert cli.main(["status", "--results", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "epoch 7/150" in shown and str(cell / "reference") in shown and "quick" not in shown
    assert runlog.status_text(tmp_path / "nothing").startswith("no run in progress")


def test_echo_copies_new_lines_to_the_terminal(tmp_path):
    log = tmp_path / "run.log"
    out = io.StringIO()
    with runlog.echo(log, out, interval=0.01):
        runlog.write_line(log, "epoch 1/2 | loss 1.0")
        runlog.write_line(log, "epoch 2/2 | loss 0.5")
    assert out.getvalue().count("\n") == 2 and "epoch 2/2" in out.getvalue()


def test_a_resumed_fit_says_where_it_resumed(tmp_path, monkeypatch):
    log = tmp_path / "run.log"
    monkeypatch.setenv("SERCORE_RUN_LOG", str(log))
    feats, y = toy_data()
    tr = FeatureDataset(feats, y, np.arange(30))
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-2, progress=False, seed=0, checkpoint_dir=str(tmp_path / "ck"))
    train.fit(make_model(), tr, None, cfg, LABELS, key={"fold": "f1"})
    train.fit(make_model(), tr, None, cfg, LABELS, key={"fold": "f1"})      # finds last.pt of epoch 2
    lines = log.read_text().splitlines()
    assert len(lines) == 3 and lines[-1].endswith(f"fold f1 | resumed from {tmp_path / 'ck' / 'last.pt'} after epoch 2/2")


def test_feature_extraction_writes_a_line_now_and_then_where_no_bar_can_be_drawn(tmp_path, monkeypatch):
    """A `sercore run` kernel (no bar, SERCORE_RUN_LOG set) gets a progress line at least every
    TICK_SECONDS of extraction, and one at the end of a stretch that took longer."""
    import numpy as np
    import soundfile as sf

    from sercore import features
    from sercore.features import extractors

    rows = []
    for i in range(6):
        p = tmp_path / f"a{i}.wav"
        sf.write(p, (0.1 * np.sin(np.arange(1600) / 5)).astype("float32"), 16000)
        rows.append({"utt_id": f"a{i}", "path": str(p), "start": None, "end": None})
    log = tmp_path / "run.log"
    monkeypatch.setenv("SERCORE_RUN_LOG", str(log))
    monkeypatch.setattr(extractors, "TICK_SECONDS", 0.0)          # every update is "10 s later"
    features.extract(rows, "mfcc", cache=False, progress=False)
    lines = log.read_text().splitlines()
    assert lines and all("features[mfcc]: " in ln for ln in lines)
    assert "6/6 utt (computed 6)" in lines[-1] and " s" in lines[-1]
