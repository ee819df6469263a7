"""Log-mel / MFCC shapes for the papers' settings, agreement with librosa, deltas."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from featutil import tone, voiced

from sercore.features import deltas, log_mel, mfcc, segment, stack_deltas
from sercore.features.spectral import n_frames


def test_ctmam_mfcc_26_by_57():
    seg = voiced(1.8)  # 28800 samples
    m = mfcc(seg, 16000, n_mfcc=26, n_fft=2048, hop_length=512)
    assert m.shape == (26, 57) == (26, n_frames(28800, 512))
    assert m.dtype == np.float32 and np.isfinite(m).all()


def test_mfcc_batched_segments_equal_one_by_one():
    segs = segment(voiced(3.1), 16000, 1.8, 0.2)
    batch = mfcc(segs, 16000, n_mfcc=26, n_fft=2048, hop_length=512)
    assert batch.shape == (segs.shape[0], 26, 57)
    for i in (0, len(segs) - 1):
        np.testing.assert_allclose(batch[i], mfcc(segs[i], 16000, n_mfcc=26, n_fft=2048,
                                                  hop_length=512), rtol=1e-5, atol=1e-3)


def test_ca_ser_40_mfcc_every_10ms():
    m = mfcc(voiced(3.0), 16000, n_mfcc=40, n_fft=400, hop_length=160, n_mels=40)
    assert m.shape == (40, 301)  # one frame per 10 ms (+1 with centring)


def test_mcwsa_logmel_64_bands():
    w = voiced(2.0)
    m = log_mel(w, 16000, n_mels=64, win_length=400, hop_length=160, f_min=20, f_max=8000,
                window="hamming")
    assert m.shape == (64, 201)
    assert np.isfinite(m).all()
    # torch in -> torch out, same values
    mt = log_mel(torch.from_numpy(w), 16000, n_mels=64, win_length=400, hop_length=160,
                 f_min=20, f_max=8000)
    assert isinstance(mt, torch.Tensor)
    np.testing.assert_allclose(mt.numpy(), m, rtol=1e-6)
    # a 1 kHz tone puts its energy in the band around 1 kHz, not in the lowest band
    t = log_mel(tone(1.0, 16000, 1000.0), 16000, n_mels=64, f_min=20, f_max=8000)
    assert 10 < int(np.argmax(t[:, 50])) < 40


def test_mfcc_matches_librosa():
    librosa = pytest.importorskip("librosa")
    w = voiced(1.8, seed=3)
    ours = mfcc(w, 16000, n_mfcc=26, n_fft=2048, hop_length=512)
    ref = librosa.feature.mfcc(y=w, sr=16000, n_mfcc=26, n_fft=2048, hop_length=512)
    np.testing.assert_allclose(ours, ref, atol=2e-3 * np.abs(ref).max())


def test_delta_of_linear_ramp_is_its_slope():
    T, slope = 50, 0.75
    ramp = np.tile(slope * np.arange(T, dtype=np.float32) + 2.0, (4, 1))  # (F=4, T)
    for width in (5, 9):
        d = deltas(ramp, order=1, width=width)
        h = width // 2
        assert d.shape == ramp.shape
        np.testing.assert_allclose(d[:, h:-h], slope, rtol=1e-5)
        dd = deltas(ramp, order=2, width=width)
        np.testing.assert_allclose(dd[:, 2 * h:-2 * h], 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="odd width"):
        deltas(ramp, width=4)


def test_stack_deltas_shape_and_channels():
    m = log_mel(voiced(1.0), 16000, n_mels=64, f_min=20, f_max=8000)
    s = stack_deltas(m)
    assert s.shape == (3, 64, m.shape[1])
    np.testing.assert_array_equal(s[0], m)
    np.testing.assert_allclose(s[1], deltas(m), rtol=1e-6)
    np.testing.assert_allclose(s[2], deltas(m, order=2), rtol=1e-5, atol=1e-6)
