"""Signal and file helpers for the feature-layer tests (imported by name; unique module name)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch


def tone(seconds: float, sr: int, freq: float = 440.0, amp: float = 0.3, seed: int | None = None):
    """A sine tone (optionally with a little noise) of ``round(seconds*sr)`` samples, float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    x = amp * np.sin(2 * np.pi * freq * t)
    if seed is not None:
        x = x + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return x.astype(np.float32)


def voiced(seconds: float, sr: int = 16000, f0: float = 140.0, seed: int = 0):
    """A crude voiced signal: harmonics of a gliding f0 with a syllable-like envelope."""
    t = np.arange(int(round(seconds * sr))) / sr
    f = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = 0.2 * env * x + 0.005 * np.random.default_rng(seed).standard_normal(t.size)
    return x.astype(np.float32)


def write_wav(path: Path, wave: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, sr, subtype=subtype)
    return path


N_LAYERS = 3


def tiny_wav2vec2(folder, with_feature_extractor=True, stable=False, seed=0):
    """A randomly initialised 3-layer, 16-dim wav2vec 2.0, ``save_pretrained`` to ``folder``."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    cfg = Wav2Vec2Config(hidden_size=16, num_hidden_layers=N_LAYERS, num_attention_heads=2,
                         intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4),
                         conv_kernel=(10, 8), num_conv_pos_embeddings=4,
                         num_conv_pos_embedding_groups=2, do_stable_layer_norm=stable,
                         feat_extract_norm="layer" if stable else "group")
    torch.manual_seed(seed)
    Wav2Vec2Model(cfg).save_pretrained(folder)
    if with_feature_extractor:
        Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    return folder
