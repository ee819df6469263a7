"""The CA-SER demo tool: predict the emotion of audio files with a trained checkpoint.

The paper ships a tool that takes one or many audio files, resamples them, extracts MFCCs
(and wav2vec 2.0 states) and returns the emotion label, with the utterance representation
on request for downstream tasks. This module is that tool for any checkpoint written by
:func:`save_checkpoint`::

    from sercore import predict
    predict(["a.wav", "b.flac"], checkpoint="results/ca_ser/emodb/quick/checkpoint")
    # -> [{"path": "a.wav", "label": "angry", "probabilities": {"angry": 0.91, ...}}, ...]

or ``sercore predict a.wav b.flac --checkpoint DIR [--json] [--embedding]``.

A checkpoint is one folder:

- ``model.safetensors``: the weights (a fine-tuned encoder included in finetune mode);
- ``config.json``: the model preset and its config, the label set, the feature settings
  (sample rate, clipping / extension, MFCC settings, which SSL encoder and layer, or the
  GE2E stand-in), and, in finetune mode, the encoder's Hugging Face config so the folder
  loads without downloading anything.

Audio at any sampling rate is resampled to the checkpoint's rate (16 kHz) and multi-channel
audio is averaged to mono; files are then clipped / extended exactly as in training.
Unreadable, missing or empty files raise an error naming the file.
"""
from __future__ import annotations

import json
import sys
import types
from dataclasses import asdict, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

FORMAT = "sercore-checkpoint"
VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"

__all__ = ["save_checkpoint", "load_checkpoint", "predict", "Checkpoint"]


class Checkpoint:
    """A loaded checkpoint: ``model`` (eval mode), ``labels``, ``features`` (settings), ``meta`` (all of config.json)."""

    def __init__(self, model: torch.nn.Module, meta: dict, folder: Path):
        self.model, self.meta, self.folder = model, meta, folder
        self.labels: list = list(meta["labels"])
        self.features: dict = meta["features"]
        self._extractors = None

    @property
    def extractors(self):
        """(MFCC extractor, SSL extractor or None), built once per loaded checkpoint."""
        if self._extractors is None:
            self._extractors = _extractors(self.features)
        return self._extractors

    def __repr__(self) -> str:
        return (f"Checkpoint({self.folder}, model={self.meta['model']!r}, labels={self.labels}, "
                f"encoder={self.meta.get('encoder')!r})")


def save_checkpoint(model: torch.nn.Module, folder, labels: Sequence[str], feature_config: dict, *,
                    preset: str = "ca_ser", encoder: str | None = None, extra: dict | None = None) -> Path:
    """Write ``model`` (weights + config), its ``labels`` and ``feature_config`` to ``folder``.

    feature_config: ``{"mode": "frozen"|"finetune", "mfcc": {extractor config},
    "ssl": {"name": "ssl"|"ge2e", "config": {...}} or None}``, as
    :func:`sercore.chapters.ca_ser.feature_config` makes it.
    preset: the registered model preset whose config class the model uses.
    encoder: a sentence naming the SSL encoder that produced the features (shown by the tool).
    """
    from safetensors.torch import save_file

    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ValueError("save_checkpoint needs a model with a dataclass config in .cfg")
    n_out = getattr(cfg, "n_classes", None)
    if n_out is not None and n_out != len(labels):
        raise ValueError(f"the model has {n_out} classes but {len(labels)} labels were given: {list(labels)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    enc = getattr(model, "encoder", None)
    meta = {"format": FORMAT, "version": VERSION, "model": preset, "model_config": asdict(cfg),
            "labels": list(labels), "features": feature_config, "encoder": encoder,
            "encoder_hf_config": enc.config.to_dict() if enc is not None and hasattr(enc, "config") else None,
            "weights": WEIGHTS, "extra": extra or {}}
    (folder / CONFIG).write_text(json.dumps(meta, indent=2, default=str))
    return folder


def load_checkpoint(folder, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model of a :func:`save_checkpoint` folder (no download) and load its weights."""
    from safetensors.torch import load_file

    from . import models

    folder = Path(folder)
    cfg_path = folder / CONFIG
    if not cfg_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {folder}: {CONFIG} is missing")
    meta = json.loads(cfg_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{cfg_path} is not a sercore checkpoint (format={meta.get('format')!r})")
    preset = models.preset(meta["model"])
    known = {f.name for f in fields(preset)}
    cfg = type(preset)(**{k: v for k, v in meta["model_config"].items() if k in known})
    cls = models._REGISTRY[meta["model"]][0]
    encoder = None
    if meta.get("encoder_hf_config"):
        from transformers import AutoConfig, AutoModel
        hf = dict(meta["encoder_hf_config"])
        enc_cfg = AutoConfig.for_model(hf.pop("model_type"), **hf)
        encoder = AutoModel.from_config(enc_cfg)
    model = cls(cfg, encoder=encoder) if encoder is not None else cls(cfg)
    state = load_file(str(folder / meta.get("weights", WEIGHTS)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights in {folder} do not fit the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    model.to(device).eval()
    return Checkpoint(model, meta, folder)


def _extractors(features: dict):
    from .features import get_extractor

    mfcc = get_extractor("mfcc", **features["mfcc"])
    ssl = None
    if features.get("ssl"):
        ssl = get_extractor(features["ssl"]["name"], **features["ssl"]["config"])
    return mfcc, ssl


def file_features(path, features: dict, extractors=None) -> dict:
    """Model inputs of one audio file: ``{"ssl": (T_w, D), "mfcc": (T_m, n_mfcc)}`` (frozen)
    or ``{"wave": (T,), "mfcc": ...}`` (finetune). Errors name the file."""
    from .features import AudioLoadError

    mfcc_ex, ssl_ex = extractors or _extractors(features)
    row = {"path": str(path)}
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"audio file not found: {p}")
    try:
        wave = mfcc_ex.wave(row)                                   # (T,) at the checkpoint's rate
        out = {"mfcc": np.ascontiguousarray(mfcc_ex.compute(wave).T, dtype=np.float32)}   # (T_m, n_mfcc)
        if features.get("mode", "frozen") == "finetune":
            out["wave"] = wave.astype(np.float32)
        else:
            out["ssl"] = np.asarray(ssl_ex.compute(ssl_ex.wave(row)), dtype=np.float32)   # (T_w, D)
    except AudioLoadError:
        raise
    except Exception as e:
        raise AudioLoadError(f"cannot compute features for {p}: {type(e).__name__}: {e}") from e
    return out


def predict(paths, checkpoint, return_embedding: bool = False, batch_size: int = 8,
            device: str | torch.device = "cpu") -> list[dict]:
    """Emotion of each audio file in ``paths`` (one path or a list) with a trained ``checkpoint``.

    checkpoint: a folder written by :func:`save_checkpoint`, or a loaded :class:`Checkpoint`.
    Returns one dict per file, in order: ``path``, ``label`` (the most probable class),
    ``probabilities`` ``{label: p}`` and, with ``return_embedding``, ``embedding`` (list of
    ``d_model`` floats: the pooled utterance representation before the classifier).
    """
    from .train import pad_collate

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ValueError("predict needs at least one audio file")
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, device)
    ck.model.to(device).eval()
    items = [file_features(p, ck.features, ck.extractors) for p in paths]
    finetune = ck.features.get("mode", "frozen") == "finetune"
    first = "wave" if finetune else "ssl"
    out = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        batch = pad_collate([{**{k: torch.from_numpy(v) for k, v in it.items()}, "y": 0, "utt": i}
                             for i, it in enumerate(chunk)])
        with torch.no_grad():
            logits, emb = ck.model(batch[first].to(device), batch[f"{first}_lengths"].to(device),
                                   batch["mfcc"].to(device), batch["mfcc_lengths"].to(device),
                                   return_embedding=True)
        probs = logits.float().softmax(-1).cpu().numpy()
        for j, p in enumerate(probs):
            rec = {"path": str(paths[start + j]), "label": ck.labels[int(p.argmax())],
                   "probabilities": {lab: float(v) for lab, v in zip(ck.labels, p)}}
            if return_embedding:
                rec["embedding"] = emb[j].float().cpu().numpy().tolist()
            out.append(rec)
    return out


def as_frame(predictions: Iterable[dict]):
    """Predictions as a table: one row per file, the label and one column per class probability."""
    import pandas as pd

    rows = [{"file": Path(p["path"]).name, "label": p["label"], **p["probabilities"]} for p in predictions]
    return pd.DataFrame(rows).set_index("file")


class _CallableModule(types.ModuleType):
    """``sercore.predict`` is both this module and the function: calling it calls :func:`predict`."""

    def __call__(self, paths, checkpoint, return_embedding: bool = False, batch_size: int = 8,
                 device: str | torch.device = "cpu") -> list[dict]:
        return predict(paths, checkpoint, return_embedding=return_embedding, batch_size=batch_size,
                       device=device)


sys.modules[__name__].__class__ = _CallableModule
