"""Inputs for timing each registered model preset: batch shapes that follow the papers' inputs.

``example_inputs(name, model, batch)`` returns the positional inputs of
``model(*inputs)`` for a batch of ``batch`` utterances, and a note on the shapes
used. A model may define ``example_inputs(batch)`` itself; otherwise the preset's
family (its name's prefix) picks the shapes below. Lengths are full (no padding),
so every model does its full amount of work.
"""
from __future__ import annotations

import torch

# frames per utterance for frame-level features (~3 s: 300 MFCC frames at 100 Hz, 150 SSL frames at 50 Hz)
MFCC_FRAMES = 300
SSL_FRAMES = 150
TEXT_TOKENS = 32

#: preset prefix -> the paper whose params/<paper>/*.yaml give its batch size
FAMILIES = (("ctmam", "ctmam"), ("ca_ser", "ca_ser"), ("mlcct", "mlcct"), ("mcwsa", "mcwsa_cmha"),
            ("mdat", "mdat"), ("bilstm_pool", None), ("mlp_stats", None))


def family(name: str) -> str | None:
    """The paper of a preset (``None`` for the baselines, which belong to no paper)."""
    for prefix, paper in FAMILIES:
        if name.startswith(prefix):
            return paper
    return None


def _full(b: int, t: int) -> torch.Tensor:
    return torch.full((b,), t, dtype=torch.long)


def example_inputs(name: str, model, batch: int, gen: torch.Generator | None = None) -> tuple[tuple, str]:
    """``(inputs, shapes note)`` for ``model(*inputs)``; raises ``NotImplementedError`` when the
    preset's inputs are not known here."""
    g = gen or torch.Generator().manual_seed(0)
    rand = lambda *s: torch.randn(*s, generator=g)
    cfg = getattr(model, "cfg", None)
    if hasattr(model, "example_inputs"):
        xs = tuple(model.example_inputs(batch))
        return xs, "model.example_inputs: " + ", ".join(str(tuple(x.shape)) for x in xs if torch.is_tensor(x))
    if name.startswith("ctmam"):
        x = rand(batch, cfg.n_mfcc, cfg.n_frames)
        return (x,), f"MFCC segments ({batch}, {cfg.n_mfcc}, {cfg.n_frames})"
    if name.startswith("ca_ser"):
        if getattr(cfg, "mode", "frozen") == "finetune":
            raise NotImplementedError("fine-tuning mode needs the wav2vec 2.0 weights (not available offline)")
        ssl_dim = model.ssl_dim
        xs = (rand(batch, SSL_FRAMES, ssl_dim), _full(batch, SSL_FRAMES),
              rand(batch, MFCC_FRAMES, cfg.n_mfcc), _full(batch, MFCC_FRAMES))
        return xs, f"SSL states ({batch}, {SSL_FRAMES}, {ssl_dim}) + MFCC ({batch}, {MFCC_FRAMES}, {cfg.n_mfcc})"
    if name.startswith("mlcct"):
        dims = {"audio": (cfg.audio_dim, SSL_FRAMES), "text": (cfg.text_dim, TEXT_TOKENS)}
        xs, note = [], []
        for m in model.mods:
            d, t = dims[m]
            xs += [rand(batch, t, d), _full(batch, t)]
            note.append(f"{m} ({batch}, {t}, {d})")
        return tuple(xs), " + ".join(note)
    if name.startswith("mcwsa"):
        xs = tuple(rand(batch, *model.shapes[m]) for m in model.modalities)
        return xs, " + ".join(f"{m} ({batch}, {', '.join(map(str, model.shapes[m]))})" for m in model.modalities)
    if name.startswith("mdat"):
        t = cfg.max_len
        xs = (rand(batch, t, cfg.audio_dim), _full(batch, t), rand(batch, TEXT_TOKENS, cfg.text_dim),
              _full(batch, TEXT_TOKENS))
        return xs, f"audio ({batch}, {t}, {cfg.audio_dim}) + text ({batch}, {TEXT_TOKENS}, {cfg.text_dim})"
    if name in ("bilstm_pool", "mlp_stats"):
        xs = (rand(batch, MFCC_FRAMES, cfg.input_dim), _full(batch, MFCC_FRAMES))
        return xs, f"frames ({batch}, {MFCC_FRAMES}, {cfg.input_dim})"
    raise NotImplementedError(f"no example inputs for preset {name!r}; give the model an "
                              "example_inputs(batch) method or add its family to benchmarks/models.py")
