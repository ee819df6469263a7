"""CTMAM chapter: feature pipeline, paper recipe, parameter table, comparison rows, Eq. 25, method()."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sercore.chapters import Method
from sercore.chapters import ctmam as chapter
from sercore.protocols import Fold


def test_train_config_is_the_papers_recipe():
    cfg = chapter.train_config("paper")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.optimizer) == (150, 128, 1e-3, 1e-6, "adam")
    assert (cfg.scheduler, cfg.gamma, cfg.lr_min, cfg.mixup_alpha) == ("exp", 0.95, 1e-6, 0.2)
    assert cfg.inputs == ("x",)
    assert chapter.train_config("smoke", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="profile"):
        chapter.train_config("huge")


def test_segment_features_loop_short_and_window_long(tmp_path):
    sr = 16000
    rng = np.random.default_rng(0)
    rows = []
    for name, seconds in (("short", 0.7), ("long", 2.4)):
        p = tmp_path / f"{name}.wav"
        sf.write(p, (0.1 * rng.standard_normal(int(seconds * sr))).astype(np.float32), sr)
        rows.append({"utt_id": name, "path": str(p)})
    feats = chapter.segment_features(pd.DataFrame(rows), progress=False)
    assert feats[0].shape == (1, 26, 57)              # looped to one 1.8 s segment
    # 2.4 s: windows at 0, 0.2, 0.4, 0.6 s (the last ends exactly at 2.4 s)
    assert feats[1].shape == (4, 26, 57)
    capped = chapter.cap_segments(feats, 2)
    assert [len(f) for f in capped] == [1, 2]
    assert np.array_equal(capped[1][1], feats[1][-1])


def test_parameter_table_pins_the_papers_counts():
    t = chapter.parameter_table("ctmam", 4)
    assert t.loc["proposed", "params (ours)"] == 1_031_674 == t.loc["proposed", "params (paper)"]
    assert t.loc["conv_lct", "difference"] == 0 and t.loc["convffn_l", "difference"] == 0
    assert t.loc["no_lct", "table"] == "Table V" and pd.isna(t.loc["no_lct", "params (paper)"])
    assert len(t) == 1 + 6 + 9          # proposed, 6 ablations, 10 efficiency variants (conv_lct shared)


def test_paper_eq25_is_precision_based():
    conf = {"labels": ["a", "b"], "matrix": [[8, 2], [0, 10]]}   # recalls .8, 1; precisions 1, 10/12
    got = chapter.paper_eq25(conf)
    assert got["ua"] == pytest.approx(100 * (1 + 10 / 12) / 2)
    assert got["wa"] == pytest.approx(100 * (10 * 1 + 10 * 10 / 12) / 20)


def test_headline_and_variant_comparisons_carry_reported_numbers():
    per_class = {lab: {"precision": 50.0, "recall": 60.0, "f1": 55.0, "support": 3}
                 for lab in ("neutral", "happy", "sad", "angry", "fear", "disgust", "boredom")}
    rows = chapter.headline_comparisons("emodb", {"wa": 70.0, "ua": 65.0}, per_class)
    by = {(r["table"], r["row"], r["metric"]): r for r in rows}
    assert by[("Table II", "Proposed", "wa")]["reported"] == 90.65
    assert by[("Table IV", "Happy", "precision")]["reported"] == 83.33
    assert by[("Table IV", "UA", "ua")]["measured"] == 65.0
    assert len(rows) == 2 + 7 * 3 + 2
    trained = {"": {"metrics": {"wa": 1.0, "ua": 2.0}, "epochs": 1, "seconds": 0.1},
               "no_lct": {"metrics": {"wa": 3.0, "ua": 4.0}, "epochs": 1, "seconds": 0.1}}
    params = chapter.parameter_table("ctmam", 4)
    vrows = chapter.variant_comparisons(trained, params)
    vby = {(r["table"], r["row"], r["metric"]): r for r in vrows}
    assert vby[("Table V", "W/o LCT", "wa")]["reported"] == 67.12 and vby[("Table V", "W/o LCT", "wa")]["measured"] == 3.0
    assert vby[("Table VI", "Proposed", "params")]["measured"] == 1_031_674
    assert ("Table V", "W/o CA", "wa") not in vby                       # not trained -> no row
    assert sum(r["metric"] == "params" for r in vrows) == 11
    frame = chapter.variant_frame(trained, params, "Table V")
    assert frame.loc["no_lct", "WA measured"] == 3.0 and pd.isna(frame.loc["no_ca", "WA measured"])


def test_train_variants_and_method_on_tiny_data():
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((2, 26, 57)).astype(np.float32) + (i % 2) for i in range(8)]
    y = np.arange(8) % 2
    fold = Fold("random", np.arange(6), np.array([], dtype=np.int64), np.arange(6, 8), {})
    cfg = chapter.train_config("smoke", batch_size=4, progress=False)
    out = chapter.train_variants(["", "no_lct"], "ctmam_emodb", feats, y, [fold], cfg, ["a", "b"], progress=False)
    assert set(out) == {"", "no_lct"}
    assert out[""]["batch_size"] == 4
    odd = chapter.train_variants(["no_lct"], "ctmam_emodb", feats, y, [fold], chapter.train_config(
        "smoke", batch_size=11, progress=False), ["a", "b"], progress=False)
    assert odd["no_lct"]["batch_size"] == 12                            # 12 % 11 == 1 would leave a batch of one
    assert out[""]["n_params"] == 544_361 - 8967 + (1280 * 2 + 2)       # 2-class head
    assert sum(out["no_lct"]["confusion"]["matrix"][0]) + sum(out["no_lct"]["confusion"]["matrix"][1]) == 2
    m = chapter.method("smoke")
    assert isinstance(m, Method) and m.segmented and m.modalities == ("audio",)
    import torch
    assert m.build(5).eval()(torch.zeros(1, 26, 57)).shape == (1, 5)
    assert m.train.epochs == 1 and m.train.mixup_alpha == 0.2
