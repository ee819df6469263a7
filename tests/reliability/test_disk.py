"""Integrity on disk: the feature cache, checkpoint folders, ``predict`` input and ``data fetch`` archives.

Each damaged file or bad input is one case: a damaged cache entry is recomputed with a warning naming it
(never served); a damaged checkpoint folder raises one ``CheckpointError`` (a ``ValueError``) naming the
folder and the problem, and ``sercore predict`` exits 1 with ``error: ...`` and prints nothing on stdout;
non-finite audio is refused naming the file; a truncated or corrupt archive is an error that says so,
names it, deletes the download and the partial extraction, and locks no digest.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sercore import cli
from sercore.data import fetch as F
from sercore.features import AudioLoadError, FeatureCache, extract, get_extractor
from sercore.models.ca_ser import CASER, CASERConfig
from sercore.predict import CheckpointError, load_checkpoint, predict, save_checkpoint

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _load_helpers(rel: str, name: str):
    """A helper module of another test folder (pytest runs with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FT = _load_helpers("data/test_fetch.py", "_reliability_fetch_helpers")      # the local http.server fixtures

TINY = dict(lstm_hidden=8, lstm_layers=1, d_model=16, sa_layers=1, sa_heads=2, sa_ff=32, ca_heads=2,
            ca_dim=16, ffn_dim=32, dropout=0.0)
LABELS = ["neutral", "happy", "sad", "angry"]


# ============================================================================ feature cache

def _wav(path: Path, seconds=0.6, sr=16000, seed=0, fill=None, subtype="PCM_16") -> Path:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(seed).standard_normal(t.size))
    x = x.astype(np.float32)
    if fill is not None:
        x[len(x) // 3: len(x) // 3 + 50] = fill
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def _flip_data_byte(p: Path) -> None:
    b = bytearray(p.read_bytes())
    b[-7] ^= 0x5A                                   # one byte of the samples, the size unchanged
    p.write_bytes(bytes(b))


def _zero_data(p: Path) -> None:
    b = bytearray(p.read_bytes())
    header = len(b) - 40 * 61 * 4                   # mfcc (40, 61) float32 after the .npy header
    b[header:] = bytes(len(b) - header)             # same size, same header, other content
    p.write_bytes(bytes(b))


def _other_shape(p: Path) -> None:
    with open(p, "wb") as f:
        np.save(f, np.zeros((61, 40), np.float32))  # a valid array, transposed


def _other_dtype(p: Path) -> None:
    with open(p, "wb") as f:
        np.save(f, np.zeros((40, 61), np.float64))  # a valid array of the right shape, another dtype


DAMAGE = {
    "truncated": (lambda p, s: p.write_bytes(p.read_bytes()[:100]), "truncated"),
    "byte flipped, same size": (lambda p, s: _flip_data_byte(p), "sha256 differs"),
    "other content, same size and header": (lambda p, s: _zero_data(p), "sha256 differs"),
    "valid array of another shape": (lambda p, s: _other_shape(p), r"shape \(61, 40\).*shape \(40, 61\)"),
    "valid array of another dtype": (lambda p, s: _other_dtype(p), "dtype <f8.*dtype <f4"),
    "sidecar missing": (lambda p, s: s.unlink(), "sidecar .* is missing"),
    "sidecar not JSON": (lambda p, s: s.write_text("{not json"), "sidecar .* unreadable"),
    "sidecar of another entry": (lambda p, s: s.write_text(json.dumps(
        {"sha256": "0" * 64, "bytes": p.stat().st_size, "shape": [40, 61], "dtype": "<f4"})), "sha256 differs"),
}


@pytest.fixture
def one_row(tmp_path):
    return [{"utt_id": "u0", "path": str(_wav(tmp_path / "u0.wav"))}]


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_cache_entry_is_recomputed_with_a_warning(kind, tmp_path, one_row):
    damage, why = DAMAGE[kind]
    store = FeatureCache(tmp_path / "cache")
    ext = get_extractor("mfcc")
    good = extract(one_row, ext, cache=store, progress=False)[0]
    assert good.shape == (40, 61)
    key = ext.key(one_row[0])
    data, side = store.path("mfcc", key), store.sidecar("mfcc", key)
    damage(data, side)
    with pytest.warns(UserWarning, match=f"feature cache entry mfcc/{key} is damaged") as rec:
        again = extract(one_row, ext, cache=store, progress=False)
    msg = " ".join(str(w.message) for w in rec)
    assert re.search(why, msg), msg
    assert again.stats.misses == 1 and again.stats.hits == 0          # recomputed, not served
    np.testing.assert_array_equal(again[0], good)
    assert again[0].dtype == np.float32 and again[0].shape == good.shape
    with warnings.catch_warnings():                                   # rewritten whole: a clean hit now
        warnings.simplefilter("error")
        third = extract(one_row, ext, cache=store, progress=False)
    assert third.stats.hits == 1
    np.testing.assert_array_equal(third[0], good)


def test_old_format_cache_entry_counts_as_missing(tmp_path, one_row):
    store = FeatureCache(tmp_path / "cache")
    ext = get_extractor("mfcc")
    key = ext.key(one_row[0])
    legacy = store.root / "mfcc" / key[:2] / f"{key}.npy"             # the layout before checksums
    legacy.parent.mkdir(parents=True)
    np.save(legacy, np.full((40, 61), 7.0, np.float32))               # would be served by the old cache
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                # no warning, no crash: just a miss
        out = extract(one_row, ext, cache=store, progress=False)
    assert out.stats.misses == 1 and not np.all(out[0] == 7.0)
    assert not legacy.exists() and store.get("mfcc", key) is not None  # replaced by a checked entry


# ============================================================================ checkpoints

@pytest.fixture(scope="module")
def ckpts(tmp_path_factory, tiny_wav2vec2):
    """A frozen and a finetune checkpoint (tiny wav2vec 2.0, no download) and one good audio file."""
    from sercore.chapters import ca_ser as chapter

    root = tmp_path_factory.mktemp("disk_ck")
    w2v = tiny_wav2vec2(root / "w2v", layers=3)
    fc = chapter.feature_config({"mode": "frozen", "encoder": w2v, "ssl_layer": 2, "max_s": 1.0, "min_s": 0.5})
    torch.manual_seed(0)
    frozen = save_checkpoint(CASER(CASERConfig(ssl_dim=32, n_classes=4, **TINY)).eval(), root / "frozen",
                             LABELS, fc, encoder=fc["encoder"])
    fcf = chapter.feature_config({"mode": "finetune", "encoder": w2v, "max_s": 1.0, "min_s": 0.5})
    torch.manual_seed(1)
    ft = save_checkpoint(CASER(CASERConfig(mode="finetune", encoder=w2v, ssl_layer=2, n_classes=4,
                                           **TINY)).eval(), root / "finetune", LABELS, fcf)
    return {"root": root, "frozen": frozen, "finetune": ft, "wav": str(_wav(root / "good.wav", 0.8))}


def _edit_config(folder: Path, change) -> None:
    meta = json.loads((folder / "config.json").read_text())
    change(meta)
    (folder / "config.json").write_text(json.dumps(meta))


def _truncate_weights(folder: Path) -> None:
    w = folder / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])


def _flip_weights(folder: Path) -> None:
    w = folder / "model.safetensors"
    b = bytearray(w.read_bytes())
    b[-5] ^= 0xFF
    w.write_bytes(bytes(b))


def _weights_link_outside(folder: Path) -> None:
    outside = folder.parent / f"{folder.name}-elsewhere.safetensors"
    shutil.copy2(folder / "model.safetensors", outside)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").symlink_to(outside)


def _weights_absolute(folder: Path) -> None:
    outside = folder.parent / f"{folder.name}-abs.safetensors"
    shutil.copy2(folder / "model.safetensors", outside)
    _edit_config(folder, lambda m: m.update(weights=str(outside)))


def _weights_dotdot(folder: Path) -> None:
    shutil.copy2(folder / "model.safetensors", folder.parent / f"{folder.name}-up.safetensors")
    _edit_config(folder, lambda m: m.update(weights=f"../{folder.name}-up.safetensors"))


def _finetune_without_encoder_config(folder: Path) -> None:
    def change(m):
        m["encoder_hf_config"] = None
        m["model_config"]["encoder"] = "facebook/wav2vec2-base"       # would be a download
    _edit_config(folder, change)


def _nan_weights(folder: Path) -> None:
    from safetensors.torch import load_file, save_file
    from sercore.paths import file_sha256 as _sha256

    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        binding = f.metadata()                                  # a model that diverged, saved as the tool does
    state = load_file(str(folder / "model.safetensors"))
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name][0] = float("nan")
    save_file(state, str(folder / "model.safetensors"), metadata=binding)
    _edit_config(folder, lambda m: m.update(weights_sha256=_sha256(folder / "model.safetensors")))
    man = json.loads((folder / "manifest.json").read_text())
    man["files"] = {n: _sha256(folder / n) for n in man["files"]}
    (folder / "manifest.json").write_text(json.dumps(man))


def _as_version_1(folder: Path) -> None:
    def change(m):
        m.update(version=1)
        m.pop("weights_sha256")
        m.pop("weights_bytes")
    _edit_config(folder, change)


def _v1_truncated(folder: Path) -> None:
    _as_version_1(folder)
    _truncate_weights(folder)


#: kind -> (which checkpoint, damage, what the message must say)
CHECKPOINT_DAMAGE = {
    "truncated weights": ("frozen", _truncate_weights,
                          r"model.safetensors is damaged: [\d,]+ bytes where [\d,]+ were written \(truncated\)"),
    "weights bytes changed, same size": ("frozen", _flip_weights, "model.safetensors is damaged: its sha256"),
    "class count not matching labels": ("frozen", lambda f: _edit_config(
        f, lambda m: m["model_config"].update(n_classes=5)), r"n_classes is 5 but there are 4 labels"),
    "unknown model": ("frozen", lambda f: _edit_config(f, lambda m: m.update(model="ca_ser_xl")),
                      "unknown model 'ca_ser_xl'"),
    "a string where a number belongs": ("frozen", lambda f: _edit_config(
        f, lambda m: m["model_config"].update(d_model="16")), r"model_config.d_model is '16' \(str\).*int"),
    "a string in a feature setting": ("frozen", lambda f: _edit_config(
        f, lambda m: m["features"]["mfcc"].update(hop_length="160")), r"features.mfcc.hop_length is '160'"),
    "weights entry with '..'": ("frozen", _weights_dotdot, "plain file name inside the checkpoint folder"),
    "weights entry an absolute path": ("frozen", _weights_absolute, "plain file name inside the checkpoint"),
    "weights a symlink leaving the folder": ("frozen", _weights_link_outside, "is a link to .*outside"),
    "finetune without stored encoder config": ("finetune", _finetune_without_encoder_config,
                                               "finetune mode needs the stored encoder config"),
    "config.json missing": ("frozen", lambda f: (f / "config.json").unlink(), "config.json is missing"),
    "config.json not JSON": ("frozen", lambda f: (f / "config.json").write_text('{"format": "sercore-'),
                             "config.json is not valid JSON"),
    "weights holding NaN": ("frozen", _nan_weights, "hold NaN or infinite values"),
    "truncated weights of a version-1 folder (no checksum)": ("frozen", _v1_truncated,
                                                              "written by an older sercore .checkpoint version 1"),
}


@pytest.mark.filterwarnings("ignore:.*without a weights checksum")     # the version-1 case says so too
@pytest.mark.parametrize("kind", list(CHECKPOINT_DAMAGE))
def test_damaged_checkpoint_is_one_clear_error(kind, ckpts, tmp_path, monkeypatch, capsys):
    which, damage, why = CHECKPOINT_DAMAGE[kind]
    folder = Path(shutil.copytree(ckpts[which], tmp_path / f"ck-{which}"))
    damage(folder)

    import transformers

    def no_hub(*a, **k):
        raise AssertionError("predict must never reach the model hub")
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", no_hub)

    with pytest.raises(CheckpointError, match=why) as e:
        load_checkpoint(folder)
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith(f"checkpoint {folder}: ")
    with pytest.raises(CheckpointError, match=why):
        predict(ckpts["wav"], folder)
    # the CLI: exit 1, one line naming the folder and the problem, nothing on stdout
    assert cli.main(["predict", ckpts["wav"], "--checkpoint", str(folder), "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: checkpoint {folder}: ") and "Traceback" not in err


def test_good_checkpoints_record_their_weights_sha256(ckpts, tmp_path):
    for which in ("frozen", "finetune"):
        meta = json.loads((ckpts[which] / "config.json").read_text())
        assert meta["version"] == 3 and len(meta["weights_sha256"]) == 64
        assert set(json.loads((ckpts[which] / "manifest.json").read_text())["files"]) == {"config.json",
                                                                                        "model.safetensors"}
        assert load_checkpoint(ckpts[which]).labels == LABELS
    # a sound folder of an earlier format cannot be verified: refused, or loaded on request with a warning
    old = Path(shutil.copytree(ckpts["frozen"], tmp_path / "v1"))
    _as_version_1(old)
    with pytest.raises(CheckpointError, match="older sercore .checkpoint version 1.*allow_unverified"):
        load_checkpoint(old)
    with pytest.warns(UserWarning, match="without a weights checksum"):
        assert load_checkpoint(old, allow_unverified=True).labels == LABELS


# ============================================================================ predict input

@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf], ids=["NaN samples", "+Inf samples", "-Inf samples"])
def test_predict_refuses_non_finite_audio(fill, ckpts, tmp_path, capsys):
    bad = _wav(tmp_path / f"bad_{fill}.wav", 0.8, fill=fill, subtype="FLOAT")
    assert not np.isfinite(sf.read(bad)[0]).all()
    with pytest.raises(AudioLoadError, match=f"{bad.name}.*(NaN|non-finite|infinite)"):
        predict([ckpts["wav"], str(bad)], ckpts["frozen"])
    assert cli.main(["predict", ckpts["wav"], str(bad), "--checkpoint", str(ckpts["frozen"]), "--json"]) == 1
    out, err = capsys.readouterr()
    last = err.strip().splitlines()[-1]
    assert out == "" and last.startswith("error: ") and bad.name in last and "Traceback" not in err


def test_predict_checks_the_waveform_itself(ckpts, monkeypatch):
    """Whatever the audio loader lets through, predict refuses a non-finite waveform, naming the file."""
    ck = load_checkpoint(ckpts["frozen"])
    mfcc = ck.extractors[0]
    real = type(mfcc).wave

    def nan_wave(self, row):
        w = real(self, row)
        w[10] = np.nan
        return w
    monkeypatch.setattr(type(mfcc), "wave", nan_wave)
    with pytest.raises(AudioLoadError, match="good.wav: 1 of [\\d,]+ samples are NaN"):
        predict(ckpts["wav"], ck)


def test_predict_refuses_non_finite_model_output(ckpts, monkeypatch, capsys):
    ck = load_checkpoint(ckpts["frozen"])
    real = ck.model.forward

    def nan_forward(*a, **k):
        logits, emb = real(*a, **k)
        return logits * float("nan"), emb
    monkeypatch.setattr(ck.model, "forward", nan_forward)
    with pytest.raises(ValueError, match="good.wav: the model gave non-finite outputs"):
        predict(ckpts["wav"], ck)


def test_predict_json_is_strict_json(ckpts, capsys):
    assert cli.main(["predict", ckpts["wav"], "--checkpoint", str(ckpts["frozen"]), "--json", "--embedding"]) == 0
    text = capsys.readouterr().out

    def no_constants(c):
        raise AssertionError(f"invalid JSON token {c}")
    out = json.loads(text, parse_constant=no_constants)              # NaN / Infinity would fail here
    assert out[0]["label"] in LABELS and abs(sum(out[0]["probabilities"].values()) - 1) < 1e-5
    assert len(out[0]["embedding"]) == 16


# ============================================================================ data fetch

@pytest.fixture
def server():
    s = FT._Server()
    yield s
    s.close()


def _urdu_tar_gz() -> bytes:
    return FT._tar_gz([FT._file_info(f"URDU-Dataset-abc/{folder}/{name}", FT._wav_bytes(i))
                       for i, (folder, name) in enumerate([("Angry", "SM1_F1_A01.wav"), ("Sad", "SF2_F3_S07.wav")])])


def _corrupt_member_zip() -> bytes:
    body = bytearray(FT._emodb_zip())
    with zipfile.ZipFile(io.BytesIO(bytes(body))) as zf:
        info = zf.getinfo(f"wav/{FT.EMODB_FILES[0]}")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    body[at] ^= 0xFF                              # one byte of a member's data: its CRC no longer matches
    return bytes(body)


#: kind -> (corpus, file name, bytes served)
ARCHIVES = {
    "truncated tar.gz": ("urdu", "urdu.tar.gz", lambda: _urdu_tar_gz()[: len(_urdu_tar_gz()) * 2 // 3]),
    "truncated zip": ("emodb", "emodb.zip", lambda: FT._emodb_zip()[: len(FT._emodb_zip()) * 2 // 3]),
    "zip with a corrupt member": ("emodb", "emodb.zip", _corrupt_member_zip),
}


def _assert_nothing_left(root: Path, corpus: str, filename: str, url: str) -> None:
    lock = root / ".downloads" / F.LOCK_NAME
    assert not lock.exists() or url not in json.loads(lock.read_text())      # no digest locked
    assert not (root / ".downloads" / filename).exists()                      # the download deleted
    assert not (root / ".downloads" / f"{filename}.part").exists()
    assert not (root / corpus).exists()
    assert [p.name for p in root.iterdir() if p.name != ".downloads"] == []   # no staging folder


@pytest.mark.parametrize("kind", list(ARCHIVES))
def test_corrupt_archive_is_an_error_that_leaves_nothing(kind, server, tmp_path):
    corpus, filename, body = ARCHIVES[kind]
    server.files[f"/{filename}"] = body()
    root = tmp_path / "data"
    url = server.url(f"/{filename}")
    with pytest.raises(F.CorruptArchiveError) as e:
        F.fetch("tiny", root, sources=FT._source(url, filename, None, corpus=corpus), progress=False)
    msg = str(e.value)
    assert "truncated or corrupt" in msg and filename in msg and "no digest was recorded" in msg
    _assert_nothing_left(root, corpus, filename, url)


def test_cli_truncated_archive_exit_1_then_a_good_copy_installs(server, tmp_path, monkeypatch, capsys):
    good = _urdu_tar_gz()
    server.files["/urdu.tar.gz"] = good[: len(good) // 2]
    url = server.url("/urdu.tar.gz")
    monkeypatch.setitem(F.SOURCES, "urdu", F.Source(corpus="urdu", files=(F.Archive(url, "urdu.tar.gz"),),
                                                    is_root=F.SOURCES["urdu"].is_root))
    monkeypatch.setenv("SERCORE_PROGRESS", "0")
    root = tmp_path / "data"
    assert cli.main(["data", "fetch", "urdu", "--data-root", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "urdu.tar.gz is truncated or corrupt" in err and "Traceback" not in err
    assert "recorded in" not in out
    _assert_nothing_left(root, "urdu", "urdu.tar.gz", url)
    # the upstream copy is whole again: the next fetch downloads it, installs it, and only then locks it
    server.files["/urdu.tar.gz"] = good
    assert cli.main(["data", "fetch", "urdu", "--data-root", str(root)]) == 0
    lock = json.loads((root / ".downloads" / F.LOCK_NAME).read_text())
    assert lock[url]["sha256"] == FT._sha(good)


def test_digest_not_locked_when_the_loader_refuses(server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:                                  # extracts, but no Emo-DB layout
        zf.writestr("x/readme.txt", "no wav folder here\n")
    body = buf.getvalue()
    server.files["/odd.zip"] = body
    root = tmp_path / "data"
    url = server.url("/odd.zip")
    with pytest.raises(F.FetchError, match="no digest was recorded"):
        F.fetch("tiny", root, sources=FT._source(url, "odd.zip", None), progress=False)
    lock = root / ".downloads" / F.LOCK_NAME
    assert not lock.exists() or url not in json.loads(lock.read_text())
    assert not (root / "emodb").exists()
