"""Word vectors per utterance: word2vec through gensim, or an offline stand-in.

:func:`word_vectors` gives one ``(words, 300)`` array per manifest row:

- ``word2vec=<path>``: a gensim ``KeyedVectors`` file (``.kv``, or word2vec ``.bin``/``.txt``);
  out-of-vocabulary words are zero vectors (the setting of papers that use word2vec, e.g. MCWSA-CMHA);
- ``word2vec=None``: all-MiniLM-L6-v2 token states (384-d word pieces, the ``minilm`` extractor,
  cached) through a fixed, seeded orthonormal projection to 300-d. Not word2vec: a stand-in that
  keeps the shape and needs nothing downloaded.
"""
from __future__ import annotations

import re

import numpy as np

from .extractors import extract

__all__ = ["WORD2VEC_DIM", "STAND_IN", "describe", "projection", "words", "word_vectors"]

#: size of the word2vec vectors (GoogleNews 300-d)
WORD2VEC_DIM = 300
STAND_IN = ("stand-in: all-MiniLM-L6-v2 token states (384-d, word pieces) through a fixed orthonormal "
            "projection to 300-d, in place of word2vec word vectors")


def describe(word2vec: str | None) -> str:
    """What :func:`word_vectors` computes for this ``word2vec`` setting (for deviation tables)."""
    return f"word2vec via gensim KeyedVectors ({word2vec})" if word2vec else STAND_IN


def projection(d_in: int, d_out: int, seed: int) -> np.ndarray:
    """A fixed ``(d_in, d_out)`` matrix with orthonormal columns (rows when ``d_in < d_out``), seeded."""
    g = np.random.default_rng(seed).standard_normal((d_in, max(d_in, d_out)))
    q, _ = np.linalg.qr(g if d_in >= d_out else g.T)
    return (q[:, :d_out] if d_in >= d_out else q[:d_out].T).astype(np.float32)


def words(text: str) -> list:
    """The words of ``text``: runs of letters, digits and apostrophes."""
    return re.findall(r"[A-Za-z0-9']+", str(text))


def word_vectors(manifest, word2vec: str | None = None, *, seed: int = 0, progress=None) -> list:
    """One ``(words, 300)`` float32 array per row of ``manifest['text']`` (see the module docstring).

    A row without a known word gets one zero vector (word2vec) so every array has a row.
    """
    if word2vec:
        try:
            from gensim.models import KeyedVectors
        except ImportError as e:
            raise ImportError("word2vec= needs gensim (pip install gensim); leave word2vec=None for the "
                              "MiniLM stand-in") from e
        kv = (KeyedVectors.load(word2vec) if str(word2vec).endswith(".kv") else
              KeyedVectors.load_word2vec_format(word2vec, binary=str(word2vec).endswith(".bin")))
        out = []
        for t in manifest["text"]:
            vecs = [kv[w] if w in kv else np.zeros(kv.vector_size, np.float32) for w in words(t)] or \
                   [np.zeros(kv.vector_size, np.float32)]
            out.append(np.stack(vecs).astype(np.float32))
        return out
    states = extract(manifest, "minilm", progress=progress)                        # (tokens, 384)
    P = projection(states[0].shape[-1], WORD2VEC_DIM, seed)
    return [s @ P for s in states]                                                  # (tokens, 300)
