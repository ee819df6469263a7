"""Evaluation protocols on small synthetic manifests: disjoint parts, no leaks, sizes, seeds."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sercore.data.manifest import make_manifest
from sercore.protocols import (DEFAULTS, PROTOCOLS, Fold, UnfitFoldError, check_folds, confound,
                               confound_table, cross_corpus_split, describe, fold_problem,
                               make_cross_corpus, make_folds, make_kshot, subsample)

LABELS = ("neutral", "happy", "sad", "angry")
#: utterances per (speaker, label): imbalanced on purpose
PER_LABEL = {"neutral": 6, "happy": 2, "sad": 3, "angry": 4}


def corpus(n_sessions=5, corpus="iemocap", language="en", session_fmt="{}", split=None,
           per_label=PER_LABEL, labels=LABELS):
    """``n_sessions`` sessions x 2 speakers (F, M) x labels x per_label[label] utterances."""
    records = []
    for s in range(1, n_sessions + 1):
        for g in "FM":
            spk = f"{corpus[:3]}{s:02d}{g}"
            for lab in labels:
                for j in range(per_label[lab]):
                    records.append(dict(
                        utt_id=f"{spk}_{lab}_{j}", label=lab, label_raw=lab[:3], speaker=spk,
                        gender=g, session=session_fmt.format(s) if session_fmt != "{}" else s,
                        language=language, corpus=corpus,
                        split=None if split is None else split(s, g, j)))
    return make_manifest(records)


M = corpus()
N = len(M)  # 5 sessions x 2 speakers x 15 utterances = 150
#: irregular class counts (neutral 58, happy 18, sad 28, angry 36), so that shares must be rounded
R = M.drop(index=[0, 6, 8, 11, 21, 38, 56, 57, 90, 149]).reset_index(drop=True)


def leaks(df, fold, col):
    """Values of ``col`` found in more than one non-empty part of ``fold``."""
    seen = [set(df[col].iloc[getattr(fold, p)]) for p in ("train", "val", "test")]
    return (seen[0] & seen[1]) | (seen[0] & seen[2]) | (seen[1] & seen[2])


def covered(fold):
    return np.sort(np.concatenate([fold.train, fold.val, fold.test]))


def same(a, b):
    return len(a) == len(b) and all(
        x.name == y.name and all(np.array_equal(getattr(x, p), getattr(y, p))
                                 for p in ("train", "val", "test")) for x, y in zip(a, b))


def check_fold_arrays(fold):
    for p in ("train", "val", "test"):
        a = getattr(fold, p)
        assert a.dtype == np.int64
        assert np.all(np.diff(a) > 0)  # sorted, no repeats


# ----------------------------------------------------------------------------- Fold

def test_fold_sorts_and_rejects_overlap_or_repeats():
    f = Fold("x", [3, 1], [], [2, 0])
    assert f.train.tolist() == [1, 3] and f.val.dtype == np.int64 and f.sizes() == {
        "train": 2, "val": 0, "test": 2}
    with pytest.raises(ValueError, match="both 'train' and 'test'"):
        Fold("x", [1, 2], [], [2, 3])
    with pytest.raises(ValueError, match="repeats"):
        Fold("x", [1, 1], [], [2])


# ----------------------------------------------------------------------------- generic properties

CASES = {
    "loso": {},
    "loso_speaker": {},
    "kfold_val": {"k": 5},
    "official": {"test_sessions": [5]},
    "random": {"val_fraction": 0.1},
    "cross_corpus": {"source": "iemocap", "target": "emodb"},
    "kshot": {"k": 1, "repeats": 2},
}


def manifest_for(protocol):
    if protocol == "cross_corpus":
        return pd.concat([M, corpus(n_sessions=2, corpus="emodb", language="de")],
                         ignore_index=True)
    return M


def test_every_protocol_has_a_case_and_an_explanation():
    assert set(CASES) == set(PROTOCOLS) == set(DEFAULTS)
    for name, text in PROTOCOLS.items():
        assert len(text) > 40 and text.endswith("."), name


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_parts_disjoint_cover_and_deterministic(protocol):
    df = manifest_for(protocol)
    folds = make_folds(df, protocol, seed=3, **CASES[protocol])
    assert folds
    for f in folds:
        check_fold_arrays(f)
        allrows = covered(f)
        assert len(np.unique(allrows)) == len(allrows)  # disjoint
        assert allrows.min() >= 0 and allrows.max() < len(df)
        assert len(f.train) and len(f.test)
        if protocol != "cross_corpus":  # every row is used in every fold
            assert np.array_equal(allrows, np.arange(len(df)))
    assert same(folds, make_folds(df, protocol, seed=3, **CASES[protocol]))
    assert len({f.name for f in folds}) == len(folds)


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_other_seed_gives_other_folds(protocol):
    df = manifest_for(protocol)
    a = make_folds(df, protocol, seed=0, **CASES[protocol])
    b = make_folds(df, protocol, seed=1, **CASES[protocol])
    assert not same(a, b)


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_describe_is_json_and_matches_folds(protocol):
    df = manifest_for(protocol)
    folds = make_folds(df, protocol, seed=7, max_folds=2, **CASES[protocol])
    d = describe(protocol, folds, seed=7, max_folds=2, **CASES[protocol])
    back = json.loads(json.dumps(d))
    assert back["name"] == protocol and back["seed"] == 7 and back["max_folds"] == 2
    assert back["n_folds"] == len(folds) <= 2
    assert set(back["options"]) == set(DEFAULTS[protocol])
    assert [x["sizes"] for x in back["folds"]] == [f.sizes() for f in folds]
    assert [x["name"] for x in back["folds"]] == [f.name for f in folds]
    assert back["explanation"] == PROTOCOLS[protocol]


def test_describe_records_held_out_groups():
    folds = make_folds(M, "loso", seed=0)
    d = json.loads(json.dumps(describe("loso", folds, seed=0)))
    assert [x["held_out"]["test"]["session"] for x in d["folds"]] == [[1], [2], [3], [4], [5]]
    for x, f in zip(d["folds"], folds):
        assert x["held_out"]["val"]["speaker"] == sorted(set(M["speaker"].iloc[f.val]))


@pytest.mark.parametrize("protocol", ["loso", "loso_speaker", "kfold_val"])
def test_max_folds_is_a_prefix_of_the_full_run(protocol):
    opts = CASES[protocol]
    full = make_folds(M, protocol, seed=5, **opts)
    short = make_folds(M, protocol, seed=5, max_folds=2, **opts)
    assert len(full) > 2 and len(short) == 2
    assert same(short, full[:2])
    assert len(make_folds(M, protocol, seed=5, max_folds=100, **opts)) == len(full)
    with pytest.raises(ValueError, match="max_folds"):
        make_folds(M, protocol, max_folds=0, **opts)


def test_unknown_protocol_and_option_are_named():
    with pytest.raises(ValueError, match="unknown protocol 'lolo'.*'kfold_val'.*'loso'"):
        make_folds(M, "lolo")
    with pytest.raises(ValueError, match=r"no option\(s\) \['val_fracton'\].*val_fraction"):
        make_folds(M, "random", val_fracton=0.1)
    with pytest.raises(ValueError, match="val must be one of"):
        make_folds(M, "loso", val="dialogue")


# ----------------------------------------------------------------------------- loso

def test_loso_tests_each_session_with_a_speaker_disjoint_validation():
    folds = make_folds(M, "loso", seed=0)
    assert [f.name for f in folds] == [f"session{s}" for s in range(1, 6)]
    for s, f in zip(range(1, 6), folds):
        assert set(M["session"].iloc[f.test]) == {s}
        assert len(f.test) == (M["session"] == s).sum()
        assert s not in set(M["session"].iloc[np.concatenate([f.train, f.val])])
        assert M["speaker"].iloc[f.val].nunique() == 1  # val_speakers=1
        assert not leaks(M, f, "speaker")
    two = make_folds(M, "loso", seed=0, val_speakers=2)
    assert all(M["speaker"].iloc[f.val].nunique() == 2 for f in two)


def test_loso_val_session_keeps_every_session_in_one_part():
    for f in make_folds(M, "loso", seed=2, val="session"):
        assert not leaks(M, f, "session") and not leaks(M, f, "speaker")
        assert M["session"].iloc[f.val].nunique() == 1
        v = M["session"].iloc[f.val].iloc[0]
        assert len(f.val) == (M["session"] == v).sum()


def test_loso_without_validation():
    for f in make_folds(M, "loso", val="none"):
        assert len(f.val) == 0 and M["session"].iloc[f.train].nunique() == 4


def test_loso_needs_sessions_and_nested_speakers():
    no_session = M.copy()
    no_session["session"] = None
    with pytest.raises(ValueError, match="'loso' needs the manifest column 'session'.*all 150"):
        make_folds(no_session, "loso")
    partly = M.copy()
    partly.loc[3, "session"] = None
    with pytest.raises(ValueError, match="'session'.*1 of 150"):
        make_folds(partly, "loso")
    spread = M.copy()
    spread.loc[spread["session"] == 2, "speaker"] = "iem01F"  # speaker of session 1
    with pytest.raises(ValueError, match="'iem01F' appears in sessions"):
        make_folds(spread, "loso")


# ----------------------------------------------------------------------------- loso_speaker

def test_loso_speaker_tests_each_speaker_and_validates_on_another():
    folds = make_folds(M, "loso_speaker", seed=0)
    speakers = sorted(M["speaker"].unique())
    assert len(folds) == 10 and [f.name for f in folds] == [f"speaker_{s}" for s in speakers]
    for spk, f in zip(speakers, folds):
        assert set(M["speaker"].iloc[f.test]) == {spk} and len(f.test) == 15
        vs = set(M["speaker"].iloc[f.val])
        assert len(vs) == 1 and spk not in vs
        assert not leaks(M, f, "speaker")


def test_loso_speaker_partner_validates_on_the_other_speaker_of_the_session():
    for f in make_folds(M, "loso_speaker", val="partner"):
        test_spk = M["speaker"].iloc[f.test].iloc[0]
        partner = test_spk[:-1] + ("M" if test_spk.endswith("F") else "F")
        assert set(M["speaker"].iloc[f.val]) == {partner}
        assert not leaks(M, f, "speaker")
        # the held-out session is shared by val and test only, never by train
        held = set(M["session"].iloc[f.test])
        assert held == set(M["session"].iloc[f.val]) and not held & set(M["session"].iloc[f.train])
    no_session = M.copy()
    no_session["session"] = None
    with pytest.raises(ValueError, match="column 'session'"):
        make_folds(no_session, "loso_speaker", val="partner")
    assert len(make_folds(no_session, "loso_speaker")) == 10  # speaker val needs no session


# ----------------------------------------------------------------------------- kfold_val

def test_kfold_val_ten_folds_8_1_1_stratified():
    folds = make_folds(R, "kfold_val", seed=0)  # k=10
    assert [f.name for f in folds] == [f"fold{i:02d}" for i in range(1, 11)]
    tests = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(R)))  # every row tested exactly once
    for i, f in enumerate(folds):
        assert np.array_equal(f.val, folds[(i + 1) % 10].test)
        assert abs(len(f.test) - len(R) / 10) <= 1 and abs(len(f.val) - len(R) / 10) <= 1
        assert abs(len(f.train) - 8 * len(R) / 10) <= 2
    per_class = np.array([[(R["label"].iloc[f.test] == lab).sum() for lab in LABELS] for f in folds])
    totals = np.array([(R["label"] == lab).sum() for lab in LABELS])
    assert np.all(per_class.max(axis=0) - per_class.min(axis=0) <= 1)
    assert np.array_equal(per_class.sum(axis=0), totals)


def test_kfold_val_checks_k():
    with pytest.raises(ValueError, match="k >= 3"):
        make_folds(M, "kfold_val", k=2)
    assert all(len(f.val) == 0 for f in make_folds(M, "kfold_val", k=2, val="none"))


# ----------------------------------------------------------------------------- official

def split_of(s, g, j):
    return "test" if s == 5 else ("dev" if s == 4 and g == "F" else "train")


def test_official_uses_the_split_column():
    df = corpus(split=split_of)
    [f] = make_folds(df, "official")
    assert set(df["split"].iloc[f.train]) == {"train"}
    assert set(df["split"].iloc[f.val]) == {"dev"}
    assert set(df["split"].iloc[f.test]) == {"test"}
    assert f.sizes() == {p: int((df["split"] == s).sum())
                         for p, s in (("train", "train"), ("val", "dev"), ("test", "test"))}
    assert f.held_out == {"test": {"split": ["test"]}, "val": {"split": ["dev"]}}


def test_official_without_dev_carves_validation_from_train():
    df = corpus(split=lambda s, g, j: "test" if s == 5 else "TRAIN")
    [f] = make_folds(df, "official", seed=0, val_fraction=0.25)
    assert set(df["split"].iloc[f.test]) == {"test"}
    assert len(f.val) and not (set(df["speaker"].iloc[f.val]) & set(df["speaker"].iloc[f.train]))
    assert "no dev split" in f.note
    [g] = make_folds(df, "official", val_fraction=0.0)
    assert len(g.val) == 0 and len(g.train) == 120


def test_official_split_errors_name_the_column():
    with pytest.raises(ValueError, match="column 'split'.*test_sessions=\\[5\\]"):
        make_folds(M, "official")
    partly = corpus(split=split_of)
    partly.loc[0, "split"] = None
    with pytest.raises(ValueError, match="'official' needs the manifest column 'split'.*1 of"):
        make_folds(partly, "official")
    odd = corpus(split=lambda s, g, j: "holdout" if s == 5 else "train")
    with pytest.raises(ValueError, match="'holdout'"):
        make_folds(odd, "official")


@pytest.mark.parametrize("fmt", ["{}", "Ses0{}"])
def test_official_test_sessions_with_speaker_disjoint_validation(fmt):
    df = corpus(session_fmt=fmt)
    [f] = make_folds(df, "official", seed=4, test_sessions=[5])
    five = 5 if fmt == "{}" else "Ses05"
    assert set(df["session"].iloc[f.test]) == {five} and len(f.test) == 30
    assert five not in set(df["session"].iloc[np.concatenate([f.train, f.val])])
    assert not leaks(df, f, "speaker")
    # whole speakers closest to 10 % of the 120 training-session rows: one speaker (15)
    assert df["speaker"].iloc[f.val].nunique() == 1 and len(f.val) == 15
    [r] = make_folds(df, "official", seed=4, test_sessions=5, val="random", val_fraction=0.1)
    assert len(r.val) == 12 and np.array_equal(r.test, f.test)
    with pytest.raises(ValueError, match="test session 9 not found"):
        make_folds(df, "official", test_sessions=[9])


def test_official_with_one_training_speaker_falls_back_and_says_so():
    df = corpus(n_sessions=2)
    df = df[~((df["session"] == 1) & (df["gender"] == "M"))].reset_index(drop=True)
    [f] = make_folds(df, "official", test_sessions=[2], val_fraction=0.2)
    assert len(f.val) == 3 and "stratified utterance share" in f.note


# ----------------------------------------------------------------------------- random

def test_random_is_a_stratified_80_20_split():
    [f] = make_folds(R, "random", seed=0)
    assert len(f.val) == 0 and len(f.test) == round(0.2 * len(R))
    for lab in LABELS:
        n = (R["label"] == lab).sum()
        assert abs((R["label"].iloc[f.test] == lab).sum() - 0.2 * n) <= 1
        assert abs((R["label"].iloc[f.train] == lab).sum() - 0.8 * n) <= 1


def test_random_validation_is_carved_from_training():
    [f] = make_folds(R, "random", seed=0, val_fraction=0.25)
    assert len(f.test) == 28 and len(f.val) == 28 and len(f.train) == 84  # 140 = 28 + 28 + 84
    for lab in LABELS:
        n_train_part = (R["label"].iloc[np.concatenate([f.train, f.val])] == lab).sum()
        assert abs((R["label"].iloc[f.val] == lab).sum() - 0.25 * n_train_part) <= 1
    with pytest.raises(ValueError, match="test_fraction"):
        make_folds(R, "random", test_fraction=1.0)


# ----------------------------------------------------------------------------- cross-corpus

def mapped(df, corpus_name):
    out = df.copy()
    out["y"] = out["label"].map({lab: i for i, lab in enumerate(LABELS)})
    out.attrs["label_map"] = "ser4"
    return out


def test_cross_corpus_indices_point_into_the_concatenation():
    src, tgt = mapped(M, "iemocap"), mapped(corpus(n_sessions=2, corpus="emodb"), "emodb")
    combined, f = cross_corpus_split(src, tgt, val_fraction=0.1, seed=0)
    assert combined.equals(pd.concat([src, tgt], ignore_index=True))
    assert np.array_equal(f.test, np.arange(len(src), len(src) + len(tgt)))
    assert set(combined["corpus"].iloc[f.test]) == {"emodb"}
    assert set(combined["corpus"].iloc[np.concatenate([f.train, f.val])]) == {"iemocap"}
    assert len(f.train) + len(f.val) == len(src)
    assert len(f.val) == 15 and not leaks(combined, f, "speaker")
    assert combined.attrs["cross_corpus"]["n_source"] == len(src)
    assert same([make_cross_corpus(src, tgt, val_fraction=0.1, seed=0)], [f])
    # the same fold from make_folds on the concatenation, by corpus name
    [g] = make_folds(combined, "cross_corpus", seed=0, source="iemocap", target="emodb")
    assert same([g], [f]) and f.name == "iemocap_to_emodb"


def test_cross_corpus_by_language_and_its_errors():
    df = pd.concat([corpus(language="en"), corpus(n_sessions=2, corpus="emovo", language="it")],
                   ignore_index=True)
    [f] = make_folds(df, "cross_corpus", source="it", target="en", by="language", val="none")
    assert set(df["language"].iloc[f.train]) == {"it"} and len(f.test) == N and len(f.val) == 0
    with pytest.raises(ValueError, match=r"target \['de'\] not found"):
        make_folds(df, "cross_corpus", source="it", target="de", by="language")
    with pytest.raises(ValueError, match="needs source= and target="):
        make_folds(df, "cross_corpus")
    narrow = corpus(n_sessions=2, corpus="emodb", labels=("neutral", "sad"))
    with pytest.raises(ValueError, match="classes the source lacks: \\['angry', 'happy'\\]"):
        make_cross_corpus(narrow, M)
    other = mapped(M, "x")
    other.attrs["label_map"] = "iemocap4"
    with pytest.raises(ValueError, match="label map"):
        make_cross_corpus(mapped(M, "y"), other)


# ----------------------------------------------------------------------------- k-shot

@pytest.mark.parametrize("k", [0, 1, 2])
def test_kshot_takes_exactly_k_per_class(k):
    f = make_kshot(M, k, seed=0)
    counts = M["label"].iloc[f.train].value_counts()
    assert len(f.train) == k * len(LABELS)
    if k:
        assert set(counts.index) == set(LABELS) and set(counts) == {k}
    assert np.array_equal(np.sort(np.concatenate([f.train, f.test])), np.arange(N))
    assert not set(f.train) & set(f.test) and len(f.val) == 0


def test_kshot_errors_name_the_small_class_and_counts():
    small = M[(M["label"] != "happy") | (M["speaker"] == "iem01F")].reset_index(drop=True)
    assert (small["label"] == "happy").sum() == 2
    make_kshot(small, 1)  # 2 happy utterances: 1 to adapt on, 1 to test
    with pytest.raises(ValueError, match="at least 3 .*happy has 2"):
        make_kshot(small, 2)


def test_kshot_variants():
    f = make_kshot(M, 7, seed=1, per_class=False)
    assert len(f.train) == 7 and len(f.test) == N - 7
    a, b = make_folds(M, "kshot", seed=2, k=3, repeats=2)
    assert (a.name, b.name) == ("3shot_r01", "3shot_r02") and not np.array_equal(a.train, b.train)
    assert same([make_kshot(M, 3, seed=9)], [make_kshot(M, 3, seed=9)])
    # uses y when a label map merged classes: 2 classes of 3+ utterances
    merged = M.copy()
    merged["y"] = merged["label"].isin(["happy", "angry"]).astype(int)
    g = make_kshot(merged, 2, seed=0)
    assert sorted(merged["y"].iloc[g.train]) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="needs option k"):
        make_folds(M, "kshot")


# ----------------------------------------------------------------------------- subsample

def test_subsample_keeps_every_class_and_speaker():
    s = subsample(M, 3, seed=0)
    assert s["label"].value_counts().to_dict() == {lab: 3 for lab in LABELS}
    assert set(s["speaker"]) == set(M["speaker"])  # 12 picks cover 10 speakers
    assert list(s.index) == list(range(len(s)))
    assert set(s["utt_id"]) <= set(M["utt_id"])
    assert s["utt_id"].tolist() == [u for u in M["utt_id"] if u in set(s["utt_id"])]  # order kept
    assert s.equals(subsample(M, 3, seed=0))
    assert not s.equals(subsample(M, 3, seed=1))
    big = subsample(M, 1000)
    assert len(big) == N  # a class smaller than n keeps all of it
    assert s.attrs["subsample"] == {"n_per_class": 3, "seed": 0, "from_rows": N}


def test_subsample_then_loso_still_has_every_session():
    s = subsample(M, 3, seed=0)
    folds = make_folds(s, "loso", seed=0, unfit_folds="flag")   # 12 utterances: every test session is tiny
    assert len(folds) == 5 and not any(f.comparable for f in folds)
    assert all("fewer than min_test=8" in f.reason for f in folds)


# ----------------------------------------------------------------------------- folds that are not a measurement

def tied(n_speakers=8, per=5, labels=LABELS, corpus="urdu"):
    """Speaker i speaks only labels[i % len(labels)] (URDU-like: speaker and emotion confounded)."""
    records = [dict(utt_id=f"S{i}_{j}", label=labels[i % len(labels)], label_raw="x", speaker=f"S{i}",
                    language="ur", corpus=corpus) for i in range(n_speakers) for j in range(per)]
    return make_manifest(records)


def test_stratified_kfold_keeps_every_class_in_every_test_fold_where_loso_cannot():
    df = tied()
    for k, val in ((5, "fold"), (4, "none")):
        folds = make_folds(df, "kfold_val", seed=0, k=k, val=val)
        assert len(folds) == k
        for f in folds:
            assert set(df["label"].iloc[f.test]) == set(LABELS) and f.comparable and not f.reason
            counts = df["label"].iloc[f.test].value_counts()
            assert counts.max() - counts.min() <= 1          # per-class sizes differ by one at most
    d = describe("kfold_val", folds, seed=0, k=4, val="none")
    assert d["comparable"] is True and d["not_comparable"] == []


def test_single_class_fold_is_refused_with_the_reason_or_flagged():
    df = tied()
    with pytest.raises(UnfitFoldError) as e:
        make_folds(df, "loso_speaker", seed=0)
    msg = str(e.value)
    assert msg.startswith("urdu: protocol 'loso_speaker' gives 8 of 8 fold(s) that are not a measurement")
    assert "fold 'speaker_S0': its 5 test utterance(s) hold 1 of the 4 classes" in msg
    assert "present: ['neutral']; missing: ['angry', 'happy', 'sad']" in msg
    assert "fewer than min_test=8" in msg and "kfold_val" in msg and "unfit_folds: flag" in msg
    folds = make_folds(df, "loso_speaker", seed=0, unfit_folds="flag")
    assert len(folds) == 8 and not any(f.comparable for f in folds)
    d = json.loads(json.dumps(describe("loso_speaker", folds, seed=0, unfit_folds="flag")))
    assert d["comparable"] is False and len(d["not_comparable"]) == 8
    assert d["folds"][0]["comparable"] is False and "1 of the 4 classes" in d["folds"][0]["reason"]
    assert d["options"]["unfit_folds"] == "flag"
    with pytest.raises(ValueError, match="unfit_folds must be one of"):
        make_folds(df, "kfold_val", k=5, unfit_folds="ignore")


def test_fold_check_counts_the_label_maps_classes_and_min_test():
    from sercore.data import get_label_map

    m = get_label_map("ser4").apply(M[M["label"] != "sad"].reset_index(drop=True))   # no sad at all
    assert fold_problem(m, Fold("x", [], [], np.arange(len(m)))).endswith("missing: ['sad'])")
    with pytest.raises(UnfitFoldError, match="3 of the 4 classes of label map 'ser4'"):
        make_folds(m, "random")
    [f] = make_folds(M, "random", seed=0)                   # 30 test utterances, every class
    assert fold_problem(M, f) == "" and fold_problem(M, f, min_test=31).endswith("fewer than min_test=31")
    with pytest.raises(UnfitFoldError, match="fewer than min_test=31"):
        make_folds(M, "random", seed=0, min_test=31)
    kept = check_folds(M, [f], min_test=31, unfit_folds="flag")
    assert kept[0] is f and not f.comparable


def test_confound_measures_the_speaker_label_tie():
    c = confound(tied())
    assert (c["groups"], c["labels"], c["utterances"], c["single_label_groups"]) == (8, 4, 40, 8)
    assert c["share"] == 1.0 and c["cramers_v"] == pytest.approx(1.0) and c["confounded"]
    free = confound(M)                                       # every speaker speaks every class equally
    assert free["single_label_groups"] == 0 and free["cramers_v"] == pytest.approx(0.0, abs=1e-12)
    assert not free["confounded"]
    t = confound_table({"urdu": tied(), "iemocap": M})
    assert t.loc["urdu", "speakers under one label only"] == 8 and t.loc["iemocap", "Cramér's V"] == 0.0
    assert t.loc["urdu", "protocol that measures emotion"].startswith("stratified k-fold")
