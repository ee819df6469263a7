"""MDAT chapter: k-shot sampler, cross-corpus 4-class label mapping, method(), a tiny end-to-end run."""
import numpy as np
import pandas as pd
import pytest

from sercore.chapters import mdat as ch
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


def test_method_contract_and_audio_only_fallback():
    mm = ch.method("smoke")
    assert mm.modalities == ("audio", "text") and mm.train.inputs[-1] == "text_lengths"
    assert mm.build(4).cfg.use_text
    ao = ch.method("smoke", use_text=False, epochs=3)
    assert ao.modalities == ("audio",) and ao.train.inputs == ("audio", "audio_lengths")
    assert ao.train.epochs == 3 and not ao.build(4).cfg.use_text and "audio only" in ao.name
    assert ch.method("quick", kind="baseline").build(4).__class__.__name__ == "MDATBaseline"
    with pytest.raises(TypeError, match="unknown override"):
        ch.method("quick", nope=1)


def test_reported_tables_come_from_the_reference():
    t = ch.reported_within()
    assert t.loc["emodb", "MDAT"] == 84.50 and t.loc["iemocap", "HCAM [81]"] == 73.67
    iv = ch.reported_cross()
    assert len(iv) == 12 and iv.loc["IEMOCAP->EMOVO", "MDAT"] == 85.51
