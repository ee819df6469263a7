"""Per-frame video features: the randproj / gradproj stand-ins, Sobel, frame reading, the ResNet path."""
import numpy as np
import pandas as pd
import pytest

from sercore.features import video


def _clips(tmp_path, lengths=(7, 40), seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i, T in enumerate(lengths):
        p = tmp_path / f"v{i}.npy"
        np.save(p, rng.integers(0, 255, (T, 48, 48), dtype=np.uint8))
        paths.append(str(p))
    return pd.DataFrame({"video": paths})


def test_stand_ins_give_2048_per_frame_deterministic_and_distinct(tmp_path):
    man = _clips(tmp_path)
    a = list(video.frame_features(man, "randproj"))
    b = list(video.frame_features(man, "gradproj"))
    assert [x.shape for x in a] == [(7, 2048), (40, 2048)] and [x.shape for x in b] == [(7, 2048), (40, 2048)]
    assert all((x >= 0).all() for x in a + b)                                     # ReLU features
    assert np.array_equal(a[1], list(video.frame_features(man, "randproj"))[1])
    assert not np.allclose(a[1], list(video.frame_features(man, "randproj", seed=1))[1])
    assert not np.allclose(a[1], b[1])
    # the map sees per-frame standardised pixels: a frame's brightness and contrast do not matter
    frames = np.load(man["video"][0]).astype(np.float32)
    np.save(tmp_path / "bright.npy", frames * 0.5 + 40)
    c = list(video.frame_features(pd.DataFrame({"video": [str(tmp_path / "bright.npy")]}), "randproj"))[0]
    np.testing.assert_allclose(c, a[0], rtol=1e-3, atol=1e-3)


def test_arguments_are_checked_before_any_frame_is_read(tmp_path):
    man = _clips(tmp_path)
    with pytest.raises(ValueError, match="video must be one of"):
        video.frame_features(man, "vgg")
    with pytest.raises(ValueError, match="'video' column"):
        video.frame_features(pd.DataFrame({"video": [man["video"][0], None]}))


def test_sobel_is_zero_on_flat_frames_and_finds_an_edge():
    flat = np.full((2, 6, 6), 3.0)
    assert np.allclose(video.sobel(flat), 0)
    step = np.zeros((1, 6, 6))
    step[:, :, 3:] = 1.0
    g = video.sobel(step)
    assert g.shape == (1, 6, 6) and g[0, 2, 2] == pytest.approx(4.0) and g[0, 2, 0] == 0


def test_read_frames_npy_and_what_a_video_file_needs(tmp_path):
    man = _clips(tmp_path, lengths=(5,))
    f = video.read_frames(man["video"][0])
    assert f.shape == (5, 48, 48) and f.dtype == np.float32 and f.max() <= 255
    with pytest.raises(FileNotFoundError, match="missing.avi"):      # decoded with PyAV (test_media.py)
        video.read_frames(str(tmp_path / "missing.avi#t=0.5,1.5"))


def test_resnet_path_explains_what_it_needs(tmp_path):
    man = pd.DataFrame({"video": [str(tmp_path / "x.npy")]})
    try:
        import torchvision  # noqa: F401
        match = "video_weights"
    except ImportError:
        match = "torchvision"
    with pytest.raises((ImportError, ValueError), match=match):
        video.frame_features(man, "resnet")
