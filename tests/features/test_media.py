"""Media decoding through PyAV: audio tracks of mp4/avi/mkv (load_audio), video frames, clip checks.

Clips are encoded here from known signals (a chirp, frames whose brightness is their index) and,
for the fixture corpora, compared with the wavs they were made from.
"""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sercore.data import CorruptFileError
from sercore.data._io import check_mp4
from sercore.features import AudioLoadError, load_audio
from sercore.features import media
from sercore.features.video import read_frames

SR = 16000


@pytest.fixture(scope="session")
def fixture_root():
    """The fixture corpora of seed 0 in the user cache (written once, then reused)."""
    from sercore.data.fixtures import default_root, write_fixtures

    write_fixtures(default_root())
    return default_root()


def _chirp(seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * (150 + 400 * t) * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def _index_frames(n: int, h: int = 32, w: int = 48) -> np.ndarray:
    """Frame ``i`` is flat grey level ``8 * i`` (so a decoded frame tells its own index)."""
    return np.repeat((np.arange(n, dtype=np.uint8) * 8)[:, None, None], h, 1).repeat(w, 2)


def _lag(x: np.ndarray, y: np.ndarray) -> int:
    n = min(len(x), len(y))
    c = np.correlate(x[:n], y[:n], "full")
    return int(np.argmax(c)) - (n - 1)


def _close(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(correlation, rms error relative to y's rms) over the common length."""
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    return float(np.corrcoef(x, y)[0, 1]), float(np.sqrt(np.mean((x - y) ** 2)) / np.sqrt(np.mean(y ** 2)))


@pytest.mark.parametrize("name,kw", [
    ("clip.mp4", dict(video_codec="libx264", audio_codec="aac", audio_rate=48000, channels=2)),  # MELD
    ("clip.avi", dict(video_codec="mpeg4", audio_codec="pcm_s16le", codec_tag="DX50")),         # IEMOCAP
    ("clip.mkv", dict(video_codec="mpeg4", audio_codec="aac")),
])
def test_audio_track_decodes_to_the_signal_it_was_made_from(tmp_path, name, kw):
    a = _chirp()
    path = media.write_clip(tmp_path / name, audio=a, sr=SR, frames=_index_frames(50), fps=25, **kw)
    w = load_audio(path)                                             # 16 kHz mono, like a wav
    assert w.dtype == np.float32 and w.ndim == 1
    assert 0 <= len(w) - len(a) <= 1024                              # at most one AAC frame of padding
    assert _lag(w, a) == 0
    corr, err = _close(w, a)
    lossless = kw["audio_codec"].startswith("pcm")
    assert corr > (0.99999 if lossless else 0.995) and err < (1e-3 if lossless else 0.1), (corr, err)
    # a wrong decode fails these bounds: the same signal 5 ms late, or read at the wrong rate
    assert _close(np.concatenate([np.zeros(80, np.float32), a]), a)[0] < 0.9
    assert _close(load_audio(path, sr=12000), a)[0] < 0.5
    # native rate and channels are the track's
    native = load_audio(path, sr=None, mono=False)
    assert native.shape[0] == kw.get("channels", 1)
    info = media.probe(path, need=("audio", "video"))
    assert info["audio"] == (kw.get("audio_rate", SR), kw.get("channels", 1))
    assert info["video"][:2] == (48, 32)


@pytest.mark.parametrize("name", ["part.mp4", "part.avi"])
def test_start_end_and_media_fragment_read_the_same_part(tmp_path, name):
    a = _chirp(4.0)
    kw = {} if name.endswith(".mp4") else dict(video_codec="mpeg4", audio_codec="pcm_s16le")
    path = media.write_clip(tmp_path / name, audio=a, sr=SR, frames=_index_frames(10), fps=2.5, **kw)
    part = load_audio(path, start=2.25, end=3.0)                     # past the seek threshold
    assert len(part) == int(0.75 * SR)
    ref = a[int(2.25 * SR):int(3.0 * SR)]
    corr, err = _close(part, ref)
    assert corr > 0.99 and err < 0.15 and _lag(part, ref) == 0
    frag = load_audio(f"{path}#t=2.2500,3.0000")
    np.testing.assert_allclose(frag, part, atol=1e-6)
    with pytest.raises(ValueError, match="cannot both be given"):
        load_audio(f"{path}#t=2.2500,3.0000", start=0.0, end=1.0)
    # an end past the end is clipped; a start past it is an error naming the file
    assert len(load_audio(path, start=3.5, end=9.0)) >= int(0.49 * SR)
    with pytest.raises(AudioLoadError, match=name):
        load_audio(path, start=6.0, end=7.0)


def test_video_frames_at_a_given_fps_between_start_and_end(tmp_path):
    frames = _index_frames(30)                                       # 30 frames at 10 fps = 3 s
    path = media.write_clip(tmp_path / "v.mp4", frames=frames, fps=10)
    got = media.read_video_frames(path, fps=10)
    assert got.shape == (30, 32, 48) and got.dtype == np.uint8
    idx = np.round(got.mean(axis=(1, 2)) / 8).astype(int)
    assert idx.tolist() == list(range(30))
    # every other frame from 1.2 s (past the seek threshold) to 2.4 s
    part = media.read_video_frames(path, fps=5, start=1.2, end=2.4)
    assert np.round(part.mean(axis=(1, 2)) / 8).astype(int).tolist() == [12, 14, 16, 18, 20, 22]
    # upsampling repeats the frame on screen; size and colour as asked
    up = media.read_video_frames(path, fps=20, start=0.0, end=0.5, size=(16, 24), gray=False)
    assert up.shape == (10, 16, 24, 3)
    assert np.round(up.mean(axis=(1, 2, 3)) / 8).astype(int).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    # the feature reader: gray 48 x 48 float frames of a media fragment
    f = read_frames(f"{path}#t=1.0000,2.0000", fps=10, size=48)
    assert f.shape == (10, 48, 48) and f.dtype == np.float32
    assert np.round(f.mean(axis=(1, 2)) / 8).astype(int).tolist() == list(range(10, 20))


def _video_only(path):
    return media.write_clip(path, frames=_index_frames(5), fps=5)


def test_corrupt_or_missing_tracks_are_errors_naming_the_file(tmp_path):
    good = media.write_clip(tmp_path / "good.mp4", audio=_chirp(1.0), sr=SR, frames=_index_frames(5), fps=5)
    check_mp4(good)                                                  # a sound clip passes
    raw = good.read_bytes()
    cases = {
        "cut.mp4": raw[: len(raw) // 3],                             # truncated download
        "noise.mp4": raw[:32] + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)),
        "empty.mp4": b"",
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(CorruptFileError) as ei:
            check_mp4(p)
        assert ei.value.path == p
        with pytest.raises(AudioLoadError, match=name) as ei:
            load_audio(p)
        assert isinstance(ei.value, CorruptFileError) and ei.value.path == p
    silent = _video_only(tmp_path / "silent.mp4")
    with pytest.raises(CorruptFileError, match="no audio track"):
        check_mp4(silent)
    with pytest.raises(AudioLoadError, match="silent.mp4.*no audio track"):
        load_audio(silent)
    check_mp4(silent, need=("video",))
    audio_only = media.write_clip(tmp_path / "audio.mkv", audio=_chirp(0.5), sr=SR, audio_codec="aac")
    with pytest.raises(CorruptFileError, match="audio.mkv.*no video track"):
        media.read_video_frames(audio_only)
    with pytest.raises(FileNotFoundError, match="gone.avi"):
        media.read_video_frames(tmp_path / "gone.avi")
    with pytest.raises(FileNotFoundError):
        load_audio(tmp_path / "gone.mp4")


# ------------------------------------------------------------------- the fixture corpora's media

def test_fixture_meld_clips_decode_to_their_source_speech(fixture_root):
    from sercore.data.fixtures import stamp

    st = stamp(fixture_root / "meld")
    assert len(st["sources"]) == 42
    for rel, src in list(st["sources"].items())[::10]:
        clip = fixture_root / "meld" / rel
        info = media.probe(clip, need=("audio", "video"))
        assert info["audio"] == (48000, 2)                          # MELD: AAC 48 kHz stereo
        x = load_audio(clip)
        y, sr = sf.read(src, dtype="float32")
        assert sr == SR and _lag(x, y) == 0
        corr, err = _close(x, y)
        assert corr > 0.99 and err < 0.15, (rel, corr, err)
        # frames: the source's drawn faces, 2x larger in a 96 x 160 picture, moving
        f = media.read_video_frames(clip, fps=10)
        faces = np.load(str(src).replace(".wav", ".npy"))
        assert f.shape[1:] == (96, 160) and abs(len(f) - len(faces)) <= 1
        assert f.std(axis=0).mean() > 2                              # not a still picture
        crop = f[:, :, 32:128].reshape(len(f), 48, 2, 48, 2).mean(axis=(2, 4))
        m = min(len(crop), len(faces)) - 2
        err_by_shift = [np.abs(crop[1 + s:1 + s + m] - faces[1:1 + m]).mean() for s in (-1, 0, 1)]
        assert min(err_by_shift) < 3.0                               # the same faces, up to one frame
        assert np.abs(crop[:m] - faces[::-1][:m]).mean() > 2 * min(err_by_shift)


def test_fixture_avi_fragments_and_clips_carry_the_utterance_audio(fixture_root):
    from sercore import data

    iem = data.load("iemocap", root=fixture_root)
    for r in iem.iloc[::27].itertuples():
        a, b = load_audio(r.video), load_audio(r.path)              # dialogue avi cut vs utterance wav
        n = min(len(a), len(b))
        assert abs(len(a) - len(b)) <= 2 and np.abs(a[:n] - b[:n]).max() < 1e-3
        fr = read_frames(r.video, fps=10, size=48)
        assert abs(len(fr) - (len(b) / SR) * 10) <= 1.5 and fr.std(axis=0).mean() > 1
    msp = data.load("msp_improv", root=fixture_root)
    for r in msp.iloc[::31].itertuples():
        a, b = load_audio(r.video), load_audio(r.path)
        n = min(len(a), len(b))
        assert abs(len(a) - len(b)) <= 2 and np.abs(a[:n] - b[:n]).max() < 1e-3
