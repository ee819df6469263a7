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
Unreadable, missing or empty files, and files holding NaN or infinite samples, raise an error
naming the file; a prediction is never made of non-finite numbers, so ``--json`` output is
always valid JSON.

- ``manifest.json``: the sha256 of every other file, and of each part of the config a prediction
  depends on (model, model config, labels, feature settings), with the checkpoint's id.

The three are bound together: the weights file carries, in its safetensors metadata, the
checkpoint's id and the sha256 of the config's model, labels and feature settings; the config
records the weights' sha256; the manifest records both files'. A label reversed, a feature setting
changed or the weights of another run put in place (even with every checksum in ``config.json``
updated) is refused, naming what differs, rather than silently changing every answer.

Loading a folder checks it before building anything (:class:`CheckpointError`, a
``ValueError`` naming the folder and the problem): ``config.json`` must be JSON of this
format, name a registered model preset, give every config field a value of its type,
as many classes as labels, feature settings a model can be fed with (sample rate 4-192 kHz,
positive lengths, as many MFCCs as the model takes), a ``weights`` entry that is a plain file name
inside the folder, and, in finetune mode, the stored encoder config; the weights file must have the
sha256 recorded when it was written, and the manifest must match. Folders written before the
manifest existed (versions 1 and 2) cannot be verified and are refused unless
``allow_unverified=True`` is passed (then with a warning). Nothing in :mod:`sercore.predict`
reaches the model hub (Hugging Face offline mode while loading and extracting).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import types
import typing
import warnings
from dataclasses import asdict, fields
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterable, Sequence

import numpy as np
import torch

from .paths import environ, file_sha256

FORMAT = "sercore-checkpoint"
VERSION = 3          # 3: manifest.json and bound weights; 2: config.json records weights_sha256; 1: neither
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "sercore-checkpoint-manifest"
#: the parts of config.json a prediction depends on, each digested in the manifest (a change is named)
BOUND_PARTS = ("model", "model_config", "labels", "features.mode", "features.mfcc", "features.ssl",
               "encoder_hf_config")

__all__ = ["save_checkpoint", "load_checkpoint", "check_checkpoint", "predict", "Checkpoint",
           "CheckpointError", "bound_digests"]


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be used; the message names the folder and the problem."""

    def __init__(self, folder, problem: str):
        self.folder, self.problem = Path(folder), problem
        super().__init__(f"checkpoint {folder}: {problem}")


@contextlib.contextmanager
def _offline():
    """Hugging Face offline mode for the duration: predict never downloads anything."""
    consts = sys.modules.get("huggingface_hub.constants")   # read at import: patch it when imported
    before = (consts.HF_HUB_OFFLINE if consts is not None else
              any((os.environ.get(k) or "").upper() in ("1", "ON", "YES", "TRUE")
                  for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")))
    if consts is not None:
        consts.HF_HUB_OFFLINE = True
    try:
        with environ(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"):
            yield
    finally:
        consts = sys.modules.get("huggingface_hub.constants")   # perhaps imported inside the block
        if consts is not None:
            consts.HF_HUB_OFFLINE = before


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
            try:
                self._extractors = _extractors(self.features)
            except ValueError as e:           # a setting the extractor refuses: the checkpoint's, not a file's
                raise CheckpointError(self.folder, f"its feature settings are not usable: {e}") from None
        return self._extractors

    def __repr__(self) -> str:
        return (f"Checkpoint({self.folder}, model={self.meta['model']!r}, labels={self.labels}, "
                f"encoder={self.meta.get('encoder')!r})")


def _part(meta: dict, name: str):
    obj = meta
    for k in name.split("."):
        obj = obj.get(k) if isinstance(obj, dict) else None
    return obj


def _digest(obj) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def bound_digests(meta: dict) -> dict:
    """sha256 of each of :data:`BOUND_PARTS` of a config (what the manifest and the weights record)."""
    return {name: _digest(_part(meta, name)) for name in BOUND_PARTS}


def save_checkpoint(model: torch.nn.Module, folder, labels: Sequence[str], feature_config: dict, *,
                    preset: str = "ca_ser", encoder: str | None = None, extra: dict | None = None) -> Path:
    """Write ``model`` (weights + config), its ``labels`` and ``feature_config`` to ``folder``, with its
    manifest; the folder is written beside ``folder`` and put in its place in one step, so a folder of
    half the files never exists.

    feature_config: ``{"mode": "frozen"|"finetune", "mfcc": {extractor config},
    "ssl": {"name": "ssl"|"ge2e", "config": {...}} or None}``, as
    :func:`sercore.chapters.ca_ser.feature_config` makes it.
    preset: the registered model preset whose config class the model uses.
    encoder: a sentence naming the SSL encoder that produced the features (shown by the tool).
    Settings a model cannot be fed with are refused here (:class:`CheckpointError`), not at prediction.
    """
    import shutil
    import uuid

    from safetensors.torch import save_file

    from .paths import atomic_write

    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ValueError("save_checkpoint needs a model with a dataclass config in .cfg")
    n_out = getattr(cfg, "n_classes", None)
    if n_out is not None and n_out != len(labels):
        raise ValueError(f"the model has {n_out} classes but {len(labels)} labels were given: {list(labels)}")
    folder = Path(folder)
    enc = getattr(model, "encoder", None)
    meta = {"format": FORMAT, "version": VERSION, "checkpoint_id": uuid.uuid4().hex, "model": preset,
            "model_config": asdict(cfg), "labels": list(labels), "features": feature_config, "encoder": encoder,
            "encoder_hf_config": enc.config.to_dict() if enc is not None and hasattr(enc, "config") else None,
            "weights": WEIGHTS, "extra": extra or {}}
    meta = json.loads(json.dumps(meta, default=str))           # as config.json will hold it
    _check_settings(folder, meta)
    bound = bound_digests(meta)
    tmp = folder.with_name(f".{folder.name}.writing-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"sercore_checkpoint_id": meta["checkpoint_id"],
                                                        "sercore_bound_sha256": _digest(bound)})
        meta.update(weights_sha256=file_sha256(tmp / WEIGHTS), weights_bytes=(tmp / WEIGHTS).stat().st_size)
        text = json.dumps(meta, indent=2)
        atomic_write(tmp / CONFIG, lambda t: t.write_text(text))
        manifest = {"format": MANIFEST_FORMAT, "checkpoint_id": meta["checkpoint_id"],
                    "files": {n: file_sha256(tmp / n) for n in (CONFIG, WEIGHTS)}, "bound": bound}
        atomic_write(tmp / MANIFEST, lambda t: t.write_text(json.dumps(manifest, indent=2)))
        old = folder.with_name(f".{folder.name}.replaced-{os.getpid()}")
        if folder.exists():
            os.rename(folder, old)
        os.rename(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_problem(where: str, key: str, value, expected) -> str | None:
    """Why ``value`` does not fit the annotation ``expected`` (a type or ``X | None``), else None."""
    args = typing.get_args(expected)
    options = [a for a in args if a is not type(None)] if args else [expected]
    if args and value is None and type(None) in args:
        return None
    for t in options:
        if t is bool and isinstance(value, bool):
            return None
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return None
        if t is float and _is_number(value):
            if math.isfinite(value):
                return None
            return f"{where}.{key} is {value!r}; a finite number is needed"
        if t is str and isinstance(value, str):
            return None
        if t in (tuple, list) and isinstance(value, (list, tuple)):
            return None
        if t is dict and isinstance(value, dict):
            return None
    names = " or ".join(getattr(t, "__name__", str(t)) for t in options) + (" or null" if type(None) in args else "")
    return f"{where}.{key} is {value!r} ({type(value).__name__}) where {names} is expected"


def _check_feature_types(folder: Path, where: str, name: str, config) -> None:
    from .features import get_extractor

    if not isinstance(config, dict):
        raise CheckpointError(folder, f"{where} must be a mapping of settings, got {type(config).__name__}")
    try:
        defaults = get_extractor(name).config
    except ValueError as e:
        raise CheckpointError(folder, f"{where}: {e}") from None
    for key, value in config.items():
        if key not in defaults:
            raise CheckpointError(folder, f"{where} has the unknown setting {key!r}; known: {sorted(defaults)}")
        d = defaults[key]
        numeric = _is_number(d) or (d is None)          # None defaults are optional numbers (max_s, f_max, ...)
        if numeric and value is not None and not _is_number(value):
            raise CheckpointError(folder, f"{where}.{key} is {value!r} ({type(value).__name__}) where a "
                                          "number is expected")
        if _is_number(value) and not math.isfinite(value):
            raise CheckpointError(folder, f"{where}.{key} is {value!r}; a finite number is needed")
        wrong_str = isinstance(d, str) and not isinstance(value, (str, int))      # layer: "last" or a number
        if wrong_str or (isinstance(d, bool) and not isinstance(value, bool)):
            raise CheckpointError(folder, f"{where}.{key} is {value!r} ({type(value).__name__}) where "
                                          f"{type(d).__name__} is expected")


def _weights_path(folder: Path, weights) -> Path:
    """The weights file: a plain file name inside ``folder`` (no path, no '..', no link leaving it)."""
    if not isinstance(weights, str) or not weights:
        raise CheckpointError(folder, f"'weights' must be a file name, got {weights!r}")
    if (weights in (".", "..") or PurePosixPath(weights).name != weights
            or PureWindowsPath(weights).name != weights or "\0" in weights):
        raise CheckpointError(folder, f"'weights' is {weights!r}; it must be a plain file name inside the "
                                      "checkpoint folder (no directory, no '..', no absolute path)")
    path = folder / weights
    if not path.is_file():
        raise CheckpointError(folder, f"the weights file {weights} is missing")
    real, home = path.resolve(), folder.resolve()
    if real.parent != home:
        raise CheckpointError(folder, f"the weights file {weights} is a link to {real}, outside the "
                                      "checkpoint folder")
    return path


def _check_settings(folder: Path, meta: dict) -> None:
    """Feature settings a model can be fed with, each problem named by its key: sample rates in
    4-192 kHz and equal for both branches, positive frame and window sizes, ``min_s <= max_s``, as many
    MFCCs as the model takes and no more than mel bands, an SSL layer that is a number or ``"last"``."""
    from .data._io import MAX_SAMPLE_RATE, MIN_AUDIO_SECONDS, MIN_SAMPLE_RATE

    feats = meta.get("features") or {}
    mc = meta.get("model_config") or {}
    parts = [("features.mfcc", feats.get("mfcc"))]
    if isinstance(feats.get("ssl"), dict):
        parts.append(("features.ssl.config", feats["ssl"].get("config")))
    rates = {}
    for where, c in parts:
        if not isinstance(c, dict):
            continue
        sr = c.get("sr")
        if sr is not None and (not _is_number(sr) or not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE):
            raise CheckpointError(folder, f"{where}.sr is {sr!r}; a sample rate from {MIN_SAMPLE_RATE:,} to "
                                          f"{MAX_SAMPLE_RATE:,} Hz is expected")
        rates[where] = sr
        for key in ("max_s", "min_s", "seg_s", "seg_hop_s", "n_fft", "hop_length", "win_length", "n_mels",
                    "n_mfcc"):
            v = c.get(key)
            if v is not None and _is_number(v) and v <= 0:
                raise CheckpointError(folder, f"{where}.{key} is {v!r}; a positive value is expected")
        if _is_number(c.get("max_s")) and c["max_s"] < MIN_AUDIO_SECONDS:
            raise CheckpointError(folder, f"{where}.max_s is {c['max_s']!r}; at least {MIN_AUDIO_SECONDS} s (one "
                                          "analysis window) is expected")
        if _is_number(c.get("min_s")) and _is_number(c.get("max_s")) and c["min_s"] > c["max_s"]:
            raise CheckpointError(folder, f"{where}: min_s {c['min_s']} is above max_s {c['max_s']}")
        if _is_number(c.get("n_mfcc")) and _is_number(c.get("n_mels")) and c["n_mfcc"] > c["n_mels"]:
            raise CheckpointError(folder, f"{where}.n_mfcc is {c['n_mfcc']}, more than its n_mels {c['n_mels']}")
        layer = c.get("layer")
        if layer is not None and layer != "last" and not (isinstance(layer, int) and not isinstance(layer, bool)
                                                          and layer >= 0):
            raise CheckpointError(folder, f"{where}.layer is {layer!r}; a layer number >= 0 or 'last' is expected")
    if len({r for r in rates.values() if r is not None}) > 1:
        raise CheckpointError(folder, "the two branches read audio at different rates ("
                                      + ", ".join(f"{k}.sr {v}" for k, v in rates.items()) + ")")
    n_mfcc = (feats.get("mfcc") or {}).get("n_mfcc") if isinstance(feats.get("mfcc"), dict) else None
    if "n_mfcc" in mc and n_mfcc is not None and mc["n_mfcc"] != n_mfcc:
        raise CheckpointError(folder, f"features.mfcc.n_mfcc is {n_mfcc} but the model takes "
                                      f"model_config.n_mfcc {mc['n_mfcc']} MFCCs")


def _weights_metadata(path: Path) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception:  # noqa: BLE001 - a damaged file is said by the checks that read it
        return {}


def _check_manifest(folder: Path, meta: dict, weights: Path) -> None:
    """The manifest of a version-3 folder: present, listing config.json and the weights with their
    sha256 as they are now, of the same checkpoint id as config.json and the weights' metadata, and the
    weights bound to this config's model, labels and feature settings."""
    path = folder / MANIFEST
    if not path.is_file():
        raise CheckpointError(folder, f"{MANIFEST} is missing: the config and the weights cannot be checked "
                                      "against each other (write the checkpoint again with save_checkpoint)")
    try:
        man = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(folder, f"{MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(man, dict) or man.get("format") != MANIFEST_FORMAT or not isinstance(man.get("files"), dict) \
            or not isinstance(man.get("bound"), dict):
        raise CheckpointError(folder, f"{MANIFEST} is not a sercore checkpoint manifest")
    if man.get("checkpoint_id") != meta.get("checkpoint_id"):
        raise CheckpointError(folder, f"{MANIFEST} is of checkpoint {man.get('checkpoint_id')!r} but {CONFIG} of "
                                      f"{meta.get('checkpoint_id')!r}: files of two checkpoints are mixed")
    md = _weights_metadata(weights)
    if md.get("sercore_checkpoint_id") != meta.get("checkpoint_id"):
        raise CheckpointError(folder, f"the weights in {weights.name} belong to another checkpoint (id "
                                      f"{md.get('sercore_checkpoint_id')!r}, this folder's is "
                                      f"{meta.get('checkpoint_id')!r}): weights of another run were put in place")
    now = bound_digests(meta)
    changed = [k for k in BOUND_PARTS if man["bound"].get(k) != now[k]]
    if changed or md.get("sercore_bound_sha256") != _digest(now):
        what = ", ".join(changed) if changed else "model, labels or feature settings"
        raise CheckpointError(folder, f"{CONFIG} does not match the weights it came with: its {what} changed "
                                      "after the checkpoint was written; every prediction would mean something "
                                      "else, so none is made")
    files = man["files"]
    for name in (CONFIG, weights.name):
        if name not in files:
            raise CheckpointError(folder, f"{MANIFEST} does not list {name}")
    for name, want in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in (".", "..", MANIFEST):
            raise CheckpointError(folder, f"{MANIFEST} lists {name!r}, not a file of the folder")
        f = folder / name
        if not f.is_file():
            raise CheckpointError(folder, f"{name} is missing (listed in {MANIFEST})")
        if file_sha256(f) != want:
            raise CheckpointError(folder, f"{name} does not match {MANIFEST} (its sha256 differs): changed "
                                          "after the checkpoint was written")


def check_checkpoint(folder, allow_unverified: bool = False) -> dict:
    """Validate a checkpoint folder against its schema and its manifest; returns ``config.json`` as a dict.

    Raises :class:`CheckpointError` naming the folder and the first problem found. A folder of an
    older version (no manifest) is refused unless ``allow_unverified`` (then a warning says so).
    """
    from . import models

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(folder, "no such folder")
    cfg_path = folder / CONFIG
    if not cfg_path.is_file():
        raise CheckpointError(folder, f"{CONFIG} is missing (not a checkpoint folder)")
    try:
        meta = json.loads(cfg_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(folder, f"{CONFIG} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(folder, f"{CONFIG} must hold a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(folder, f"{CONFIG} is not a sercore checkpoint (format={meta.get('format')!r}, "
                                      f"expected {FORMAT!r})")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in (1, 2, VERSION):
        raise CheckpointError(folder, f"version is {version!r}; this sercore reads versions 1 to {VERSION}")
    for key in ("model", "model_config", "labels", "features"):
        if key not in meta:
            raise CheckpointError(folder, f"{CONFIG} has no {key!r} entry")
    name = meta["model"]
    if not isinstance(name, str) or name not in models.available():
        raise CheckpointError(folder, f"unknown model {name!r}; known presets: {', '.join(models.available())}")
    preset = models.preset(name)
    mc = meta["model_config"]
    if not isinstance(mc, dict):
        raise CheckpointError(folder, f"model_config must be a mapping, got {type(mc).__name__}")
    hints = typing.get_type_hints(type(preset))
    known = {f.name for f in fields(preset)}
    unknown = sorted(set(mc) - known)
    if unknown:
        raise CheckpointError(folder, f"model_config has field(s) {unknown} that model {name!r} does not have")
    for key, value in mc.items():
        problem = _type_problem("model_config", key, value, hints[key])
        if problem:
            raise CheckpointError(folder, problem)
    labels = meta["labels"]
    if (not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels)
            or len(set(labels)) != len(labels)):
        raise CheckpointError(folder, f"labels must be a non-empty list of distinct names, got {labels!r}")
    n_classes = mc.get("n_classes", getattr(preset, "n_classes", None))
    if n_classes is not None and n_classes != len(labels):
        raise CheckpointError(folder, f"model_config.n_classes is {n_classes} but there are {len(labels)} "
                                      f"labels {labels}")
    feats = meta["features"]
    if not isinstance(feats, dict):
        raise CheckpointError(folder, f"features must be a mapping, got {type(feats).__name__}")
    mode = feats.get("mode", "frozen")
    if mode not in ("frozen", "finetune"):
        raise CheckpointError(folder, f"features.mode is {mode!r}; expected 'frozen' or 'finetune'")
    if "mfcc" not in feats:
        raise CheckpointError(folder, "features has no 'mfcc' settings")
    _check_feature_types(folder, "features.mfcc", "mfcc", feats["mfcc"])
    ssl = feats.get("ssl")
    if ssl is not None:
        if not isinstance(ssl, dict) or not isinstance(ssl.get("name"), str) or "config" not in ssl:
            raise CheckpointError(folder, f"features.ssl must be {{'name': ..., 'config': {{...}}}} or null, "
                                          f"got {ssl!r}")
        _check_feature_types(folder, "features.ssl.config", ssl["name"], ssl["config"])
    elif mode == "frozen":
        raise CheckpointError(folder, "features.ssl is missing: a frozen-mode checkpoint needs the SSL "
                                      "feature settings")
    finetune = mode == "finetune" or mc.get("mode") == "finetune"
    if (mode == "finetune") != (mc.get("mode", mode) == "finetune"):
        raise CheckpointError(folder, f"features.mode is {mode!r} but model_config.mode is {mc.get('mode')!r}")
    hf = meta.get("encoder_hf_config")
    if finetune and not (isinstance(hf, dict) and isinstance(hf.get("model_type"), str)):
        raise CheckpointError(folder, "finetune mode needs the stored encoder config (encoder_hf_config with "
                                      "a model_type); it is missing, and predict does not download encoders")
    if hf is not None and not isinstance(hf, dict):
        raise CheckpointError(folder, f"encoder_hf_config must be a mapping or null, got {type(hf).__name__}")
    _check_settings(folder, meta)
    path = _weights_path(folder, meta.get("weights", WEIGHTS))
    want = meta.get("weights_sha256")
    if want is None and version >= 2:
        raise CheckpointError(folder, "weights_sha256 is missing (every version-2 checkpoint records it)")
    if want is not None:
        if not (isinstance(want, str) and len(want) == 64 and all(c in "0123456789abcdef" for c in want)):
            raise CheckpointError(folder, f"weights_sha256 is {want!r}; a 64-digit hex sha256 is expected")
        size, n = meta.get("weights_bytes"), path.stat().st_size
        if isinstance(size, int) and size != n:
            raise CheckpointError(folder, f"the weights file {path.name} is damaged: {n:,} bytes where "
                                          f"{size:,} were written ({'truncated' if n < size else 'extended'})")
        got = file_sha256(path)
        other = _weights_metadata(path).get("sercore_checkpoint_id") if version >= 3 else None
        if got != want and other and other != meta.get("checkpoint_id"):
            raise CheckpointError(folder, f"the weights in {path.name} belong to another checkpoint (id {other!r}, "
                                          f"this folder's is {meta.get('checkpoint_id')!r}): weights of another "
                                          "run were put in place")
        if got != want:
            raise CheckpointError(folder, f"the weights file {path.name} is damaged: its sha256 is {got}, "
                                          f"{CONFIG} recorded {want} (truncated or changed on disk)")
    if version >= 3:
        _check_manifest(folder, meta, path)
    elif not allow_unverified:
        raise CheckpointError(folder, f"written by an older sercore (checkpoint version {version}), without the "
                                      f"manifest that binds its labels and feature settings to its weights; write "
                                      f"it again with save_checkpoint (version {VERSION}), or load it with "
                                      "allow_unverified=True")
    else:
        warnings.warn(f"checkpoint {folder}: version {version}, written by an older sercore"
                      + (" without a weights checksum" if want is None else "")
                      + "; its labels and feature settings cannot be verified against its weights "
                        "(save it again to bind them)", stacklevel=3)
    return meta


def load_checkpoint(folder, device: str | torch.device = "cpu", allow_unverified: bool = False) -> Checkpoint:
    """Rebuild the model of a :func:`save_checkpoint` folder (no download) and load its weights, after
    :func:`check_checkpoint` (``allow_unverified``: load a folder of an older version, with a warning)."""
    from safetensors.torch import load_file

    from . import models

    folder = Path(folder)
    meta = check_checkpoint(folder, allow_unverified=allow_unverified)
    preset = models.preset(meta["model"])
    tuples = {f.name for f in fields(preset) if isinstance(getattr(preset, f.name), tuple)}
    mc = {k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in meta["model_config"].items()}
    cls = models._REGISTRY[meta["model"]][0]
    with _offline():
        try:
            cfg = type(preset)(**mc)
            encoder = None
            if meta.get("encoder_hf_config"):
                from transformers import AutoConfig, AutoModel
                hf = dict(meta["encoder_hf_config"])
                enc_cfg = AutoConfig.for_model(hf.pop("model_type"), **hf)
                encoder = AutoModel.from_config(enc_cfg)
            model = cls(cfg, encoder=encoder) if encoder is not None else cls(cfg)
        except Exception as e:
            raise CheckpointError(folder, f"cannot build model {meta['model']!r} from its config: "
                                          f"{type(e).__name__}: {e}") from e
    weights = folder / meta.get("weights", WEIGHTS)
    try:
        state = load_file(str(weights))
    except Exception as e:
        raise CheckpointError(folder, f"the weights file {weights.name} is not readable (truncated or corrupt): "
                                      f"{type(e).__name__}: {e}") from e
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise CheckpointError(folder, f"the weights in {weights.name} do not fit the model: {e}") from e
    if missing or unexpected:
        raise CheckpointError(folder, f"the weights in {weights.name} do not fit the model: missing "
                                      f"{missing[:5]}, unexpected {unexpected[:5]}")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(folder, f"the weights in {weights.name} hold NaN or infinite values "
                                      f"({', '.join(bad[:5])})")
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
        with _offline():
            wave = mfcc_ex.wave(row)                               # (T,) at the checkpoint's rate
            _check_finite(p, wave)
            out = {"mfcc": np.ascontiguousarray(mfcc_ex.compute(wave).T, dtype=np.float32)}   # (T_m, n_mfcc)
            if features.get("mode", "frozen") == "finetune":
                out["wave"] = wave.astype(np.float32)
            else:
                w = ssl_ex.wave(row)
                _check_finite(p, w)
                out["ssl"] = np.asarray(ssl_ex.compute(w), dtype=np.float32)   # (T_w, D)
    except AudioLoadError:
        raise
    except Exception as e:
        raise AudioLoadError(f"cannot compute features for {p}: {type(e).__name__}: {e}") from e
    for name, arr in out.items():
        if not np.isfinite(arr).all():
            raise AudioLoadError(f"{p}: its {name} features hold NaN or infinite values (is the audio "
                                 "clipped far beyond full scale?); no prediction is made")
    return out


def _check_finite(path: Path, wave: np.ndarray) -> None:
    from .features import AudioLoadError

    ok = np.isfinite(wave)
    if not ok.all():
        bad = int((~ok).sum())
        kinds = [k for k, hit in (("NaN", np.isnan(wave).any()), ("infinite", np.isinf(wave).any())) if hit]
        raise AudioLoadError(f"{path}: {bad:,} of {wave.size:,} samples are {' and '.join(kinds)}; "
                             "non-finite audio cannot be classified")


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
    for p in paths:                           # every file first: no model is loaded for a typo
        if not Path(p).exists():
            raise FileNotFoundError(f"audio file not found: {p}")
        if not Path(p).is_file():
            raise ValueError(f"{p}: not a file (a folder?); predict takes audio files")
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
            if not np.isfinite(p).all() or (return_embedding and not torch.isfinite(emb[j]).all()):
                raise ValueError(f"{paths[start + j]}: the model gave non-finite outputs for this file; "
                                 f"no prediction is made (checkpoint {ck.folder})")
            rec = {"path": str(paths[start + j]), "label": ck.labels[int(p.argmax())],
                   "probabilities": {lab: float(v) for lab, v in zip(ck.labels, p)}}
            if return_embedding:
                rec["embedding"] = emb[j].float().cpu().numpy().tolist()
            out.append(rec)
    try:
        json.dumps(out, allow_nan=False)    # the promise of --json: never a NaN token
    except ValueError as e:
        raise ValueError(f"predictions for {', '.join(map(str, paths))} hold non-finite numbers ({e}); "
                         f"no prediction is made (checkpoint {ck.folder})") from None
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
