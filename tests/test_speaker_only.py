"""The speaker-only predictor (sercore.confounds): known answers on tiny manifests."""
import numpy as np
import pandas as pd
import pytest

from sercore.confounds import CONFOUND_MARGIN, confound_flag, speaker_only
from sercore.protocols import Fold


def _manifest(speakers, y):
    return pd.DataFrame({"speaker": speakers, "y": y})


def test_tied_speakers_give_a_perfect_score_and_unseen_speakers_the_training_majority():
    # speakers a, b speak only class 0 / 1; c speaks both; d is never in training
    m = _manifest(["a", "a", "b", "b", "c", "c", "c", "d"], [0, 0, 1, 1, 1, 1, 0, 0])
    folds = [Fold("f1", np.array([0, 2, 4, 5]), np.array([], int), np.array([1, 3, 6, 7]))]
    out = speaker_only(m, folds)
    # a->0 (right), b->1 (right), c: training majority of c is 1 -> wrong on its class-0 utterance,
    # d unseen -> training majority over rows 0,2,4,5 = labels 0,1,1,1 -> 1 (wrong, truth 0)
    assert out["n_test"] == 4 and out["unseen"] == 1
    assert out["wa"] == pytest.approx(50.0)
    # class 0 (rows 1, 6, 7): only row 1 right, recall 1/3; class 1 (row 3): recall 1
    assert out["ua"] == pytest.approx(100 * (1 / 3 + 1) / 2)
    assert out["folds"][0]["unseen"] == 1 and "1 of 4 test utterances" in out["note"]


def test_leave_one_speaker_out_has_nothing_to_go_on():
    m = _manifest(["a"] * 4 + ["b"] * 4, [0, 1, 0, 1, 0, 1, 0, 1])
    folds = [Fold("a", np.arange(4, 8), np.array([], int), np.arange(4)),
             Fold("b", np.arange(4), np.array([], int), np.arange(4, 8))]
    out = speaker_only(m, folds)
    assert out["unseen"] == 8 and out["ua"] == pytest.approx(50.0)    # one class for everyone


def test_the_flag_names_the_score_only_when_it_is_close_to_the_method():
    assert confound_flag(95.0, 95.6) == ("speaker and emotion confounded: a speaker-only predictor scores 95.00 UA "
                                         "on the same folds")
    assert confound_flag(80.0, 80.0 + CONFOUND_MARGIN) is not None
    assert confound_flag(25.0, 75.0) is None and confound_flag(None, 75.0) is None


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="column 'speaker'"):
        speaker_only(pd.DataFrame({"y": [0]}), [])
