"""LTPP: the paper's output sizes, known values, zero padding, region boundaries."""
from __future__ import annotations

import numpy as np
import pytest

from sercore.features import AUDIO_LEVELS, TEXT_LEVELS, VIDEO_LEVELS, ltpp, ltpp_audio, ltpp_rows


def test_row_counts_match_the_paper():
    assert ltpp_rows(AUDIO_LEVELS) == 128
    assert ltpp_rows(TEXT_LEVELS) == ltpp_rows(VIDEO_LEVELS) == 32


@pytest.mark.parametrize("T", [1, 10, 63, 64, 65, 500, 1234])
def test_audio_size_64x128x3(T):
    rng = np.random.default_rng(T)
    spec3 = rng.standard_normal((3, 64, T)).astype(np.float32)  # stack_deltas(log_mel) layout
    out = ltpp_audio(spec3)
    assert out.shape == (64, 128, 3)
    assert ltpp_audio(spec3, channels_last=False).shape == (3, 64, 128)


@pytest.mark.parametrize("T", [1, 7, 16, 300])
def test_text_and_video_sizes(T):
    rng = np.random.default_rng(T)
    assert ltpp(rng.standard_normal((T, 300)), TEXT_LEVELS).shape == (32, 300)
    assert ltpp(rng.standard_normal((T, 2048)), VIDEO_LEVELS).shape == (32, 2048)


def test_constant_input_gives_constant_rows():
    x = np.full((3, 200, 5), 2.5, np.float32)
    np.testing.assert_allclose(ltpp(x, AUDIO_LEVELS), 2.5)


def test_ramp_rows_in_documented_order():
    x = np.arange(64, dtype=np.float32)[:, None]  # T = 64 = finest level, D = 1
    out = ltpp(x, AUDIO_LEVELS)[:, 0]
    assert out[0] == pytest.approx(31.5)  # level 0: one region, whole sequence
    np.testing.assert_allclose(out[1:3], [15.5, 47.5])  # level 2
    np.testing.assert_allclose(out[63:127], np.arange(64))  # level 64: one frame each
    assert out[127] == 63  # global max last


def test_short_input_is_zero_padded():
    x = np.full((10, 4), 3.0, np.float32)  # T = 10 < 64 regions
    out = ltpp(x, AUDIO_LEVELS)
    finest = out[63:127]
    np.testing.assert_allclose(finest[:10], 3.0)
    np.testing.assert_allclose(finest[10:], 0.0)  # padding zeros
    np.testing.assert_allclose(out[0], 3.0 * 10 / 64)  # zeros take part in the coarse means
    np.testing.assert_allclose(out[127], 3.0)
    text = ltpp(np.full((3, 2), -1.0, np.float32), TEXT_LEVELS)
    assert text.shape == (32, 2)
    np.testing.assert_allclose(text[-1], 0.0)  # max of (-1, ..., 0 padding) is 0


def test_uneven_regions_use_floor_ceil_bounds():
    x = np.array([[1.0], [2.0], [4.0]], np.float32)  # T = 3, two regions: [0, 2) and [1, 3)
    out = ltpp(x, (0, 2))[:, 0]
    np.testing.assert_allclose(out, [7 / 3, 1.5, 3.0, 4.0])


def test_bad_input_shapes():
    with pytest.raises(ValueError, match=r"\(T, D\) or \(C, T, D\)"):
        ltpp(np.zeros(5))
    with pytest.raises(ValueError, match="T=0"):
        ltpp(np.zeros((0, 3)))
