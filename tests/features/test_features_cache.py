"""The registry, extraction over a manifest, and the content-addressed cache."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from featutil import tiny_wav2vec2, tone, voiced, write_wav

from sercore.data.manifest import make_manifest
from sercore.features import (FeatureCache, available, extract, file_sha1, get_extractor,
                              last_stats)
from sercore.features.cache import canonical_json, make_key


def _manifest(tmp_path, n=6, seconds=2.0):
    records = []
    for i in range(n):
        path = write_wav(tmp_path / "wav" / f"u{i}.wav", voiced(seconds, f0=100 + 15 * i, seed=i),
                         16000)
        records.append(dict(utt_id=f"u{i}", path=str(path), label="neutral", speaker=f"s{i % 2}",
                            corpus="test", text=f"utterance number {i} is here"))
    # one utterance given as a part of a longer file (IEMOCAP style)
    long = write_wav(tmp_path / "wav" / "dialog.wav", voiced(4.0, seed=99), 16000)
    records.append(dict(utt_id="d0", path=str(long), start=1.0, end=2.5, label="sad",
                        speaker="s0", corpus="test", text="a part of a dialogue"))
    return make_manifest(records)


def test_registry_names_and_config():
    assert {"mfcc", "logmel", "logmel_deltas", "ssl", "ge2e", "text", "minilm"} <= set(available())
    for name in available():
        ext = get_extractor(name)
        assert ext.name == name and isinstance(ext.VERSION, str)
        json.loads(canonical_json(ext.config))  # plain values only
    ext = get_extractor("mfcc", n_mfcc=26, n_fft=2048, hop_length=512, n_mels=128)
    assert ext.config["n_mfcc"] == 26
    with pytest.raises(ValueError, match="unknown feature extractor 'wav2vec'"):
        get_extractor("wav2vec")
    with pytest.raises(ValueError, match=r"unknown settings \['n_mfc'\]"):
        get_extractor("mfcc", n_mfc=26)
    with pytest.raises(ValueError, match="seg_s and seg_hop_s"):
        get_extractor("mfcc", seg_s=1.8)


def test_extractor_outputs_on_manifest_rows(tmp_path):
    df = _manifest(tmp_path, n=1)
    row, part = df.iloc[0], df.iloc[1]
    assert get_extractor("mfcc")(row).shape == (40, 201)
    assert get_extractor("logmel")(row).shape == (64, 201)
    assert get_extractor("logmel_deltas")(row).shape == (3, 64, 201)
    assert get_extractor("logmel")(part).shape == (64, 151)  # start=1.0 end=2.5
    ctmam = get_extractor("mfcc", n_mfcc=26, n_fft=2048, hop_length=512, n_mels=128,
                          seg_s=1.8, seg_hop_s=0.2)
    assert ctmam(row).shape == (2, 26, 57)  # 2.0 s -> one full window + one aligned to the end
    caser = get_extractor("mfcc", max_s=8.0, min_s=3.0)
    assert caser(row).shape == (40, 301)  # 2.0 s looped to 3.0 s
    ge2e = get_extractor("ge2e")
    assert ge2e(row).shape == (201, 256)
    emb = get_extractor("ge2e", output="embedding")(row)
    assert emb.shape == (256,) and abs(np.linalg.norm(emb) - 1) < 1e-5
    text = get_extractor("minilm", pooling="mean")(row)
    assert text.shape == (384,)
    with pytest.raises(ValueError, match="utt_id='x'.*path=None"):
        get_extractor("mfcc")({"utt_id": "x", "path": None})
    with pytest.raises(ValueError, match="utt_id='y'.*text=None"):
        get_extractor("minilm")({"utt_id": "y", "text": float("nan")})


def test_second_extraction_reads_the_cache(tmp_path, cache_env, capsys):
    df = _manifest(tmp_path)
    ext = get_extractor("ge2e")
    t0 = time.perf_counter()
    first = extract(df, ext, progress=False)
    t_first = time.perf_counter() - t0
    assert first.stats.misses == len(df) and first.stats.hits == 0
    assert first.stats.cache_root == str(cache_env / "features")

    fresh = get_extractor("ge2e")  # a new object: the model must not even be loaded
    t0 = time.perf_counter()
    second = extract(df, fresh, progress=False)
    t_second = time.perf_counter() - t0
    assert second.stats.misses == 0 and second.stats.hits == len(df)
    assert last_stats() is second.stats
    assert fresh._encoder is None
    for a, b in zip(first, second):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    files = list((cache_env / "features" / "ge2e").rglob("*"))
    assert len([f for f in files if f.suffix == ".npy"]) == len(df)
    assert not [f for f in files if f.suffix == ".tmp"]
    with capsys.disabled():
        print(f"\n[feature cache] ge2e on {len(df)} utterances: first {t_first:.2f}s, "
              f"second {t_second:.3f}s, speedup x{t_first / max(t_second, 1e-9):.0f}")


def test_key_depends_on_config_content_and_span(tmp_path):
    df = _manifest(tmp_path, n=2)
    row = df.iloc[0].to_dict()
    base = get_extractor("mfcc")
    k = base.key(row)
    assert k == get_extractor("mfcc").key(dict(row))  # deterministic
    assert get_extractor("mfcc", n_mfcc=26).key(row) != k
    assert get_extractor("logmel").key(row) != k
    assert base.key(dict(row, start=0.5)) != k
    # moving the file keeps the key (content addressed)
    moved = tmp_path / "moved.wav"
    moved.write_bytes(open(row["path"], "rb").read())
    assert base.key(dict(row, path=str(moved))) == k
    # changing the bytes changes the key (new size / mtime invalidate the per-process memo)
    write_wav(moved, tone(2.5, 16000), 16000)
    assert base.key(dict(row, path=str(moved))) != k
    # text extractors hash the text
    t = get_extractor("minilm")
    assert t.key({"text": "hello"}) != t.key({"text": "hello!"})
    assert t.key({"text": "hello"}) == t.key({"text": "hello", "path": "elsewhere.wav"})


def test_changed_config_recomputes_and_cache_can_be_off(tmp_path):
    df = _manifest(tmp_path, n=2)
    store = FeatureCache(tmp_path / "c")
    a = extract(df, "mfcc", cache=store, progress=True)  # with the tqdm bar
    b = extract(df, "mfcc", cache=store, progress=False, n_mfcc=20)
    assert (a.stats.misses, b.stats.misses) == (len(df), len(df))
    assert b[0].shape[0] == 20
    assert extract(df, "mfcc", cache=store, progress=False).stats.hits == len(df)
    off = extract(df, "mfcc", cache=False, progress=False)
    assert off.stats.cache_root is None and off.stats.misses == len(df)
    with pytest.raises(ValueError, match="not both"):
        extract(df, get_extractor("mfcc"), cache=store, n_mfcc=20)


def test_error_names_the_row(tmp_path, cache_env):
    df = _manifest(tmp_path, n=2)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio" * 50)
    df.loc[1, "path"] = str(bad)
    with pytest.raises(Exception, match="bad.wav") as info:
        extract(df, "mfcc", progress=False)
    assert any("utt_id='u1'" in n for n in getattr(info.value, "__notes__", ["utt_id='u1'"]))


def test_cache_store_details(tmp_path):
    store = FeatureCache(tmp_path / "c")
    key = make_key({"sha1": "0" * 40}, "demo", {"a": 1}, "1")
    assert key == make_key({"sha1": "0" * 40}, "demo", {"a": 1}, "1")
    assert key != make_key({"sha1": "0" * 40}, "demo", {"a": 1}, "2")  # VERSION bump
    assert store.get("demo", key) is None
    p = store.put("demo", key, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert p == tmp_path / "c" / "demo" / key[:2] / f"{key}.v2.npy"
    side = json.loads(store.sidecar("demo", key).read_text())
    assert side["shape"] == [2, 3] and side["dtype"] == "<f4" and side["bytes"] == p.stat().st_size
    got = store.get("demo", key)
    np.testing.assert_array_equal(got, np.arange(6).reshape(2, 3))
    assert got.dtype == np.float32 and got.flags.writeable
    assert store.size("demo")[0] == 1 and ("demo", key) in store
    p.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match=f"demo/{key} is damaged.*truncated"):
        assert store.get("demo", key) is None
    assert not p.exists() and not store.sidecar("demo", key).exists()
    # an entry of the earlier layout (<key>.npy, no sidecar) is not read, and goes when rewritten
    legacy = p.with_name(f"{key}.npy")
    np.save(legacy, np.ones(3))
    assert store.get("demo", key) is None
    store.put("demo", key, np.zeros(2))
    assert not legacy.exists() and store.get("demo", key).tolist() == [0.0, 0.0]
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert file_sha1(f) == "a9993e364706816aba3e25717850c26c9cd0d89d"  # sha1("abc")


def test_hf_extractors_through_the_registry(tmp_path):
    df = _manifest(tmp_path, n=1)
    folder = tiny_wav2vec2(tmp_path / "w2v")
    store = FeatureCache(tmp_path / "c")
    ssl = get_extractor("ssl", model=str(folder), layer=2)
    feats = extract(df, ssl, cache=store, progress=False)
    assert feats[0].shape[1] == 16 and feats[0].ndim == 2  # (frames, dim)
    assert get_extractor("ssl", model=str(folder), layer="all")(df.iloc[0]).shape[0] == 4
    assert "config_sha1" in ssl.fingerprint()
    assert extract(df, get_extractor("ssl", model=str(folder), layer=2), cache=store,
                   progress=False).stats.hits == len(df)
    # other weights in the same folder -> another key
    key = ssl.key(df.iloc[0])
    tiny_wav2vec2(folder, seed=1)
    assert get_extractor("ssl", model=str(folder), layer=2).key(df.iloc[0]) != key
    # the generic text path on the MiniLM folder gives what the stand-in gives
    from sercore.features.encoders import minilm_path
    generic = get_extractor("text", model=str(minilm_path()), pooling="mean")(df.iloc[0])
    np.testing.assert_allclose(generic, get_extractor("minilm", pooling="mean")(df.iloc[0]),
                               atol=1e-6)
