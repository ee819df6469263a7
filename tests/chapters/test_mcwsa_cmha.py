"""MCWSA-CMHA chapter: modality detection, stand-in features, two-stage CV, tables, digits check, method()."""
import numpy as np
import pandas as pd
import pytest
import torch

from sercore import protocols, train
from sercore.chapters import mcwsa_cmha as ch

TINY = dict(latent_dim=8, heads=2, audio_channels=2, video_hidden=8, text_layers=1, text_ff=16, head_hidden=8,
            tfn_rank=2, dropout=0.0)


def test_available_modalities_reads_the_manifest_columns():
    m = pd.DataFrame({"path": ["a.wav", "b.wav"], "text": ["hi", "there"], "video": ["a.npy", None]})
    assert ch.available_modalities(m) == ("audio", "text")
    m2 = pd.DataFrame({"path": [None, None], "text": ["hi", "x"]})
    assert ch.available_modalities(m2) == ("text",)
    assert ch.available_modalities(pd.DataFrame({"path": ["a"], "text": ["  "]})) == ("audio",)


def test_text_projection_is_orthonormal_and_fixed():
    P = ch._projection(384, 300, 0)
    assert P.shape == (384, 300)
    assert np.allclose(P.T @ P, np.eye(300), atol=1e-4)
    assert np.array_equal(P, ch._projection(384, 300, 0))


def test_video_stand_ins_give_32x2048_deterministic_and_distinct(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, T in enumerate((7, 40)):               # 7 frames: fewer than the 16 finest regions (zero padding)
        p = tmp_path / f"v{i}.npy"
        np.save(p, rng.integers(0, 255, (T, 48, 48), dtype=np.uint8))
        paths.append(str(p))
    man = pd.DataFrame({"video": paths})
    a = ch.video_features(man, "randproj", progress=False)
    b = ch.video_features(man, "gradproj", progress=False)
    assert [x.shape for x in a] == [(32, 2048)] * 2 and [x.shape for x in b] == [(32, 2048)] * 2
    assert np.array_equal(a[1], ch.video_features(man, "randproj", progress=False)[1])
    assert not np.allclose(a[1], b[1])
    assert abs(float(a[1].mean())) < 1e-4 and float(a[1].std()) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="video must be one of"):
        ch.video_features(man, "vgg")


def test_resnet_path_explains_what_it_needs(tmp_path):
    man = pd.DataFrame({"video": [str(tmp_path / "x.npy")]})
    try:
        import torchvision  # noqa: F401
        match = "video_weights"
    except ImportError:
        match = "torchvision"
    with pytest.raises((ImportError, ValueError), match=match):
        ch.video_features(man, "resnet")


def _toy(n=30, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    feats = [{"audio": (rng.standard_normal((3, 16, 64)) + y[i]).astype(np.float32),
              "text": (rng.standard_normal((32, 12)) - y[i]).astype(np.float32),
              "video": rng.standard_normal((32, 20)).astype(np.float32)} for i in range(n)]
    man = pd.DataFrame({"y": y, "label": np.array(["a", "b", "c"])[y], "speaker": "s"})
    return feats, y, man


def test_run_cv_pretrains_every_fold_then_fine_tunes():
    feats, y, man = _toy()
    folds = protocols.make_folds(man, "kfold_val", k=5, seed=0, max_folds=2)
    build = ch.builder(feats, ("audio", "text", "video"), "cmha", 3, TINY)
    cfg = train.TrainConfig(epochs=2, batch_size=8, seed=0, progress=False, device="cpu",
                            inputs=("audio", "text", "video"))
    log, seen = [], []
    cv = ch.run_cv(build, feats, y, folds, cfg, ["a", "b", "c"], pretrain_epochs=2, log=log,
                   after_pretrain=lambda fold, model: seen.append(fold.name))
    assert len(cv.folds) == 2 and seen == [f.name for f in folds]
    assert [len(entry["history"]) for entry in log] == [2, 2]
    assert all("val_rec_loss" in h for entry in log for h in entry["history"])
    assert 0 <= cv.summary["mean"]["ua"] <= 100
    # NP: no stage 1
    log2 = []
    ch.run_cv(build, feats, y, folds[:1], cfg, ["a", "b", "c"], pretrain_epochs=0, log=log2)
    assert log2[0]["history"] == []


def test_run_setting_captures_representations_and_tables():
    feats, y, man = _toy()
    folds = protocols.make_folds(man, "kfold_val", k=5, seed=0, max_folds=1)
    P = dict(epochs=1, pretrain_epochs=1, batch_size=8, lr=1e-3, weight_decay=1e-4, sizes=TINY, seed=0,
             device="cpu")
    res = ch.run_setting(feats, y, folds, ["a", "b", "c"], ch.ALL, "cmha", True, P, capture=True)
    assert res["unsup"].shape == (30, 8) and res["sup"].shape == (30, 8)
    assert set(res["encoded"]) == {"audio", "text", "video"} and res["encoded"]["text"].shape == (30, 32 * 8)
    assert not np.allclose(res["unsup"], res["sup"])
    grid = {("cmha", "A+V+T"): res}
    t2 = ch.table_two(grid, "iemocap")
    assert t2.loc["The proposed CMHA", ("A+V+T", "UA", "reported")] == 86.3
    assert t2.loc["The proposed CMHA", ("A+V+T", "UA", "measured")] == round(res["ua"], 2)
    assert pd.isna(t2.loc["Concat [8]", ("A+V+T", "UA", "measured")])
    assert t2.loc["TFN [10]", ("A+V", "UA", "reported")] is None or pd.isna(t2.loc["TFN [10]", ("A+V", "UA", "reported")])
    t1 = ch.table_one(res["ua"], "iemocap", "synthetic")
    assert t1.loc["MCWSA-CMHA (Proposed)", "reported UA (%)"] == 86.3
    comps = ch.comparisons(grid, {"randproj": {"A+V+T": res}}, res, "iemocap", "synthetic")
    assert {(c["table"], c["metric"]) for c in comps} == {("Table I", "ua"), ("Table II", "ua"), ("Table II", "f1"),
                                                          ("Table III", "ua")}
    assert all(c["reported"] is not None for c in comps)
    t3 = ch.table_three({"randproj": {"A+V+T": res}}, "iemocap")
    assert t3.iloc[0][("A+V+T", "reported")] == 86.3 and t3.iloc[1][("A+V+T", "reported")] == 84.5


def test_plan_follows_parameters_and_modalities():
    P = dict(table2_fusions=["cmha", "mult", "concat"], table2_columns=["A+V", "A+V+T (NP)", "A+V+T"],
             table3_extractors=["gradproj"], table3_columns=["A+V+T", "A+T"])
    p = ch.plan(P, ch.ALL)
    assert p["full"] == "A+V+T" and len(p["table2"]) == 9 and ("concat", "A+V+T (NP)") in p["table2"]
    assert p["table3"] == [("gradproj", "A+V+T")]                 # A+T has no video
    p2 = ch.plan(P, ("audio", "text"))
    assert p2["full"] == "A+T" and {("cmha", "A+T"), ("mult", "A+T"), ("cmha", "A+T (NP)")} <= set(p2["table2"])
    assert all(c != "A+V" for _, c in p2["table2"]) and p2["table3"] == [] and p2["notes"]
    p3 = ch.plan(P, ("text",))
    assert p3["table2"] == [("cmha", "T"), ("cmha", "T (NP)")] and "one modality" in p3["notes"][0]
    assert ch.parse_column("A+V+T (NP)") == (ch.ALL, False)
    assert ch.subset_name(("video", "audio"), True) == "A+V"
    with pytest.raises(ValueError, match="unknown column"):
        ch.parse_column("A+X")


def test_digits_check_reconstructs_three_channels():
    out = ch.digits_check(epochs=3, n_train=128, n_show=4, sizes=TINY)
    assert set(out["inputs"]) == {"ch1", "ch2", "ch3"} and out["outputs"]["ch2"].shape == (4, 8, 8)
    assert out["history"][-1]["rec_loss"] < out["history"][0]["rec_loss"]
    assert out["groups"] == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]


def test_method_follows_the_manifest_modalities():
    feats, y, _ = _toy()
    text_only = pd.DataFrame({"path": [None], "text": ["hello"]})
    m = ch.method("smoke", manifest=text_only)
    assert m.modalities == ("text",) and m.run_cv is not None and m.train.inputs == ("text",)
    full = ch.method("smoke", latent_dim=8)
    assert full.modalities == ("audio", "text", "video")
    with pytest.raises(RuntimeError, match="features"):
        full.build(4)
    with pytest.raises(ValueError, match="profile"):
        ch.method("huge")


def test_mine_and_dcca_curves_cover_every_pair_and_fusion():
    rng = np.random.default_rng(0)
    orig = {m: rng.standard_normal((40, 50)).astype(np.float32) for m in ("audio", "text", "video")}
    enc = {m: rng.standard_normal((40, 30)).astype(np.float32) for m in ("audio", "text")}
    mi = ch.mine_curves(orig, enc, steps=5, dim=4)
    assert set(mi) == {"A-T"} and len(mi["A-T"]["encoded"].curve) == 5      # video not encoded: no V-T, A-V
    dc = ch.dcca_curves({"CMHA": enc["audio"], "MulT": enc["text"]}, orig["audio"], steps=5, dim=6, out_dim=2)
    assert set(dc) == {"CMHA", "MulT"}
    assert all(len(r.curve) == 5 and r.val_corr is not None and 0 <= r.corr <= 1 for r in dc.values())
