"""MLCCT chapter: frame pooling, modality detection, variants trained end to end on tiny
random features, the paper tables / comparisons bookkeeping, and the leaderboard method."""
import numpy as np
import pandas as pd
import pytest

from sercore import reference
from sercore.chapters import Method, mlcct
from sercore.protocols import Fold


def test_pool_frames_known_answer():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)          # rows [0,1],[2,3],[4,5],[6,7],[8,9]
    out = mlcct.pool_frames(x, 2)
    assert out.tolist() == [[1, 2], [5, 6], [8, 9]]              # the last group has one frame
    assert mlcct.pool_frames(x, 1) is x
    with pytest.raises(ValueError, match=r"\(T, D\)"):
        mlcct.pool_frames(np.zeros(3), 2)


def test_available_modalities():
    both = pd.DataFrame({"path": ["a.wav", "b.wav"], "text": ["hi", "yo"]})
    text_only = pd.DataFrame({"path": [None, None], "text": ["hi", "yo"]})
    blank = pd.DataFrame({"path": ["a.wav", "b.wav"], "text": ["hi", " "]})
    assert mlcct.available_modalities(both) == ("audio", "text")
    assert mlcct.available_modalities(text_only) == ("text",)
    assert mlcct.available_modalities(blank) == ("audio",)


def _toy(n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    feats = [{"audio": (rng.normal(size=(rng.integers(3, 9), 6)) + y[i]).astype(np.float32),
              "text": (rng.normal(size=(rng.integers(2, 6), 5)) - y[i]).astype(np.float32)} for i in range(n)]
    manifest = pd.DataFrame({"y": y})
    idx = np.arange(n)
    folds = [Fold("f", idx[idx % 6 < 4], idx[idx % 6 == 4], idx[idx % 6 == 5])]
    return feats, manifest, folds


TINY_P = dict(dataset="synthetic", epochs=1, batch_size=8, seed=0, model_lstm_hidden=4, model_d=4,
              model_token_dim=8, model_ffn_mult=1)


def test_run_variants_multimodal_trains_every_requested_variant():
    feats, manifest, folds = _toy()
    P = {**TINY_P, "unimodal": True, "ablations": ["A", "B", "C"], "table8_rows": [0, 3]}
    res = mlcct.run_variants(feats, manifest, folds, ["n", "h", "s", "a"], P, ("audio", "text"), nosse_feats=feats)
    assert set(res.variants) == {"multimodal", "audio", "text", "ablation A", "ablation B", "ablation C",
                                 "table8 0", "table8 3"}
    assert res.variants["table8 3"] is res.variants["multimodal"]         # the main row is not retrained
    assert res.variants["ablation A"].overrides["high_level"] is False
    assert res.variants["table8 0"].overrides["n_self"] == 1
    assert res.variants["table8 0"].n_params < res.main.n_params
    assert res.main.modalities == ("audio", "text") and res.reference_dataset == "iemocap"
    frame = mlcct.variants_frame(res)
    assert list(frame.index)[:3] == ["multimodal", "audio", "text"]
    # Table 3: the three MLCCT rows measured = each variant's WA; prior models stay reported-only
    t3 = mlcct.paper_table(res, "Table 3", None)
    assert t3.loc[("MLCCT", "text"), "accuracy measured"] == round(res.variants["text"].metrics["wa"], 2)
    assert t3.loc[("MLCCT", "multimodal"), "accuracy reported"] == 75.92
    assert pd.isna(t3.loc[("LSTM [47]", "audio")].get("accuracy measured", np.nan))
    t7 = mlcct.paper_table(res, "Table 7")
    assert t7.loc[("B", ""), "f1 measured"] == round(res.variants["ablation B"].metrics["weighted_f1"], 2)
    assert "CMU-MOSEI" in t7.attrs["note"]
    t5 = mlcct.paper_table(res, "Table 5", False)
    assert t5["accuracy measured"].isna().all() and "corpus not found" in t5.attrs["note"]


def test_text_only_corpus_and_comparisons():
    feats, manifest, folds = _toy()
    text = [{"text": f["text"]} for f in feats]
    P = {**TINY_P, "dataset": "iemocap_text", "ablations": ["A"], "table8_rows": [0]}
    res = mlcct.run_variants(text, manifest, folds, ["neutral", "happy", "sad", "angry"], P, ("text",))
    assert set(res.variants) == {"text"} and res.main is res.variants["text"]
    comps = mlcct.comparisons(res, {"iemocap": False, "meld": False, "mosei": False}, "dev note")
    by = {(c["table"], c["row"], c["metric"]): c for c in comps}
    t3 = by[("Table 3", "MLCCT [text]", "accuracy")]
    assert t3["reported"] == reference.get("mlcct", "Table 3", "MLCCT", "accuracy", column="text")
    assert t3["measured"] == round(res.main.metrics["wa"], 2) and "dev note" in t3["note"]
    assert by[("Table 3", "MLCCT [audio]", "accuracy")]["measured"] is None
    happy = by[("Table 4", "MLCCT [Happy]", "f1")]
    assert happy["reported"] == 82.8
    assert happy["measured"] == pytest.approx(res.main.per_class["happy"]["f1"], abs=0.01)
    assert all(c["measured"] is None for c in comps if c["table"] in ("Table 5", "Table 6", "Table 7", "Table 8"))
    assert "only text" in by[("Table 7", "D", "accuracy")]["note"]
    # every MLCCT cell of Tables 3-8 and the two quoted figure cells is listed once
    ref = reference.load("mlcct")
    mlcct_cells = ref[ref.table.isin(["Table 3", "Table 4", "Table 5", "Table 6"]) & (ref.row == "MLCCT")]
    expected = len(mlcct_cells) + len(ref[ref.table.isin(["Table 7", "Table 8", "Fig. 5", "Fig. 6"])])
    assert len(comps) == expected == len(by)


def test_bad_settings_raise():
    feats, manifest, folds = _toy()
    with pytest.raises(ValueError, match="ablations"):
        mlcct.run_variants(feats, manifest, folds, list("abcd"), {**TINY_P, "ablations": ["D"]}, ("audio", "text"))
    with pytest.raises(ValueError, match="nosse_feats"):
        mlcct.run_variants(feats, manifest, folds, list("abcd"), {**TINY_P, "unimodal": False, "ablations": ["C"]},
                           ("audio", "text"))
    with pytest.raises(ValueError, match="audio_model"):
        mlcct.features(pd.DataFrame({"path": ["x.wav"]}), ("audio",), {"audio_feature": "ssl"})


def test_method_contract():
    m = mlcct.method("smoke")
    assert isinstance(m, Method) and m.modalities == ("audio", "text") and m.paper == "mlcct"
    assert m.train.inputs == ("audio", "audio_lengths", "text", "text_lengths") and m.train.epochs == 2
    t = mlcct.method("quick", modalities=("text",), model_d=8)
    assert t.modalities == ("text",) and t.train.inputs == ("text", "text_lengths") and "text only" in t.name
    with pytest.raises(RuntimeError, match="features"):
        t.build(4)
    with pytest.raises(ValueError, match="profile"):
        mlcct.method("huge")
    with pytest.raises(ValueError, match="modalities"):
        mlcct.method("quick", modalities=("video",))


def test_method_builds_from_its_features(monkeypatch):
    feats, manifest, _ = _toy(n=4)
    monkeypatch.setattr(mlcct, "features", lambda manifest, mods, P, progress=True: feats)
    m = mlcct.method("smoke", model_d=4, model_token_dim=8, model_lstm_hidden=4)
    f = m.features(manifest)
    model = m.build(3)
    assert model.cfg.audio_dim == 6 and model.cfg.text_dim == 5 and model.cfg.n_classes == 3 and model.cfg.d == 4
    import torch
    out = model(torch.as_tensor(f[0]["audio"])[None], None, torch.as_tensor(f[0]["text"])[None], None)
    assert out.shape == (1, 3)
