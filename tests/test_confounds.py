"""Confounds measured: the speaker-only predictor on a manifest with a known answer, and speaker-disjoint folds."""
import numpy as np
import pandas as pd
import pytest

from sercore import confounds
from sercore.protocols import Fold


def _manifest():
    # 3 classes; speakers A and B speak class 0 and 1 (A mostly 0, B mostly 1), C speaks class 2 only,
    # D (test only) is never heard in training
    spk = ["A"] * 5 + ["B"] * 5 + ["C"] * 4 + ["D"] * 2
    y = [0, 0, 0, 1, 0] + [1, 1, 0, 1, 1] + [2, 2, 2, 2] + [2, 1]
    return pd.DataFrame({"speaker": spk, "y": y})


def test_speaker_only_predicts_each_speakers_training_majority_and_scores_it():
    m = _manifest()
    train = np.array([0, 1, 2, 3, 5, 6, 7, 10, 11])          # A: 0,0,0,1  B: 1,1,0  C: 2,2 -> A->0, B->1, C->2
    test = np.array([4, 8, 9, 12, 13, 14, 15])               # A:0  B:1,1  C:2,2  D:2,1 (D unseen)
    res = confounds.speaker_only(m, [Fold("f0", train, np.zeros(0, np.int64), test)], ["x", "y", "z"])
    # training majority overall: class 0 has 4, class 1 has 3, class 2 has 2 -> D gets class 0
    assert list(res["y_pred"]) == [0, 1, 1, 2, 2, 0, 0]
    # truth                       [0, 1, 1, 2, 2, 2, 1]: recalls 0: 1/1, 1: 2/3, 2: 2/3
    assert res["ua"] == pytest.approx(100 * (1 + 2 / 3 + 2 / 3) / 3)
    assert res["wa"] == pytest.approx(100 * 5 / 7)
    assert res["unseen_speakers"] == 1 and res["unseen_utterances"] == 2 and res["n_test"] == 7
    assert res["chance_ua"] == pytest.approx(100 / 3) and res["per_fold"][0]["fold"] == "f0"


def test_speaker_only_means_over_folds_and_pools():
    m = _manifest()
    idx = np.arange(len(m))
    f1 = Fold("a", idx[idx % 2 == 0], np.zeros(0, np.int64), idx[idx % 2 == 1])
    f2 = Fold("b", idx[idx % 2 == 1], np.zeros(0, np.int64), idx[idx % 2 == 0])
    res = confounds.speaker_only(m, [f1, f2])
    assert res["ua"] == pytest.approx(np.mean([f["ua"] for f in res["per_fold"]]))
    assert res["n_folds"] == 2 and res["n_test"] == len(m)
    assert 0 <= res["pooled"]["ua"] <= 100
    with pytest.raises(ValueError, match="no 'speaker' column"):
        confounds.speaker_only(m.drop(columns=["speaker"]), [f1])


def test_a_speaker_tied_corpus_is_scored_perfectly_and_a_disjoint_split_defeats_it():
    # every speaker speaks one class: within-speaker folds give 100, speaker-disjoint folds give chance
    spk = np.repeat([f"s{i}" for i in range(9)], 6)
    y = np.repeat([0, 0, 0, 1, 1, 1, 2, 2, 2], 6)
    m = pd.DataFrame({"speaker": spk, "y": y})
    rows = np.arange(len(m))
    test = rows[rows % 3 == 0]
    mixed = Fold("mixed", np.setdiff1d(rows, test), np.zeros(0, np.int64), test)
    assert confounds.speaker_only(m, [mixed])["ua"] == 100.0
    split = confounds.speaker_disjoint_folds(m)
    assert split["possible"] and split["k"] == 3 and "A speaker-disjoint split exists: 3 folds" in split["text"]
    for f in split["folds"]:
        assert not set(spk[f.train]) & set(spk[f.test]) and set(y[f.test]) == {0, 1, 2}
    assert confounds.speaker_only(m, split["folds"])["ua"] == pytest.approx(100 / 3)
    # a class with a single speaker: no such split
    one = m[~m["speaker"].isin(["s7", "s8"])].reset_index(drop=True)
    none = confounds.speaker_disjoint_folds(one)
    assert not none["possible"] and "spoken by 1 speaker(s) only" in none["text"]


def test_report_flags_a_corpus_whose_speaker_only_score_reaches_the_papers(tmp_path):
    """An URDU-shaped corpus (4 classes, each speaker one emotion) on URDU's leaderboard folds: the
    speaker-only predictor scores 100, above MDAT's 94.33 (Table II): flagged, with the sentence."""
    from sercore.data import make_manifest

    labels = ["angry", "happy", "neutral", "sad"]
    rows = [{"utt_id": f"u{c}{i}", "path": f"{c}/{i}.wav", "label": lab, "speaker": f"{lab}{i % 3}",
             "corpus": "urdu", "language": "ur"}
            for c, lab in enumerate(labels) for i in range(30)]
    m = make_manifest(rows)
    df = confounds.report({"urdu": m, "synthetic": m})
    assert list(df.index) == ["urdu"]
    r = df.loc["urdu"]
    assert r["speaker-only UA"] == 100.0 and r["best method UA"] == pytest.approx(94.33)
    assert r["flag"] == "speaker and emotion confounded: a speaker-only predictor scores 100.0"
    (sentence,) = df.attrs["sentences"]
    assert "A speaker-disjoint split exists: 3 folds" in sentence and "falls to 25.0 UA" in sentence
    shown = confounds.display_report(df)
    assert shown.loc["test utterances", "urdu"] == "120" and shown.loc["chance UA", "urdu"] == "25.00"
    assert shown.loc["flag", "urdu"] == "confounded" and shown.loc["best method UA", "urdu"] == "94.33"
    assert shown.loc["best method", "urdu"] == "MDAT (mdat Table II, paper)"


def test_the_flag_names_the_score_only_when_it_is_close_to_the_method():
    from sercore.confounds import MARGIN, confound_flag

    assert confound_flag(95.0, 95.6) == ("speaker and emotion confounded: a speaker-only predictor scores 95.00 UA "
                                         "on the same folds")
    assert confound_flag(80.0, 80.0 + MARGIN) is not None
    assert confound_flag(25.0, 75.0) is None and confound_flag(None, 75.0) is None
