"""MDAT chapter: label maps, k-shot sampler, params schema, method(P, have), a tiny end-to-end run()."""
import numpy as np
import pandas as pd
import pytest

from sercore import chapters, experiment
from sercore.chapters import mdat as ch
from sercore.runs import resolve
from sercore.schemas import ParamsError
from sercore.schemas.mdat import main_spec
from sercore.data import get_label_map
from sercore.protocols import cross_corpus_split, make_kshot


def _manifest(labels, corpus="x", n_spk=4):
    return pd.DataFrame({"utt_id": [f"{corpus}{i}" for i in range(len(labels))], "label": labels,
                         "speaker": [f"{corpus}_s{i % n_spk}" for i in range(len(labels))],
                         "corpus": corpus})


def test_emodb_boredom_is_sad_and_the_subset_has_420_utterances():
    counts = {"angry": 127, "boredom": 81, "disgust": 46, "fear": 69, "happy": 71, "sad": 62, "neutral": 79}
    m = _manifest([lab for lab, n in counts.items() for _ in range(n)], "emodb")
    out = get_label_map(ch.LABEL_MAPS["emodb"]).apply(m)
    classes = get_label_map("emodb4_mdat").classes
    per = out["y"].map(lambda i: classes[i]).value_counts().to_dict()
    assert per == {"angry": 127, "sad": 143, "neutral": 79, "happy": 71} and len(out) == 420  # Sec. IV-A
    assert out.attrs["dropped"] == {"fear": 69, "disgust": 46}


def test_every_corpus_maps_onto_the_same_four_classes_in_one_order():
    classes = {get_label_map(v).classes for v in ch.LABEL_MAPS.values()}
    assert classes == {("neutral", "happy", "sad", "angry")}
    emovo = get_label_map(ch.LABEL_MAPS["emovo"]).apply(
        _manifest(["neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"], "emovo"))
    assert emovo["y"].tolist() == [0, 1, 2, 3] and set(emovo.attrs["dropped"]) == {"fear", "disgust", "surprise"}
    urdu = get_label_map(ch.LABEL_MAPS["urdu"]).apply(_manifest(["angry", "happy", "neutral", "sad"], "urdu"))
    assert urdu["y"].tolist() == [3, 1, 0, 2]
    assert ch.SYNTHETIC_STANDS_FOR == {"en": "iemocap", "de": "emodb", "it": "emovo", "ur": "urdu"}


def test_cross_corpus_pair_through_the_shared_map():
    src = get_label_map("ser4").apply(_manifest(["neutral", "happy", "sad", "angry"] * 5, "urdu"))
    tgt = get_label_map("emodb4_mdat").apply(_manifest(["boredom", "happy", "sad", "angry", "neutral"] * 3, "emodb"))
    with pytest.raises(ValueError, match="label map"):
        cross_corpus_split(src, tgt)               # two map names: refused without the chapter's check
    a, b = ch._shared(src, tgt)
    combined, fold = cross_corpus_split(a, b, seed=0)
    assert set(fold.test) == set(range(20, 35)) and set(fold.train) | set(fold.val) == set(range(20))
    assert (combined["y"].iloc[20:] == [2, 1, 2, 3, 0] * 3).all()   # boredom -> sad (2)
    with pytest.raises(ValueError, match="different classes"):
        ch._shared(src, get_label_map("emodb7").apply(_manifest(["fear", "happy"], "emodb")))


@pytest.mark.parametrize("k", [0, 5, 10, 15])
def test_kshot_sampler_is_disjoint_k_per_class_and_seeded(k):
    m = get_label_map("ser4").apply(_manifest(["neutral", "happy", "sad", "angry"] * 25))
    folds = [make_kshot(m, k, seed=s) for s in range(3)]
    for f in folds:
        assert not np.intersect1d(f.train, f.test).size          # never used for both
        assert len(f.train) + len(f.test) == len(m)
        assert (np.bincount(m["y"].to_numpy()[f.train], minlength=4) == k).all()
    if k:
        assert len({tuple(f.train) for f in folds}) == 3            # several seeds differ
        assert (make_kshot(m, k, seed=1).train == folds[1].train).all()


def test_method_takes_the_resolved_params_and_goes_audio_only_without_text():
    P = resolve("mdat", "emodb", "quick", {"seed": 3})
    mm = ch.method(P, have=("audio", "text"))
    assert mm.name == "MDAT" and mm.modalities == ("audio", "text") and mm.train.inputs[-1] == "text_lengths"
    assert (mm.train.epochs, mm.train.batch_size, mm.train.lr, mm.train.weight_decay, mm.train.seed) == (
        P["epochs"], P["batch_size"], 0.001, 0.0001, 3) == (8, 32, 0.001, 0.0001, 3)
    assert mm.build(4).cfg.use_text and mm.build(4).cfg.use_graph
    ao = ch.method({**P, "epochs": 3}, have=("audio",))
    assert ao.modalities == ("audio",) and ao.train.inputs == ("audio", "audio_lengths")
    assert ao.train.epochs == 3 and not ao.build(4).cfg.use_text and "audio only" in ao.name
    assert chapters.method("mdat", P, have=("audio", "text", "video")).modalities == ("audio", "text")


def test_build_uses_the_table_vi_presets():
    assert ch.build("baseline", 4).__class__.__name__ == "MDATBaseline"
    m3 = ch.build("m3", 4, use_text=False).cfg
    assert (m3.use_graph, m3.use_coattention, m3.use_transformer, m3.use_text) == (True, False, False, False)
    with pytest.raises(ValueError, match="model kind"):
        ch.build("m8", 4)


def test_params_pin_each_corpus_to_its_label_map_and_the_main_corpus_to_corpora():
    assert resolve("mdat", "emodb", "smoke")["label_map"] == "emodb4_mdat"
    assert resolve("mdat", "iemocap", "smoke")["label_map"] == "iemocap4"
    P = resolve("mdat", "synthetic", "smoke")
    assert main_spec(P["corpus"], P["languages"]) == "synthetic:en" == P["corpora"][0]
    for overrides, match in (({"label_map": "emodb7"}, "label_map"), ({"languages": None}, "languages"),
                             ({"corpora": ["synthetic:de"], "ablation_source": "synthetic:de"}, "main corpus"),
                             ({"corpora": ["synthetic:en", "emodb:de"]}, "corpora"),
                             ({"ablation_source": "emodb"}, "ablation_source"),
                             ({"kshot_sources": ["urdu"]}, "kshot_sources")):
        with pytest.raises(ParamsError, match=match):
            resolve("mdat", "synthetic", "smoke", overrides)
    with pytest.raises(ParamsError, match="emodb4_mdat"):
        resolve("mdat", "emodb", "smoke", {"label_map": "ser4"})


def test_run_two_synthetic_languages_end_to_end(monkeypatch):
    monkeypatch.setenv("SERCORE_PROGRESS", "0")
    P = resolve("mdat", "synthetic", "smoke", {"corpora": ["synthetic:en", "synthetic:de"], "n_per_class": 4,
                                               "kshot_ks": [0, 2]})
    corpus = experiment.load_corpus(P)
    r = ch.run(P, corpus)
    F = r.figures
    assert r.protocol["name"] == "official" and set(r.metrics) >= {"wa", "ua", "macro_f1", "weighted_f1"}
    assert r.confusion["labels"] == ["neutral", "happy", "sad", "angry"]
    assert r.extra["headline"] == "within-corpus MDAT on synthetic:en (for IEMOCAP)"
    assert F["within"][["spec", "kind"]].values.tolist() == [[s, k] for s in P["corpora"] for k in ("baseline", "mdat")]
    assert len(F["cross"]) == 4 and set(F["cross"]["kind"]) == {"baseline", "mdat"}        # 2 pairs x 2 models
    assert set(F["kshot"].s) == {"synthetic:en"} and sorted(set(F["kshot"].k)) == [0, 2]
    assert (F["kshot"]["adapt"] == F["kshot"]["k"] * 4).all()                                 # k per class
    assert F["ablations"]["setting"].eq("cross-language").all() and len(F["ablation_table"]) == 7
    # Model 1 of Table VI is the cross-language MDAT, not a second training
    m1 = F["ablations"][F["ablations"].k == 1]["UA"].iloc[0]
    assert m1 == F["cross"][(F["cross"].s == "synthetic:en") & (F["cross"].kind == "mdat")]["UA"].iloc[0]
    tables = {c["table"] for c in r.comparisons}
    assert tables == {"Table II", "Table IV", "Table V", "Table VI"}
    iv = next(c for c in r.comparisons if c["row"] == "MDAT [IEMOCAP->EMODB]")
    assert iv["reported"] == 42.48 and "not comparable" in iv["note"]
    assert F["labels"][F["main"]] == "synthetic:en (for IEMOCAP)" and F["data"]["utterances"].tolist() == [16, 16]
    assert "Training: 1 epoch(s)" in ch.describe_run(P) and "`smoke`-profile" in ch.describe_run(P)


def test_reported_tables_come_from_the_reference():
    t = ch.reported_within()
    assert t.loc["emodb", "MDAT"] == 84.50 and t.loc["iemocap", "HCAM [81]"] == 73.67
    iv = ch.reported_cross()
    assert len(iv) == 12 and iv.loc["IEMOCAP->EMOVO", "MDAT"] == 85.51
