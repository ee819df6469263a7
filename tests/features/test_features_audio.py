"""load_audio (rates, stereo, segments, errors), clip_or_pad and segment."""
from __future__ import annotations

import numpy as np
import pytest
from featutil import tone, write_wav

from sercore.features import AudioLoadError, clip_or_pad, load_audio, segment


@pytest.mark.parametrize("sr_in", [8000, 16000, 22050, 44100])
def test_load_audio_resamples_to_16k(tmp_path, sr_in):
    path = write_wav(tmp_path / f"a{sr_in}.wav", tone(1.5, sr_in, 440.0), sr_in)
    w = load_audio(path)
    assert w.dtype == np.float32 and w.ndim == 1
    assert w.shape == (24000,)  # 1.5 s at 16 kHz
    # the tone keeps its pitch: spectral peak at 440 Hz (bin width 16000 / 24000 Hz)
    spec = np.abs(np.fft.rfft(w * np.hanning(w.size)))
    assert abs(np.argmax(spec) * 16000 / w.size - 440.0) < 2.0


def test_load_audio_stereo_is_channel_mean(tmp_path):
    left = tone(1.0, 22050, 300.0)
    right = -0.5 * left
    path = write_wav(tmp_path / "st.wav", np.stack([left, right], axis=1), 22050, "FLOAT")
    w = load_audio(path, sr=None)
    np.testing.assert_allclose(w, 0.25 * left, atol=1e-6)
    assert load_audio(path).shape == (16000,)
    both = load_audio(path, sr=None, mono=False)
    assert both.shape == (2, 22050)


def test_load_audio_start_end(tmp_path):
    path = write_wav(tmp_path / "b.wav", tone(2.0, 44100), 44100)
    assert load_audio(path, start=0.5, end=1.0).shape == (8000,)
    assert load_audio(path, start=1.5).shape == (8000,)
    # an end a little past the file's end is clipped to it
    assert load_audio(path, start=1.5, end=2.05).shape == (8000,)
    with pytest.raises(AudioLoadError, match="b.wav"):
        load_audio(path, start=2.5)
    with pytest.raises(AudioLoadError, match="empty segment"):
        load_audio(path, start=1.0, end=1.0)


def test_load_audio_errors_name_the_file(tmp_path):
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioLoadError, match="garbage.wav"):
        load_audio(bad)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioLoadError, match="empty.wav.*no samples"):
        load_audio(empty)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")


def test_clip_or_pad_loop_and_zero():
    w = np.arange(16000, dtype=np.float32)
    looped = clip_or_pad(w, 16000, min_s=3.0)
    assert looped.shape == (48000,)
    np.testing.assert_array_equal(looped[16000:32000], w)
    np.testing.assert_array_equal(looped[32000:], w)
    zero = clip_or_pad(w, 16000, min_s=2.5, mode="zero")
    assert zero.shape == (40000,) and not zero[16000:].any()
    clipped = clip_or_pad(np.arange(16000 * 10, dtype=np.float32), 16000, max_s=8.0, min_s=3.0)
    assert clipped.shape == (128000,) and clipped[0] == 0 and clipped[-1] == 127999
    assert clip_or_pad(w, 16000, max_s=8.0, min_s=0.5) is not None
    with pytest.raises(ValueError, match="min_s <= max_s"):
        clip_or_pad(w, 16000, max_s=1.0, min_s=2.0)
    with pytest.raises(ValueError, match="'loop' or 'zero'"):
        clip_or_pad(w, 16000, min_s=2.0, mode="mirror")


def test_segment_counts_and_overlap():
    sr = 16000
    seg_len, hop = 28800, 3200  # CTMAM: 1.8 s windows, 1.6 s overlap
    short = np.arange(sr, dtype=np.float32)  # 1.0 s -> one loop-padded window
    s = segment(short, sr, 1.8, 0.2)
    assert s.shape == (1, seg_len)
    np.testing.assert_array_equal(s[0, sr:], short[: seg_len - sr])
    assert segment(np.ones(seg_len, np.float32), sr, 1.8, 0.2).shape == (1, seg_len)

    exact = np.arange(48000, dtype=np.float32)  # 3.0 s: windows end exactly at T
    s = segment(exact, sr, 1.8, 0.2)
    assert s.shape == (7, seg_len)
    np.testing.assert_array_equal(s[1, : seg_len - hop], s[0, hop:])  # 1.6 s overlap
    assert s[-1, -1] == 47999

    longer = np.arange(49600, dtype=np.float32)  # 3.1 s: a 0.1 s tail after 7 windows
    end = segment(longer, sr, 1.8, 0.2)
    assert end.shape == (8, seg_len)
    np.testing.assert_array_equal(end[-1], longer[-seg_len:])
    assert segment(longer, sr, 1.8, 0.2, tail="drop").shape == (7, seg_len)
    padded = segment(longer, sr, 1.8, 0.2, tail="pad", pad="zero")
    assert padded.shape == (8, seg_len) and padded[-1, 0] == 7 * hop
    assert not padded[-1, 49600 - 7 * hop:].any()
