"""The embedded synthetic corpus: schema, sizes, determinism, cache, text cues, video, difficulty.

Most tests use a small configuration (2 languages x 4 speakers x 4 emotions x 2 utterances =
64 utterances, a few seconds) in a temporary root. One module-scoped fixture generates the
default corpus (800 utterances) once, also in a temporary root, to measure its size,
generation time and the difficulty of a plain MFCC baseline.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sercore.data import COLUMNS, get_label_map, validate
from sercore.data import synthetic as S
from sercore.data.labels import EMOTIONS

SMALL = dict(languages=("en", "ur"), speakers_per_language=4, utterances_per_speaker_emotion=2,
             progress=False)


def _ua(y_true, y_pred) -> float:
    """Unweighted accuracy: mean per-class recall."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def _folder(df: pd.DataFrame) -> Path:
    return Path(df.attrs["root"])


def _files(df: pd.DataFrame) -> dict[str, bytes]:
    """Relative path -> bytes of every generated audio and video file."""
    root = _folder(df)
    paths = list(df["path"]) + [v for v in df["video"] if v is not None]
    return {str(Path(p).relative_to(root)): Path(p).read_bytes() for p in paths}


def _relative_manifest(df: pd.DataFrame) -> pd.DataFrame:
    root = str(_folder(df))
    out = df.copy()
    for col in ("path", "video"):
        out[col] = [None if p is None else os.path.relpath(p, root) for p in out[col]]
    return out


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(manifest, seconds) of the small configuration, generated once for this module."""
    root = tmp_path_factory.mktemp("synthetic_small")
    t0 = time.perf_counter()
    df = S.load(root, **SMALL)
    return df, time.perf_counter() - t0


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    """(manifest, seconds) of the default corpus, generated once into a temporary root."""
    root = tmp_path_factory.mktemp("synthetic_default")
    t0 = time.perf_counter()
    df = S.load(root, progress=False)
    seconds = time.perf_counter() - t0
    print(f"\ndefault synthetic corpus: {len(df)} utterances generated in {seconds:.1f} s")
    return df, seconds


# ------------------------------------------------------------------------------ schema and sizes

def test_manifest_schema(small):
    df, _ = small
    validate(df)
    assert tuple(df.columns) == COLUMNS
    assert (df["corpus"] == "synthetic").all()
    assert set(df["label"]) == set(S.DEFAULT_EMOTIONS) and set(df["label"]) <= set(EMOTIONS)
    assert (df["label_raw"] == df["label"]).all()
    assert df[["start", "end", "split"]].isna().all().all()
    assert set(df["gender"]) == {"F", "M"}
    assert all(re.fullmatch(r"(en|ur)_s\d\d", s) for s in df["speaker"]), df["speaker"].unique()
    assert all(isinstance(s, int) for s in df["session"])
    assert df["utt_id"].is_unique
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in df["path"])
    assert all(Path(v).is_file() and v.endswith(".npy") for v in df["video"])
    assert df["text"].map(lambda t: isinstance(t, str) and len(t) > 5).all()
    note = df.attrs["note"].lower()
    assert "synthetic" in note and "not comparable" in note
    assert df.attrs["settings"]["speakers_per_language"] == 4


def test_supported_emotions_are_canonical():
    assert set(S.SUPPORTED_EMOTIONS) <= set(EMOTIONS)
    assert set(S.PROFILES) == set(S.FACES) == set(S.SUPPORTED_EMOTIONS)
    for lang in S.LANGUAGES:
        assert set(S.SENTENCES[lang]["cues"]) == set(S.SUPPORTED_EMOTIONS), lang


def test_small_counts(small):
    df, _ = small
    assert len(df) == 2 * 4 * 4 * 2
    for lang, g in df.groupby("language"):
        assert g["speaker"].nunique() == 4, lang
        assert sorted(g["session"].unique()) == [1, 2], lang
        for ses, gs in g.groupby("session"):
            assert sorted(gs.drop_duplicates("speaker")["gender"]) == ["F", "M"], (lang, ses)
        assert set(g["label"].value_counts()) == {4 * 2}, lang
    # speakers 1-2 are session 1, 3-4 session 2; odd numbers are female
    spk = df.drop_duplicates("speaker").set_index("speaker")
    assert spk.loc["en_s01", "session"] == 1 and spk.loc["en_s02", "session"] == 1
    assert spk.loc["en_s03", "session"] == 2 and spk.loc["ur_s04", "session"] == 2
    assert spk.loc["en_s01", "gender"] == "F" and spk.loc["en_s02", "gender"] == "M"


def test_default_corpus_size_and_time(default):
    df, seconds = default
    print(f"default corpus: {len(df)} utterances, {df['speaker'].nunique()} speakers, "
          f"{seconds:.1f} s to generate, labels {df['label'].value_counts().to_dict()}")
    assert len(df) == 4 * 10 * 4 * S.DEFAULT_UTTERANCES == 800
    assert sorted(df["language"].unique()) == sorted(S.LANGUAGES)
    for lang, g in df.groupby("language"):
        assert g["speaker"].nunique() == 10, lang
        assert sorted(g["session"].unique()) == [1, 2, 3, 4, 5], lang
        assert g.groupby("session")["speaker"].nunique().eq(2).all(), lang
        assert g.drop_duplicates("speaker")["gender"].value_counts().to_dict() == {"F": 5, "M": 5}
    assert set(df["label"].value_counts()) == {200}
    durations = np.array([sf.info(p).duration for p in df["path"]])
    print(f"durations: mean {durations.mean():.2f} s, total {durations.sum() / 60:.1f} min")
    assert 1.0 < durations.mean() < 8.0
    assert seconds < 180, f"default corpus took {seconds:.0f} s to generate (budget: 2 minutes)"


def test_audio_format(small):
    df, _ = small
    for p in df["path"][:8]:
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), p
        y, _ = sf.read(p, dtype="float32")
        assert 0.5 < len(y) / 16000 < 15, p
        assert 0.01 < np.abs(y).max() < 1.0, p                         # audible, not clipped
        assert np.mean(np.abs(y) > 0.99) < 1e-3, p


# ------------------------------------------------------------------------------ determinism

def test_same_seed_same_bytes(small, tmp_path):
    df, _ = small
    again = S.load(tmp_path, **SMALL)
    assert _folder(again) != _folder(df)
    a, b = _files(df), _files(again)
    assert a.keys() == b.keys()
    differing = [k for k in a if a[k] != b[k]]
    assert not differing, f"{len(differing)} file(s) differ between two runs, e.g. {differing[:3]}"
    pd.testing.assert_frame_equal(_relative_manifest(df), _relative_manifest(again))
    assert (_folder(df) / "manifest.csv").read_bytes() == (_folder(again) / "manifest.csv").read_bytes()


def test_other_seed_differs(small, tmp_path):
    df, _ = small
    other = S.load(tmp_path, **SMALL, seed=1)
    assert _folder(other).name != _folder(df).name          # another settings hash
    a, b = _files(df), _files(other)
    assert a.keys() == b.keys()                               # same design ...
    same = [k for k in a if a[k] == b[k]]
    assert not same, f"{len(same)} file(s) identical across seeds, e.g. {same[:3]}"
    assert (df["text"] != other["text"]).mean() > 0.3         # ... other draws


def test_same_bytes_in_a_fresh_process(tmp_path):
    """espeak-ng keeps state between utterances; the corpus must not depend on that history."""
    kw = dict(languages=("de",), speakers_per_language=2, utterances_per_speaker_emotion=1,
              progress=False)
    here = S.load(tmp_path / "here", **kw)
    code = ("import sys; from sercore.data import synthetic as S; "
            f"S.load(sys.argv[1], **{kw!r})")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], check=True, timeout=120)
    there = S.load(tmp_path / "there", **kw)                   # a cache hit on the other run
    assert _files(here) == _files(there)


def test_utterance_independent_of_other_settings(small, default):
    """An utterance depends on its own keys only: the small corpus is a subset of the default."""
    small_df, _ = small
    big_df, _ = default
    a, b = _files(small_df), _files(big_df)
    shared = [k for k in a if k.startswith(("wav/en_s01/", "wav/ur_s04/", "video/en_s02/"))]
    assert len(shared) == 3 * 4 * 2
    assert all(a[k] == b[k] for k in shared)


# ------------------------------------------------------------------------------ cache

def test_cache_hit_is_fast_and_reads_the_manifest(small):
    df, first = small
    folder = _folder(df)
    mtimes = {p: os.stat(p).st_mtime_ns for p in df["path"]}
    t0 = time.perf_counter()
    again = S.load(folder.parent, **SMALL)
    second = time.perf_counter() - t0
    print(f"\ncache: first load {first:.2f} s, second {second * 1000:.0f} ms, "
          f"ratio {first / second:.0f}x")
    assert _folder(again) == folder
    pd.testing.assert_frame_equal(df, again)
    assert {p: os.stat(p).st_mtime_ns for p in again["path"]} == mtimes    # nothing rewritten
    assert second < first / 10, (first, second)


def test_missing_file_regenerates_with_a_warning(tmp_path):
    kw = dict(languages=("it",), speakers_per_language=2, utterances_per_speaker_emotion=1,
              progress=False)
    df = S.load(tmp_path, **kw)
    victim = Path(df["path"][3])
    original = victim.read_bytes()
    victim.unlink()
    with pytest.warns(UserWarning, match="misses 1 file"):
        again = S.load(tmp_path, **kw)
    assert victim.read_bytes() == original
    assert len(again) == len(df)


def test_interrupted_run_leaves_no_manifest(tmp_path, monkeypatch):
    kw = dict(languages=("en",), speakers_per_language=2, utterances_per_speaker_emotion=2,
              progress=False)
    real, calls = S._utterance, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(S, "_utterance", dying)
    with pytest.raises(KeyboardInterrupt):
        S.load(tmp_path, **kw)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1
    assert not (folders[0] / "manifest.csv").exists()
    assert not list(folders[0].rglob("*.tmp"))
    monkeypatch.setattr(S, "_utterance", real)
    df = S.load(tmp_path, **kw)                 # the next run completes the corpus
    assert len(df) == 16 and (folders[0] / "manifest.csv").is_file()


def test_registry_load_uses_the_cache_dir(tmp_path, monkeypatch):
    from sercore import data

    monkeypatch.setenv("SERCORE_CACHE", str(tmp_path))
    df = data.load("synthetic", languages=("it",), speakers_per_language=1,
                   utterances_per_speaker_emotion=1, video=False, progress=False)
    assert _folder(df).parent == tmp_path / S.DIRNAME
    assert len(df) == 4 and df["video"].isna().all()


# ------------------------------------------------------------------------------ text

def _cue_emotions(df: pd.DataFrame) -> list[str | None]:
    """Emotion of the cue phrase in each text (``None`` for a bare carrier sentence)."""
    out = []
    for text, lang in zip(df["text"], df["language"]):
        pool = S.SENTENCES[lang]
        carriers = [c for c in pool["carriers"] if c in text]
        assert len(carriers) == 1, text
        rest = text.replace(carriers[0], "").strip(" .,۔").lower()
        if not rest:
            out.append(None)
            continue
        found = [e for e, cues in pool["cues"].items()
                 for c in cues for v in (c if isinstance(c, tuple) else (c,)) if v.lower() == rest]
        assert len(found) == 1, (text, rest, found)
        out.append(found[0])
    return out


def test_text_cues_share_and_misleading(default):
    df, _ = default
    cues = _cue_emotions(df)
    cued = np.array([c is not None for c in cues])
    wrong = np.array([c is not None and c != y for c, y in zip(cues, df["label"])])
    share, misleading = cued.mean(), wrong.sum() / cued.sum()
    print(f"\ntext: {share:.1%} of utterances carry a cue, {misleading:.1%} of those mislead")
    assert abs(share - S.DEFAULT_TEXT_CUE_SHARE) < 0.06
    assert 0.05 < misleading < 0.25
    assert all(c in S.DEFAULT_EMOTIONS for c in cues if c is not None)   # only requested emotions


def test_text_cue_share_extremes(tmp_path):
    kw = dict(languages=("en", "it"), speakers_per_language=2, utterances_per_speaker_emotion=2,
              video=False, progress=False)
    none = S.load(tmp_path, **kw, text_cue_share=0.0)
    assert all(c is None for c in _cue_emotions(none))
    every = S.load(tmp_path, **kw, text_cue_share=1.0, misleading_share=0.0)
    assert _cue_emotions(every) == list(every["label"])
    # gendered cue phrases follow the speaker
    assert not any("contenta" in t or "furiosa" in t
                   for t, g in zip(every["text"], every["gender"]) if g == "M")


# ------------------------------------------------------------------------------ video

def test_video_arrays(small):
    df, _ = small
    for p, v in zip(df["path"][:12], df["video"][:12]):
        frames = np.load(v)
        assert frames.dtype == np.uint8 and frames.ndim == 3 and frames.shape[1:] == (48, 48), v
        expected = sf.info(p).duration * S.VIDEO_FPS
        assert abs(frames.shape[0] - expected) <= 1, (frames.shape, expected)
        assert frames.std() > 10                      # a drawn face, not a blank image


def test_video_off(tmp_path):
    df = S.load(tmp_path, languages=("en",), speakers_per_language=1,
                utterances_per_speaker_emotion=1, video=False, progress=False)
    assert df["video"].isna().all()
    assert not (_folder(df) / "video").exists()


def test_video_differs_by_label(default):
    df, _ = default
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.stack([np.load(v).mean(axis=0).ravel() for v in df["video"]]).astype(np.float64)
    y = df["label"].to_numpy()
    means = {c: X[y == c].mean(axis=0) for c in S.DEFAULT_EMOTIONS}
    gaps = {(a, b): np.abs(means[a] - means[b]).mean()
            for i, a in enumerate(S.DEFAULT_EMOTIONS) for b in S.DEFAULT_EMOTIONS[i + 1:]}
    print("\nvideo: mean |difference| of per-label mean frames (grey levels):",
          {f"{a}-{b}": round(float(g), 2) for (a, b), g in gaps.items()})
    assert min(gaps.values()) > 0.5
    train = df["session"].to_numpy() != 5
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
    clf.fit(X[train], y[train])
    ua = _ua(y[~train], clf.predict(X[~train]))
    print(f"video-only baseline UA (session 5): {ua:.1%}")
    assert 0.35 < ua < 0.99


# ------------------------------------------------------------------------------ difficulty

def test_mfcc_baseline_is_above_chance_and_below_perfect(default):
    """13 MFCC mean+std, standardised, logistic regression; train sessions 1-4, test session 5."""
    import torch
    import torchaudio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df, _ = default
    mfcc = torchaudio.transforms.MFCC(sample_rate=16000, n_mfcc=13,
                                      melkwargs=dict(n_fft=400, hop_length=160, n_mels=40))
    feats = []
    for p in df["path"]:
        y, sr = sf.read(p, dtype="float32")
        assert sr == 16000
        m = mfcc(torch.from_numpy(y)).numpy()          # (13, frames)
        feats.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
    X, labels = np.stack(feats), df["label"].to_numpy()
    train = df["session"].to_numpy() != 5
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    clf.fit(X[train], labels[train])
    ua = _ua(labels[~train], clf.predict(X[~train]))
    print(f"\nMFCC baseline UA, 4 classes, train sessions 1-4 / test session 5: {ua:.1%}")
    assert 0.35 < ua < 0.95


def test_seven_class_setting(tmp_path):
    df = S.load(tmp_path, languages=("en",), speakers_per_language=2,
                utterances_per_speaker_emotion=1, emotions=S.SUPPORTED_EMOTIONS,
                video=False, progress=False)
    assert sorted(df["label"].unique()) == sorted(S.SUPPORTED_EMOTIONS)
    mapped = get_label_map("synthetic7").apply(df)
    assert len(mapped) == 14 and mapped.attrs["dropped"] == {"boredom": 2}


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("kwargs, match", [
    (dict(languages=("en", "fr")), r"languages must be .*\['en', 'de', 'it', 'ur'\].*'fr'"),
    (dict(languages="en"), r"must be sequences of names.*got languages='en'"),
    (dict(emotions=("happy", "excited")), r"emotions must be .*'excited'"),
    (dict(speakers_per_language=0), "speakers_per_language must be a positive int, got 0"),
    (dict(utterances_per_speaker_emotion=2.5), "utterances_per_speaker_emotion must be"),
    (dict(seed=-1), "seed must be a non-negative int, got -1"),
    (dict(text_cue_share=1.5), r"text_cue_share must be a number in \[0, 1\], got 1.5"),
    (dict(on_error="ignore"), "on_error must be 'raise' or 'skip', got 'ignore'"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.load(tmp_path, **{"progress": False, **kwargs})
    assert not any(tmp_path.iterdir())


def test_missing_espeak_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)     # import fails
    with pytest.raises(S.EspeakUnavailableError, match=r"pip install espeakng-loader"):
        S.load(tmp_path, languages=("en",), speakers_per_language=1,
               utterances_per_speaker_emotion=1, progress=False)
    assert not list(tmp_path.rglob("manifest.csv"))


def test_missing_espeak_library_names_the_path(tmp_path, monkeypatch):
    import espeakng_loader

    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "libespeak-ng.so"))
    with pytest.raises(S.EspeakUnavailableError, match=r"libespeak-ng\.so is missing.*pip install"):
        S.load(tmp_path, languages=("en",), speakers_per_language=1,
               utterances_per_speaker_emotion=1, progress=False)
