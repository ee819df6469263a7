"""MLCCT chapter: frame pooling, modalities, variants trained end to end on tiny random features,
the paper tables / comparisons bookkeeping, run() on the synthetic corpus, and the leaderboard method."""
import numpy as np
import pandas as pd
import pytest
import torch

from sercore import reference, runs
from sercore.chapters import Method, mlcct
from sercore.protocols import Fold
from sercore.results import ChapterResult
from sercore.schemas import ParamsError


def _P(dataset="synthetic", profile="smoke", **overrides):
    return runs.resolve("mlcct", dataset, profile, overrides)


def test_pool_frames_known_answer():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)          # rows [0,1],[2,3],[4,5],[6,7],[8,9]
    out = mlcct.pool_frames(x, 2)
    assert out.tolist() == [[1, 2], [5, 6], [8, 9]]              # the last group has one frame
    assert mlcct.pool_frames(x, 1) is x
    with pytest.raises(ValueError, match=r"\(T, D\)"):
        mlcct.pool_frames(np.zeros(3), 2)


def test_used_modalities_intersects_params_and_corpus():
    P = _P()
    assert mlcct.used_modalities(P, ("audio", "text", "video")) == ("audio", "text")
    assert mlcct.used_modalities(P, ("text",)) == ("text",)
    assert mlcct.used_modalities({**P, "modalities": ["text"]}, ("audio", "text")) == ("text",)
    assert mlcct.used_modalities(P, ("video",)) == ()


def test_params_official_split_without_sessions_and_bad_values():
    # MELD and CMU-MOSEI use the loader's split column: no test sessions leak in from a default
    for ds in ("meld", "mosei"):
        P = _P(ds)
        assert P["protocol"] == "official" and P["test_sessions"] is None
    assert _P("iemocap")["test_sessions"] == [5]
    assert _P("meld", "paper")["preset"] == "mlcct_meld"
    with pytest.raises(ParamsError, match="ablations"):
        _P(ablations=["D"])
    with pytest.raises(ParamsError, match="table8_rows"):
        _P(table8_rows=[7])


def _toy(n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    feats = [{"audio": (rng.normal(size=(rng.integers(3, 9), 6)) + y[i]).astype(np.float32),
              "text": (rng.normal(size=(rng.integers(2, 6), 5)) - y[i]).astype(np.float32)} for i in range(n)]
    idx = np.arange(n)
    folds = [Fold("f", idx[idx % 6 < 4], idx[idx % 6 == 4], idx[idx % 6 == 5])]
    return feats, y, folds


def test_run_variants_multimodal_trains_every_requested_variant():
    feats, y, folds = _toy()
    P = _P(unimodal=True, ablations=["A", "B", "C"], table8_rows=[0, 3])
    mods = ("audio", "text")
    v = mlcct.run_variants(feats, y, folds, ["n", "h", "s", "a"], P, mods, nosse_feats=feats)
    assert set(v) == {"multimodal", "audio", "text", "ablation A", "ablation B", "ablation C", "table8 0", "table8 3"}
    assert v["table8 3"] is v["multimodal"]                       # the main row is not retrained
    assert v["ablation A"].overrides["high_level"] is False
    assert v["table8 0"].overrides["n_self"] == 1
    assert v["table8 0"].n_params < v["multimodal"].n_params
    assert v["multimodal"].modalities == mods and v["text"].modalities == ("text",)
    assert list(mlcct.variants_frame(v).index)[:3] == ["multimodal", "audio", "text"]
    # Table 3: the three MLCCT rows measured = each variant's WA; prior models stay reported-only
    t3 = mlcct.paper_table("Table 3", v, mods, P)
    assert t3.loc[("MLCCT", "text"), "accuracy measured"] == round(v["text"].metrics["wa"], 2)
    assert t3.loc[("MLCCT", "multimodal"), "accuracy reported"] == 75.92
    assert pd.isna(t3.loc[("LSTM [47]", "audio")].get("accuracy measured", np.nan))
    t7 = mlcct.paper_table("Table 7", v, mods, P)
    assert t7.loc[("B", ""), "f1 measured"] == round(v["ablation B"].metrics["weighted_f1"], 2)
    assert "CMU-MOSEI" in t7.attrs["note"]
    t8 = mlcct.paper_table("Table 8", v, mods, P)
    assert t8["acc2 measured"].isna().all() and t8["acc6 measured"].notna().sum() == 2
    t5 = mlcct.paper_table("Table 5", v, mods, P, {"meld": False})
    assert t5["accuracy measured"].isna().all() and "corpus not found" in t5.attrs["note"]


def test_text_only_corpus_and_comparisons():
    feats, y, folds = _toy()
    text = [{"text": f["text"]} for f in feats]
    P = _P("iemocap_text", ablations=["A"], table8_rows=[0])
    v = mlcct.run_variants(text, y, folds, ["neutral", "happy", "sad", "angry"], P, ("text",))
    assert set(v) == {"text"}
    comps = mlcct.comparisons(v, ("text",), P, {"iemocap": False, "meld": False, "mosei": False}, "dev note")
    by = {(c["table"], c["row"], c["metric"]): c for c in comps}
    t3 = by[("Table 3", "MLCCT [text]", "accuracy")]
    assert t3["reported"] == reference.get("mlcct", "Table 3", "MLCCT", "accuracy", column="text")
    assert t3["measured"] == round(v["text"].metrics["wa"], 2) and "dev note" in t3["note"]
    assert by[("Table 3", "MLCCT [audio]", "accuracy")]["measured"] is None
    happy = by[("Table 4", "MLCCT [Happy]", "f1")]
    assert happy["reported"] == 82.8
    assert happy["measured"] == pytest.approx(v["text"].per_class["happy"]["f1"], abs=0.01)
    assert all(c["measured"] is None for c in comps if c["table"] in ("Table 5", "Table 6", "Table 7", "Table 8"))
    assert "only text" in by[("Table 7", "D", "accuracy")]["note"]
    # every MLCCT cell of Tables 3-8 and the two quoted figure cells is listed once, with its reported value
    ref = reference.load("mlcct")
    mlcct_cells = ref[ref.table.isin(["Table 3", "Table 4", "Table 5", "Table 6"]) & (ref.row == "MLCCT")]
    expected = len(mlcct_cells) + len(ref[ref.table.isin(["Table 7", "Table 8", "Fig. 5", "Fig. 6"])])
    assert len(comps) == expected == len(by)
    assert all(c["reported"] is not None for c in comps)


def test_bad_settings_raise():
    feats, y, folds = _toy()
    with pytest.raises(ValueError, match="nosse_feats"):
        mlcct.run_variants(feats, y, folds, list("abcd"), _P(unimodal=False, ablations=["C"], table8_rows=[]),
                           ("audio", "text"))
    with pytest.raises(ValueError, match="audio_model"):
        mlcct.features(pd.DataFrame({"path": ["x.wav"]}), ("audio",), _P(audio_feature="ssl"))


def test_run_note_is_computed_from_params():
    note = mlcct.run_note(_P())
    assert "**smoke**" in note and "1 epoch(s) of batch 16" in note and "at most 8 utterances per class" in note
    assert "Table 7 strategies A" in note and "Table 8 rows 3" in note
    assert "every fold" in mlcct.run_note(_P(profile="paper")) and "50 epoch(s)" in mlcct.run_note(_P(profile="paper"))


def test_readings_rendered_from_the_model_docstring():
    from sercore import models
    text = models.readings("mlcct")
    assert "Circulant interaction" in text and "Blocks vs heads" in text and "ACC-2" in text and "WA" in text


def test_run_on_synthetic_returns_a_chapter_result(monkeypatch):
    """run() end to end on the synthetic smoke corpus, features replaced by toy ones of the right count."""
    from sercore import experiment

    P = _P(table8_rows=[0, 3], ablations=["A", "C"])
    corpus = experiment.load_corpus(P)
    rng = np.random.default_rng(0)
    calls = []

    def fake(manifest, mods, P_, *, sse=True, progress=None):
        calls.append((tuple(mods), sse))
        return [{m: rng.normal(size=(4, 6 if m == "audio" else 5)).astype(np.float32) for m in mods}
                for _ in range(len(manifest))]

    monkeypatch.setattr(mlcct, "features", fake)
    res = mlcct.run(P, corpus)
    assert isinstance(res, ChapterResult)
    assert calls == [(("audio", "text"), True), (("audio", "text"), False)]
    assert res.protocol["name"] == "official" and res.extra["main_variant"] == "audio+text"
    assert set(res.figures["tables"]) == set(mlcct.TABLES)
    assert set(res.figures["variants"].index) == {"multimodal", "audio", "text", "ablation A", "ablation C",
                                                  "table8 0", "table8 3"}
    assert round(res.metrics["wa"], 2) == res.figures["variants"].loc["multimodal", "WA"]
    assert set(res.figures["confusions"]) == {"multimodal", "audio", "text"}
    assert res.confusion["labels"] == corpus.labels
    t3 = {c["row"]: c for c in res.comparisons if c["table"] == "Table 3"}
    assert t3["MLCCT [multimodal]"]["measured"] == round(res.metrics["wa"], 2)
    # a text-only view of the same corpus trains the text model only
    P_text = {**P, "modalities": ["text"]}
    res = mlcct.run(P_text, corpus)
    assert list(res.figures["variants"].index) == ["text"] and res.extra["main_variant"] == "text"


def test_method_contract():
    P = _P()
    m = mlcct.method(P, have=("audio", "text", "video"))
    assert isinstance(m, Method) and m.modalities == ("audio", "text") and m.paper == "mlcct" and m.name == "MLCCT"
    assert m.train.inputs == ("audio", "audio_lengths", "text", "text_lengths")
    assert (m.train.epochs, m.train.batch_size, m.train.lr) == (P["epochs"], P["batch_size"], P["lr"])
    t = mlcct.method(_P("iemocap_text", "quick"), have=("text",))
    assert t.modalities == ("text",) and t.train.inputs == ("text", "text_lengths") and "text only" in t.name
    assert t.train.epochs == 4 and t.train.batch_size == 64
    with pytest.raises(RuntimeError, match="features"):
        t.build(4)
    # a corpus with neither modality: the method still asks for both, so the leaderboard reports it as not run
    assert mlcct.method(P, have=("video",)).modalities == ("audio", "text")


def test_method_builds_from_its_features(monkeypatch):
    feats, _, _ = _toy(n=4)
    monkeypatch.setattr(mlcct, "features", lambda manifest, mods, P: feats)
    m = mlcct.method(_P(), have=("audio", "text"))
    f = m.features(pd.DataFrame({"y": range(4)}))
    model = m.build(3)
    assert model.cfg.audio_dim == 6 and model.cfg.text_dim == 5 and model.cfg.n_classes == 3 and model.cfg.d == 32
    out = model(torch.as_tensor(f[0]["audio"])[None], None, torch.as_tensor(f[0]["text"])[None], None)
    assert out.shape == (1, 3)


def test_comparison_notes_name_the_metric_reading():
    feats, y, folds = _toy()
    text = [{"text": f["text"]} for f in feats]
    P = _P("iemocap_text")
    v = mlcct.run_variants(text, y, folds, ["neutral", "happy", "sad", "angry"], P, ("text",))
    by = {(c["table"], c["row"], c["metric"]): c["note"] for c in mlcct.comparisons(v, ("text",), P)}
    assert mlcct.ACC_NOTE in by[("Table 3", "MLCCT [text]", "accuracy")]
    assert mlcct.F1_NOTE in by[("Table 5", "MLCCT [text]", "f1")]
    assert mlcct.RECALL_NOTE in by[("Table 4", "MLCCT [Happy]", "accuracy")]
    assert mlcct.F1_NOTE not in by[("Table 4", "MLCCT [Happy]", "f1")]


def test_text_baselines_majority_and_tfidf_on_the_runs_own_folds():
    """Majority class = the training part's most frequent class; TF-IDF + logistic regression learns words that
    name the class, with C chosen on the validation part only (the test part never chooses anything)."""
    rng = np.random.default_rng(0)
    words = {0: "calm quiet fine", 1: "angry furious mad", 2: "sad crying tears"}
    y = np.array([0] * 60 + [1] * 25 + [2] * 15)
    rng.shuffle(y)
    text = [f"{words[int(c)]} {' '.join(rng.choice(['the', 'a', 'we', 'today', 'it'], 3))}" for c in y]
    m = pd.DataFrame({"text": text, "y": y})
    idx = np.arange(len(y))
    folds = [Fold("official", idx[:60], idx[60:75], idx[75:])]
    t = mlcct.text_baselines(m, folds, ["neutral", "angry", "sad"])
    maj = t.loc["majority class"]
    assert maj["test utterances"] == 25
    assert maj["WA"] == pytest.approx(100 * np.mean(y[75:] == np.bincount(y[:60]).argmax()))
    assert maj["UA"] == pytest.approx(100 / 3)
    tf = t.loc["TF-IDF + logistic regression"]
    assert tf["WA"] == 100.0 and tf["UA"] == 100.0 and "15 validation utterances" in tf["how"]
    with pytest.raises(ValueError, match="transcript"):
        mlcct.text_baselines(m.assign(text=None), folds, ["neutral", "angry", "sad"])
