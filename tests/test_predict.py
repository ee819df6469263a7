"""The CA-SER demo tool: checkpoints, prediction on files at any rate / channel count, clear errors."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

import sercore
from sercore.chapters import ca_ser as chapter
from sercore.features import AudioLoadError
from sercore.models.ca_ser import CASER, CASERConfig
from sercore.predict import CheckpointError, file_features, load_checkpoint, predict, save_checkpoint

TINY = dict(lstm_hidden=8, lstm_layers=1, d_model=16, sa_layers=1, sa_heads=2, sa_ff=32, ca_heads=2,
            ca_dim=16, ffn_dim=32, dropout=0.0)
LABELS = ["neutral", "happy", "sad", "angry"]


def tone(sr, seconds=1.2, f0=220.0, channels=1, seed=0):
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(seed)
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(t.size)
    return np.stack([x, 0.5 * x], 1).astype(np.float32) if channels == 2 else x.astype(np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_wav2vec2):
    """A frozen-mode checkpoint whose SSL features come from a tiny wav2vec 2.0 (layer 9), plus audio files."""
    root = tmp_path_factory.mktemp("predict")
    w2v = tiny_wav2vec2(root / "w2v")
    fc = chapter.feature_config({"mode": "frozen", "encoder": w2v, "ssl_layer": 9, "max_s": 2.0, "min_s": 1.0})
    torch.manual_seed(0)
    model = CASER(CASERConfig(ssl_dim=32, n_classes=4, **TINY)).eval()
    ck = save_checkpoint(model, root / "ck", LABELS, fc, encoder=fc["encoder"])
    files = {}
    for sr, ch in ((8000, 1), (22050, 2), (44100, 2), (16000, 1)):
        p = root / f"tone_{sr}_{ch}ch.wav"
        sf.write(p, tone(sr, channels=ch, f0=200 + sr / 1000), sr)
        files[(sr, ch)] = str(p)
    return {"root": root, "w2v": w2v, "fc": fc, "model": model, "ck": ck, "files": files}


def test_checkpoint_folder_contents(setup):
    meta = json.loads((setup["ck"] / "config.json").read_text())
    assert (setup["ck"] / "model.safetensors").is_file()
    assert meta["labels"] == LABELS and meta["model"] == "ca_ser"
    assert meta["model_config"]["d_model"] == 16 and meta["model_config"]["ssl_dim"] == 32
    assert meta["features"]["ssl"] == {"name": "ssl", "config": {"sr": 16000, "max_s": 2.0, "min_s": 1.0,
                                                                 "pad": "loop", "model": setup["w2v"], "layer": 9}}
    assert meta["features"]["mfcc"]["n_mfcc"] == 40 and meta["features"]["mfcc"]["hop_length"] == 160


def test_predict_any_rate_mono_stereo(setup):
    paths = list(setup["files"].values())
    preds = sercore.predict(paths, checkpoint=setup["ck"], return_embedding=True)
    ck = load_checkpoint(setup["ck"])                               # loaded once, reused below
    assert [p["path"] for p in preds] == paths
    for p in preds:
        assert p["label"] in LABELS
        assert set(p["probabilities"]) == set(LABELS)
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-5
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)
        assert len(p["embedding"]) == 16
    # batched prediction (different lengths after resampling) equals one file at a time
    for path, p in zip(paths, preds):
        one = predict(path, ck, return_embedding=True)[0]
        assert np.allclose(list(one["probabilities"].values()), list(p["probabilities"].values()), atol=1e-5)
        assert np.allclose(one["embedding"], p["embedding"], atol=1e-5)


def test_inputs_are_resampled_and_downmixed(setup):
    f = file_features(setup["files"][(44100, 2)], setup["fc"])
    # 1.2 s at any rate -> 16 kHz -> 1.2 s (>= min_s 1.0): 1 + 19200 // 160 MFCC frames, 959 CNN frames
    assert f["mfcc"].shape == (121, 40)
    assert f["ssl"].shape == (959, 32)
    f8 = file_features(setup["files"][(8000, 1)], setup["fc"])
    assert f8["mfcc"].shape == (121, 40)
    # a stereo file is its channel average
    mono = setup["root"] / "mono_avg.wav"
    x = tone(22050, channels=2, f0=200 + 22.05)
    sf.write(mono, x.mean(1), 22050)
    a = predict([setup["files"][(22050, 2)], str(mono)], setup["ck"])
    assert np.allclose(list(a[0]["probabilities"].values()), list(a[1]["probabilities"].values()), atol=1e-4)


def test_round_trip_identical_outputs(setup):
    ck = load_checkpoint(setup["ck"])
    fe = file_features(setup["files"][(16000, 1)], setup["fc"])
    ssl, mfcc = torch.from_numpy(fe["ssl"])[None], torch.from_numpy(fe["mfcc"])[None]
    with torch.no_grad():
        assert torch.equal(ck.model(ssl, None, mfcc, None), setup["model"](ssl, None, mfcc, None))


def test_finetune_checkpoint_loads_without_the_encoder_folder(setup, tmp_path):
    w2v = shutil.copytree(setup["w2v"], tmp_path / "w2v_copy")
    fc = chapter.feature_config({"mode": "finetune", "encoder": str(w2v), "max_s": 2.0, "min_s": 1.0})
    torch.manual_seed(1)
    model = CASER(CASERConfig(mode="finetune", encoder=str(w2v), n_classes=4, **TINY)).eval()
    with torch.no_grad():                                       # "fine-tuned": encoder weights differ from the folder's
        model.encoder.encoder.layers[3].attention.q_proj.weight.add_(0.5)
    save_checkpoint(model, tmp_path / "ck", LABELS, fc)
    shutil.rmtree(w2v)                                          # the checkpoint must be self-contained
    ck = load_checkpoint(tmp_path / "ck")
    wav = setup["files"][(22050, 2)]
    fe = file_features(wav, fc)
    assert fe["wave"].shape == (19200,)
    w, m = torch.from_numpy(fe["wave"])[None], torch.from_numpy(fe["mfcc"])[None]
    with torch.no_grad():
        assert torch.equal(ck.model(w, None, m, None), model(w, None, m, None))
    p = predict([wav], ck)[0]
    assert p["label"] in LABELS


def test_clear_errors_name_the_file(setup, tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(b"this is not a wave file at all")
    with pytest.raises(AudioLoadError, match="not_audio.wav"):
        predict([setup["files"][(16000, 1)], str(bad)], setup["ck"])
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioLoadError, match="empty.wav.*no samples"):
        predict(str(empty), setup["ck"])
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        predict(str(tmp_path / "missing.wav"), setup["ck"])
    with pytest.raises(CheckpointError, match="config.json is missing"):
        predict(setup["files"][(16000, 1)], tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        predict([], setup["ck"])


def test_save_checks_labels(setup, tmp_path):
    with pytest.raises(ValueError, match="4 classes but 3 labels"):
        save_checkpoint(setup["model"], tmp_path / "x", LABELS[:3], setup["fc"])


def test_cli_predict(setup, tmp_path, capsys):
    from sercore.cli import main

    f = setup["files"][(8000, 1)]
    assert main(["predict", f, "--checkpoint", str(setup["ck"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["path"] == f and out[0]["label"] in LABELS
    assert main(["predict", f, "--checkpoint", str(setup["ck"])]) == 0
    table = capsys.readouterr().out
    assert "tone_8000_1ch.wav" in table and "neutral" in table
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    assert main(["predict", str(bad), "--checkpoint", str(setup["ck"])]) == 1
    assert "bad.wav" in capsys.readouterr().err
