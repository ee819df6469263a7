"""Word vectors: the fixed projection of the MiniLM stand-in, word splitting, the gensim path."""
import numpy as np
import pandas as pd
import pytest

from sercore.features import word2vec


def test_projection_is_orthonormal_fixed_and_seeded():
    P = word2vec.projection(384, 300, 0)
    assert P.shape == (384, 300) and P.dtype == np.float32
    assert np.allclose(P.T @ P, np.eye(300), atol=1e-4)
    assert np.array_equal(P, word2vec.projection(384, 300, 0))
    assert not np.allclose(P, word2vec.projection(384, 300, 1))
    Q = word2vec.projection(200, 300, 0)                      # widening: orthonormal rows
    assert Q.shape == (200, 300) and np.allclose(Q @ Q.T, np.eye(200), atol=1e-4)


def test_words_and_describe():
    assert word2vec.words("I'm   fine, thanks -- 2 times!") == ["I'm", "fine", "thanks", "2", "times"]
    assert word2vec.describe(None) == word2vec.STAND_IN
    assert "gensim" in word2vec.describe("/x/GoogleNews.kv")


def test_gensim_vectors_zero_for_unknown_words(tmp_path):
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors(vector_size=4)
    kv.add_vectors(["happy", "day"], np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32))
    path = tmp_path / "tiny.kv"
    kv.save(str(path))
    out = word2vec.word_vectors(pd.DataFrame({"text": ["happy zzz day", "!!"]}), str(path))
    assert out[0].shape == (3, 4) and np.array_equal(out[0][1], np.zeros(4)) and out[0][2, 0] == 5
    assert out[1].shape == (1, 4) and not out[1].any()


def test_minilm_stand_in_projects_to_300(cache_env):
    try:
        from sercore.features.encoders import minilm_path
        minilm_path()
    except Exception as e:                                      # the offline package is optional
        pytest.skip(f"MiniLM stand-in not installed: {e}")
    out = word2vec.word_vectors(pd.DataFrame({"text": ["a happy day", "so sad"], "utt_id": ["u1", "u2"]}))
    assert [o.shape[1] for o in out] == [300, 300] and all(o.dtype == np.float32 for o in out)
