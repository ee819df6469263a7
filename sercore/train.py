"""The training engine: one readable :func:`fit`, :func:`evaluate`, and :func:`cross_validate`.

Data enter as per-utterance features (a list aligned with the manifest rows):
either an array ``(T, ...)`` per utterance, a stack of segments ``(n_seg, ...)``
when ``segmented=True`` (each segment becomes a training item; evaluation
averages segment probabilities per utterance), or a dict of arrays per
utterance for several modalities (``{"audio": (T_a, D_a), "text": (T_t, D_t)}``).

Batches are dicts. :func:`pad_collate` pads every array along its first axis
and adds ``<key>_lengths``; the model is called as
``model(*[batch[k] for k in cfg.inputs])`` and returns logits ``(B, K)``.

Reproducibility: :func:`seed_everything` seeds Python, NumPy and torch; every
epoch re-seeds from ``(seed, epoch)``, so a run resumed from its checkpoint
continues exactly as the uninterrupted run would have (tested, also after a
``kill -9`` mid-epoch).
Checkpoints are plain tensors and numbers, loaded with ``weights_only=True``:
``last.pt`` (model, optimiser, scheduler, history, ``epoch``) and ``best.pt``
(``{"model", "epoch", "fingerprint"}``).

Soundness: :func:`fit` raises :class:`TrainingError` rather than return a model
that is not a result: a non-finite training loss or weights (naming the epoch,
the step and the likely cause), non-finite model outputs in evaluation, an
empty training set, an epoch without an optimiser step, or no epoch at all.

Keyed resume: every checkpoint records :func:`fingerprint` (the training
settings, seed, fold, model class and parameter shapes, labels, a fingerprint
of the training and validation items, and ``sercore.__version__``). ``fit``
resumes only from a ``last.pt`` whose fingerprint equals the run's; a checkpoint
of another run, or one that cannot be read, is moved aside
(``last.pt.stale-<time>`` / ``last.pt.damaged-<time>``, ``best.pt`` alike) with a
:class:`CheckpointWarning` naming what differed, and training starts fresh.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from . import __version__, distributed, procs
from .metrics import aggregate, classification_report
from .paths import atomic_write, show_progress


class TrainingError(RuntimeError):
    """Training cannot give a sound model (non-finite loss, weights or outputs, nothing trained);
    the message names where it happened and the likely cause."""


class CheckpointWarning(UserWarning):
    """A checkpoint in ``checkpoint_dir`` is not resumed from (another run's, or unreadable); it was moved
    aside and training started fresh."""


# ----------------------------------------------------------------------------- progress lines

#: the text that prefixes every progress line (:func:`progress_stage`); the lines go to ``$SERCORE_RUN_LOG``
#: (``sercore run`` sets it to ``<results folder>/run.log``)
_PROGRESS: dict = {"stage": ""}


@contextlib.contextmanager
def progress_stage(text: str, nested: bool = False):
    """Prefix the progress lines written inside the block with ``text`` (e.g. ``variant no_lct (2/3)``);
    ``nested``: after the enclosing block's prefix (``mcwsa_cmha/iemocap/quick seed 0 | cmha A+V+T``)."""
    old = _PROGRESS["stage"]
    _PROGRESS["stage"] = f"{old} | {text}" if nested and old else text
    try:
        yield
    finally:
        _PROGRESS["stage"] = old


def _duration(seconds: float) -> str:
    s = int(round(max(seconds, 0)))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def report_progress(line: str) -> None:
    """One progress line, time-stamped and prefixed with the stage, appended to the run's log (if any).

    Never printed into a notebook: the lines go to a file that ``sercore run`` echoes to the terminal
    and ``sercore status`` reads."""
    path = os.environ.get("SERCORE_RUN_LOG")
    if not path or not distributed.is_main():
        return
    from .runlog import write_line

    stage = _PROGRESS["stage"]
    write_line(path, (f"{stage} | " if stage else "") + line)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); make CPU kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class TrainConfig:
    """Everything :func:`fit` needs; plain values so it can be written to ``metrics.json``."""

    epochs: int = 10                     # passes over the training set
    batch_size: int = 32                 # items (segments or utterances) per optimiser micro-batch
    lr: float = 1e-3                     # base learning rate
    weight_decay: float = 0.0            # L2 / decoupled weight decay (AdamW)
    optimizer: str = "adam"              # adam | adamw | sgd
    momentum: float = 0.9                # SGD momentum
    scheduler: str = "none"              # none | exp (x gamma per epoch, floor lr_min) | cosine
    gamma: float = 0.95                  # exp decay factor per epoch
    lr_min: float = 0.0                  # floor of exp, eta_min of cosine
    grad_accum: int = 1                  # micro-batches per optimiser step
    clip_norm: float | None = None       # max global gradient norm, None = no clipping
    mixup_alpha: float = 0.0             # Beta(alpha, alpha) mixup of float inputs; 0 = off
    early_stop_metric: str = "ua"        # validation metric to select on: ua | wa | macro_f1 | weighted_f1 | loss
    patience: int | None = None          # epochs without improvement before stopping; None = never stop early
    amp: str = "auto"                    # auto (bf16 on CUDA if supported, else fp16) | bf16 | fp16 | off
    device: str = "auto"                 # auto | cpu | cuda | cuda:N
    inputs: tuple = ("x", "x_lengths")   # batch keys passed positionally to the model
    seed: int = 0                        # seeds initialisation and every epoch's shuffling
    checkpoint_dir: str | None = None    # where last.pt / best.pt go; None = no checkpoints
    resume: bool = True                  # continue from checkpoint_dir/last.pt when present
    progress: bool | None = None         # tqdm bars; None: on unless SERCORE_PROGRESS=0
    length_buckets: int = 0              # >0: each epoch's shuffled items, in runs of length_buckets x batch_size,
                                         # are sorted by length into batches (less padding, same items per epoch)


# ----------------------------------------------------------------------------- data

class FeatureDataset(Dataset):
    """Items for :func:`fit` from per-utterance features.

    features: list (one entry per manifest row) of arrays ``(T, ...)``, of segment
              stacks ``(n_seg, ...)`` when ``segmented``, or of dicts of arrays.
    y:        class index per manifest row, shape (N,)
    indices:  the manifest rows this dataset uses (a fold's part)
    check_finite: refuse (:class:`TrainingError`, naming the rows) float features holding NaN/Inf
    Each item is ``{key: tensor, "y": int, "utt": row index}``; the default key is ``x``.
    """

    def __init__(self, features: Sequence, y: Sequence[int], indices: Sequence[int],
                 segmented: bool = False, check_finite: bool = True):
        if len(features) != len(y):
            raise ValueError(f"features and y must align with the manifest: {len(features)} vs {len(y)}")
        self.features, self.y = features, np.asarray(y, dtype=np.int64)
        self.items: list[tuple[int, int | None]] = []
        for i in np.asarray(indices, dtype=np.int64):
            if segmented:
                n = _first(features[i]).shape[0]
                if n == 0:
                    raise ValueError(f"utterance row {i} has 0 segments")
                self.items.extend((int(i), s) for s in range(n))
            else:
                self.items.append((int(i), None))
        if check_finite:
            bad = nonfinite_rows(self)
            if bad:
                raise TrainingError(
                    f"the input features of {len(bad)} of {len({i for i, _ in self.items})} utterance(s) "
                    f"hold NaN/Inf (manifest rows {_some(bad)}): fix or drop those utterances (non-finite "
                    "audio, or a feature extractor that failed on them); nothing was trained on them")

    def __len__(self) -> int:
        return len(self.items)

    def lengths(self) -> list[int]:
        """Frames (first axis) of each item's first array, without building the items."""
        out = []
        for i, s in self.items:
            a = _first(self.features[i])
            out.append(int(np.shape(a if s is None else a[s])[0]) if np.ndim(a) else 1)
        return out

    def __getitem__(self, k: int) -> dict:
        i, s = self.items[k]
        f = self.features[i]
        f = f if isinstance(f, dict) else {"x": f}
        out = {key: torch.as_tensor(np.asarray(v if s is None else v[s])) for key, v in f.items()}
        out["y"] = int(self.y[i])
        out["utt"] = i
        return out


def _first(f):
    return next(iter(f.values())) if isinstance(f, dict) else f


def pad_collate(items: list[dict]) -> dict:
    """Stack items into a batch, zero-padding arrays along their first axis.

    For each tensor key ``k`` of shape ``(T_i, ...)`` the batch holds ``k`` of shape
    ``(B, max T_i, ...)`` and ``k_lengths`` of shape ``(B,)``; 0-d tensors are stacked.
    """
    batch: dict = {"y": torch.tensor([it["y"] for it in items], dtype=torch.long),
                   "utt": torch.tensor([it["utt"] for it in items], dtype=torch.long)}
    for key in items[0]:
        if key in ("y", "utt"):
            continue
        ts = [it[key] for it in items]
        if ts[0].dim() == 0:
            batch[key] = torch.stack(ts)
            continue
        lengths = torch.tensor([t.shape[0] for t in ts], dtype=torch.long)
        if bool((lengths == lengths[0]).all()):
            batch[key] = torch.stack(ts)
        else:
            out = ts[0].new_zeros((len(ts), int(lengths.max()), *ts[0].shape[1:]))
            for b, t in enumerate(ts):
                out[b, : t.shape[0]] = t
            batch[key] = out
        batch[f"{key}_lengths"] = lengths
    return batch


def _loader(ds: Dataset, cfg: TrainConfig, shuffle: bool, epoch: int = 0,
            sampler=None) -> DataLoader:
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    return DataLoader(ds, batch_size=cfg.batch_size, shuffle=shuffle and sampler is None,
                      sampler=sampler, collate_fn=pad_collate, generator=g,
                      pin_memory=torch.cuda.is_available())   # page-locked batches: fast host-to-GPU copies


class LengthBuckets(torch.utils.data.Sampler):
    """Batches of items of similar length: each epoch the items are shuffled (``generator``), cut into runs
    of ``buckets x batch_size``, each run sorted by length and cut into batches, and the batches shuffled.
    Every item is in exactly one batch per epoch; only the last run can end on a short batch, as plain
    shuffling does. Padding to the longest item of a batch then costs little (variable-length audio)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, buckets: int, generator: torch.Generator):
        if batch_size < 1 or buckets < 1:
            raise ValueError(f"LengthBuckets needs batch_size >= 1 and buckets >= 1, got {batch_size}, {buckets}")
        self.lengths, self.batch_size, self.buckets, self.generator = list(lengths), batch_size, buckets, generator

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        run = self.batch_size * self.buckets
        batches = []
        for start in range(0, len(order), run):
            part = sorted(order[start:start + run], key=lambda j: self.lengths[j])
            batches += [part[k:k + self.batch_size] for k in range(0, len(part), self.batch_size)]
        for b in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[b]

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


class _TrainLoader:
    """The training batches of each epoch, shuffled by ``(seed, epoch)``.

    A fresh DataLoader per epoch (``length_buckets``: batches of similar length,
    :class:`LengthBuckets`). In a DDP group
    (:func:`sercore.distributed.is_active`) a :class:`DistributedSampler` seeded
    by ``(seed, epoch)`` gives each process its share of the epoch.
    """

    def __init__(self, ds: Dataset, cfg: TrainConfig):
        self.ds, self.cfg, self._lengths = ds, cfg, None
        self.sampler = (DistributedSampler(ds, num_replicas=distributed.world_size(),
                                           rank=distributed.rank(), shuffle=True, seed=cfg.seed,
                                           drop_last=False)
                        if distributed.is_active() else None)

    def epoch(self, epoch: int) -> DataLoader:
        if self.cfg.length_buckets and self.sampler is None and hasattr(self.ds, "lengths"):
            g = torch.Generator().manual_seed(self.cfg.seed * 100_003 + epoch)
            if self._lengths is None:
                self._lengths = self.ds.lengths()
            return DataLoader(self.ds, batch_sampler=LengthBuckets(self._lengths, self.cfg.batch_size,
                                                                   self.cfg.length_buckets, g),
                              collate_fn=pad_collate)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        return _loader(self.ds, self.cfg, shuffle=True, epoch=epoch, sampler=self.sampler)


# ----------------------------------------------------------------------------- optimisation

def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``cfg.optimizer`` over the trainable parameters, at ``cfg.lr``."""
    param_groups = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(param_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(param_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer must be adam, adamw or sgd, got {cfg.optimizer!r}")


def build_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    """Per-epoch scheduler: exp (x gamma, floored at lr_min), cosine, or none."""
    if cfg.scheduler == "none":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    if cfg.scheduler == "exp":
        floors = [cfg.lr_min / g["lr"] if g["lr"] > 0 else 0.0 for g in opt.param_groups]
        return torch.optim.lr_scheduler.LambdaLR(
            opt, [lambda e, f=f: max(cfg.gamma ** e, f) for f in floors])
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1),
                                                          eta_min=cfg.lr_min)
    raise ValueError(f"scheduler must be none, exp or cosine, got {cfg.scheduler!r}")


def _autocast(device: torch.device, amp: str):
    if device.type != "cuda" or amp == "off":
        return torch.autocast(device_type=device.type, enabled=False)
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    return torch.autocast(device_type="cuda", dtype=dtype)


def mixup(batch: dict, alpha: float, keys: Sequence[str], gen: torch.Generator):
    """Mix the float inputs ``keys`` of a batch with a shuffled copy of itself.

    Returns ``(mixed batch, y_a, y_b, lam)``; the loss is
    ``lam * CE(logits, y_a) + (1 - lam) * CE(logits, y_b)``. Lengths of padded
    inputs become the longer of each pair, so no real frame is treated as padding.
    """
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    perm = torch.randperm(batch["y"].shape[0], generator=gen)
    out = dict(batch)
    for k in keys:
        x = batch[k]
        if not torch.is_floating_point(x):
            continue
        out[k] = lam * x + (1 - lam) * x[perm]
        if f"{k}_lengths" in batch:
            out[f"{k}_lengths"] = torch.maximum(batch[f"{k}_lengths"], batch[f"{k}_lengths"][perm])
    return out, batch["y"], batch["y"][perm], lam


def _forward(model: nn.Module, batch: dict, cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    missing = [k for k in cfg.inputs if k not in batch]
    if missing:
        raise KeyError(f"batch has no key(s) {missing} named in TrainConfig.inputs; it has {sorted(batch)}")
    xs = [batch[k].to(device, non_blocking=True) for k in cfg.inputs]
    return model(*xs)


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def predict_proba(model: nn.Module, dataset: FeatureDataset, cfg: TrainConfig,
                  n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities per utterance: the mean of its segments' softmax.

    Returns ``(rows, probs)``: manifest row indices (M,) and probabilities (M, K).
    """
    device = resolve_device(cfg.device)
    model.eval()
    sums: dict[int, torch.Tensor] = {}
    counts: dict[int, int] = {}
    for batch in _loader(dataset, cfg, shuffle=False):
        with _autocast(device, cfg.amp):
            logits = _forward(model, batch, cfg, device)
        if logits.shape[-1] != n_classes:
            raise ValueError(f"model returned {logits.shape[-1]} logits, expected {n_classes} classes")
        p = logits.float().softmax(-1).cpu()
        for u, pu in zip(batch["utt"].tolist(), p):
            sums[u] = sums.get(u, 0) + pu
            counts[u] = counts.get(u, 0) + 1
    rows = np.array(sorted(sums), dtype=np.int64)
    probs = np.stack([(sums[u] / counts[u]).numpy() for u in rows]) if len(rows) else np.zeros((0, n_classes))
    bad = rows[~np.isfinite(probs).all(1)] if len(rows) else rows
    if len(bad):
        raise TrainingError(
            f"the model's output is non-finite (NaN/Inf) for {len(bad)} of {len(rows)} utterance(s) "
            f"(manifest rows {_some(bad)}); {_input_cause(dataset, bad)}")
    return rows, probs


def _some(rows, n: int = 8) -> str:
    rows = [int(r) for r in rows]
    return ", ".join(map(str, rows[:n])) + (f", ... ({len(rows)} in all)" if len(rows) > n else "")


def nonfinite_rows(dataset: FeatureDataset, rows=None) -> list[int]:
    """Manifest rows of ``dataset`` (or of ``rows``) whose input features hold NaN or Inf."""
    rows = sorted({i for i, _ in dataset.items}) if rows is None else [int(r) for r in rows]
    out = []
    for i in rows:
        f = dataset.features[i]
        for v in (f.values() if isinstance(f, dict) else [f]):
            a = np.asarray(v)
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                out.append(i)
                break
    return out


def _input_cause(dataset: FeatureDataset, rows=None) -> str:
    bad = nonfinite_rows(dataset, rows)
    if bad:
        return (f"the input features of manifest rows {_some(bad)} hold NaN/Inf: fix or drop those "
                "utterances (non-finite audio, or a feature extractor that failed on them)")
    return "the input features are finite, so the model's weights or computation produced it"


def evaluate(model: nn.Module, dataset: FeatureDataset, cfg: TrainConfig,
             labels: Sequence[str]) -> dict:
    """Utterance-level report (see :func:`sercore.metrics.classification_report`)
    plus ``rows``, ``probs`` and ``y_pred`` for later analysis."""
    rows, probs = predict_proba(model, dataset, cfg, len(labels))
    y_true = dataset.y[rows]
    y_pred = probs.argmax(1)
    rep = classification_report(y_true, y_pred, labels)
    rep.update(rows=rows.tolist(), y_true=y_true.tolist(), y_pred=y_pred.tolist(),
               probs=probs.round(6).tolist())
    return rep


# ----------------------------------------------------------------------------- fit

@dataclass
class FitResult:
    history: list            # one dict per epoch: epoch, lr, train_loss, val metrics, seconds
    best_epoch: int          # epoch whose weights the model holds at the end (1-based)
    best_score: float | None # its validation score (None without validation)
    seconds: float           # wall time of this call
    resumed_from: int        # epochs already done when this call started (0 = fresh)
    optimizer_steps: int = 0 # optimiser steps taken by this call (per process under DDP)


# TrainConfig fields that do not change what training computes (where and how fast it runs,
# where checkpoints go): a checkpoint made with other values of these is still resumed.
NOT_FINGERPRINTED = ("device", "checkpoint_dir", "resume", "progress")


def data_fingerprint(dataset: FeatureDataset | None) -> str | None:
    """A cheap sha1 of a dataset's items: their order, manifest rows, segments, labels, and each used
    row's array shapes, dtypes and 16 evenly spaced values. Two folds, or re-extracted features,
    differ here; it does not read every value."""
    if dataset is None:
        return None
    items = getattr(dataset, "items", None)
    if items is None:
        return f"{type(dataset).__name__}:{len(dataset)}"
    h = hashlib.sha1()
    seen = set()
    for i, s in items:
        h.update(f"{i},{s},{int(dataset.y[i])};".encode())
        if i in seen:
            continue
        seen.add(i)
        f = dataset.features[i]
        for key, v in sorted(f.items()) if isinstance(f, dict) else [("x", f)]:
            a = np.asarray(v)
            h.update(f"{key}{a.shape}{a.dtype.str}".encode())
            flat = a.reshape(-1)
            if flat.size:
                at = np.linspace(0, flat.size - 1, min(flat.size, 16)).astype(np.int64)
                h.update(np.ascontiguousarray(flat[at]).tobytes())
    return h.hexdigest()[:16]


def fingerprint(model: nn.Module, train_set: FeatureDataset, val_set: FeatureDataset | None,
                cfg: TrainConfig, labels: Sequence[str], key: dict | None = None) -> dict:
    """What a checkpoint of :func:`fit` was made by: the training settings (all of :class:`TrainConfig`
    but :data:`NOT_FINGERPRINTED`), the seed, ``key`` (e.g. the fold), the model's class, parameter
    count and shapes, the labels, the training and validation data (:func:`data_fingerprint`) and
    the sercore version. Plain values only (stored in ``last.pt``)."""
    config = {k: _plain(v) for k, v in asdict(cfg).items() if k not in NOT_FINGERPRINTED and k != "seed"}
    shapes = [f"{n}:{tuple(t.shape)}:{t.dtype}" for n, t in model.state_dict().items()]
    return {"seed": int(cfg.seed), **{f"key.{k}": _plain(v) for k, v in sorted((key or {}).items())},
            **{f"config.{k}": v for k, v in config.items()},
            "model": f"{type(model).__module__}.{type(model).__qualname__}",
            "model.parameters": int(sum(p.numel() for p in model.parameters())),
            "model.shapes": hashlib.sha1("\n".join(shapes).encode()).hexdigest()[:16],
            "labels": [str(x) for x in labels],
            "train_data": data_fingerprint(train_set), "val_data": data_fingerprint(val_set),
            "sercore": __version__}


def _plain(v):
    """A value ``torch.load(weights_only=True)`` reads back equal: numpy scalars to Python, tuples to lists."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v if v is None or isinstance(v, (bool, int, float, str)) else repr(v)


def fingerprint_diff(old: dict | None, new: dict) -> str:
    """What differs between two fingerprints, as ``name: old -> new; ...`` ('' when equal)."""
    if not isinstance(old, dict):
        return "it records no fingerprint (made by an older sercore, or not by sercore.train.fit)"
    parts = []
    for k in list(new) + [k for k in old if k not in new]:
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if a != b:
            parts.append(f"{k}: {a!r} -> {b!r}" if len(repr(a)) + len(repr(b)) < 120 else f"{k} differs")
    return "; ".join(parts)


_LAST_KEYS = ("model", "optimizer", "scheduler", "epoch", "history", "best_epoch", "best_score",
              "bad_epochs", "fingerprint")


def _set_aside(ckpt: Path, why: str, reason: str) -> None:
    """Move last.pt/best.pt to ``<name>.<why>-<time>`` and warn (:class:`CheckpointWarning`)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    moved = []
    if distributed.is_main():
        for name in ("last.pt", "best.pt"):
            src = ckpt / name
            if not src.exists():
                continue
            dst, n = ckpt / f"{name}.{why}-{stamp}", 1
            while dst.exists():
                n += 1
                dst = ckpt / f"{name}.{why}-{stamp}-{n}"
            try:
                src.rename(dst)
                moved.append(dst.name)
            except FileNotFoundError:       # another process moved it first
                pass
    kept = f"; the old checkpoint is kept as {', '.join(moved)}" if moved else ""
    warnings.warn(f"{ckpt / 'last.pt'} is not resumed: {reason}. Training starts fresh{kept}.",
                  CheckpointWarning, stacklevel=4)   # points at fit's caller


def _resume_state(ckpt: Path, fp: dict, device: torch.device) -> dict | None:
    """The state to resume from ``ckpt`` for a run with fingerprint ``fp``, or None (fresh start):
    a missing ``last.pt``; one of another run or one that cannot be read is set aside with a warning."""
    last, best = ckpt / "last.pt", ckpt / "best.pt"
    _remove_dead_temporaries(ckpt)
    if not last.exists():
        return None
    try:
        state = torch.load(last, map_location=device, weights_only=True)
        if not isinstance(state, dict):
            raise ValueError(f"it holds a {type(state).__name__}, not a dict")
        missing = [k for k in _LAST_KEYS if k not in state]
        if missing and "fingerprint" in missing and len(missing) == 1:
            _set_aside(ckpt, "stale", fingerprint_diff(None, fp))
            return None
        if missing:
            raise ValueError(f"it lacks {missing}")
    except Exception as e:     # a truncated or foreign file: torch raises several kinds
        _set_aside(ckpt, "damaged", f"it cannot be read ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
        return None
    diff = fingerprint_diff(state["fingerprint"], fp)
    if diff:
        _set_aside(ckpt, "stale", f"it was made by a different run ({diff})")
        return None
    state["best_state"] = None
    if state["best_score"] is not None:        # validation ran: best.pt holds the best epoch's weights
        try:
            b = torch.load(best, map_location="cpu", weights_only=True)
            if not isinstance(b, dict) or b.get("epoch") != state["best_epoch"] or b.get("fingerprint") != fp:
                raise ValueError(f"it is not the best epoch ({state['best_epoch']}) of this run")
            state["best_state"] = b["model"]
        except Exception as e:
            _set_aside(ckpt, "damaged", f"its {best.name} cannot be used ({type(e).__name__}: "
                                        f"{str(e).splitlines()[0][:200]})")
            return None
    return state


def _remove_dead_temporaries(ckpt: Path) -> None:
    """Delete ``*.pt.<pid>.tmp`` left by a killed process (their pid no longer runs)."""
    if not distributed.is_main():
        return
    for tmp in ckpt.glob("*.pt.*.tmp"):
        try:
            pid = int(tmp.name.split(".")[-2])
            if pid != os.getpid():
                os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, PermissionError, OSError):
            pass


def _score(rep: dict, metric: str, loss: float) -> float:
    return -loss if metric == "loss" else rep["metrics"][metric]


def fit(model: nn.Module, train_set: FeatureDataset, val_set: FeatureDataset | None,
        cfg: TrainConfig, labels: Sequence[str], *, key: dict | None = None,
        monitor: Callable[[nn.Module], dict] | None = None) -> FitResult:
    """Train ``model`` on ``train_set``; select the best epoch on ``val_set``.

    Each epoch: shuffle (seeded by ``(seed, epoch)``), optional mixup, cross-entropy
    with label smoothing, gradient accumulation and clipping, a scheduler step;
    then validation, early stopping and ``last.pt``/``best.pt`` checkpoints.
    At the end the model holds the best epoch's weights (the last when there is
    no validation set).

    key: what else identifies this training in its checkpoints (e.g. ``{"fold": name}``); with
    ``cfg.resume`` a ``last.pt`` is resumed only when its :func:`fingerprint` matches.
    monitor: called with the model after each epoch; the numbers it returns are added to that epoch's
    history row (e.g. a test-set curve kept for reporting). It never selects an epoch.
    Progress: one line per epoch (fold, epoch i/N, loss, seconds per epoch, ETA of this fit) goes to
    :func:`report_progress`.
    Raises :class:`TrainingError` for an empty training set, ``epochs < 1``, a non-finite training
    loss or weights, non-finite validation outputs, or when no epoch was trained.
    """
    t0 = time.time()
    cfg = replace(cfg, **{k: v.item() for k, v in asdict(cfg).items() if isinstance(v, np.generic)})
    if len(train_set) == 0:
        raise TrainingError("the training set is empty (0 items): nothing to train on; check the fold's "
                            "training indices and that the corpus loaded any utterances")
    if cfg.epochs < 1:
        raise TrainingError(f"epochs must be >= 1 to train a model, got {cfg.epochs}")
    distributed.init()                        # under torchrun: join the process group (no-op otherwise)
    device = distributed.device_for_rank(resolve_device(cfg.device))
    model.to(device)
    net = distributed.wrap(model, device)    # in DDP when a process group is active, else the model itself
    main = distributed.is_main()              # only rank 0 writes checkpoints and shows progress
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg)
    use_scaler = device.type == "cuda" and cfg.amp == "fp16"
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    ckpt = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
    history: list = []
    best_score, best_epoch, best_state, bad_epochs, start = None, 0, None, 0, 0

    fp = fingerprint(model, train_set, val_set, cfg, labels, key) if ckpt else None
    state = _resume_state(ckpt, fp, device) if ckpt and cfg.resume else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best_epoch, bad_epochs = state["history"], state["best_epoch"], state["bad_epochs"]
        best_score, best_state = state["best_score"], state["best_state"]
        start = state["epoch"]
        del state
        report_progress(" | ".join([*(f"{k} {v}" for k, v in sorted((key or {}).items())),
                                    f"resumed from {ckpt / 'last.pt'} after epoch {start}/{cfg.epochs}"]))

    mix_keys = [k for k in cfg.inputs if not k.endswith("_lengths")]
    epochs = range(start, cfg.epochs)
    bar = tqdm(epochs, desc="epochs", disable=not show_progress(cfg.progress) or not main, leave=False)
    train_loader, n_steps = _TrainLoader(train_set, cfg), 0
    for epoch in bar:
        if patience_exhausted(bad_epochs, cfg.patience):
            break
        te = time.time()
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
        model.train()
        total, n_items, steps_before = torch.zeros((), device=device), 0, n_steps
        first_bad = torch.full((), -1, dtype=torch.long, device=device)   # first step with a non-finite loss
        opt.zero_grad(set_to_none=True)
        loader = train_loader.epoch(epoch)
        for step, batch in enumerate(loader):
            if cfg.mixup_alpha > 0:
                batch, y_a, y_b, lam = mixup(batch, cfg.mixup_alpha, mix_keys, gen)
            else:
                y_a, y_b, lam = batch["y"], batch["y"], 1.0
            y_a, y_b = y_a.to(device, non_blocking=True), y_b.to(device, non_blocking=True)
            do_step = (step + 1) % cfg.grad_accum == 0 or step + 1 == len(loader)
            with distributed.no_sync(net, skip=not do_step):    # DDP: no all-reduce on accumulation steps
                with _autocast(device, cfg.amp):
                    logits = _forward(net, batch, cfg, device)
                    loss = lam * F.cross_entropy(logits.float(), y_a)
                    if lam < 1.0:
                        loss = loss + (1 - lam) * F.cross_entropy(logits.float(), y_b)
                scaler.scale(loss / cfg.grad_accum).backward()
            total += loss.detach() * y_a.shape[0]       # stays on the device: no sync per step
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
            n_items += y_a.shape[0]
            if do_step:
                n_steps += 1
                if cfg.clip_norm is not None:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
                scaler.step(opt)
                scaler.update()
                opt.zero_grad(set_to_none=True)
        lr_now = opt.param_groups[0]["lr"]
        sched.step()
        if distributed.is_active():                     # the loss over every process's share
            both = distributed.all_reduce_sum(torch.stack([total.float(), total.new_tensor(float(n_items))]))
            total, n_items = both[0], int(both[1])
        train_loss = float(total) / max(n_items, 1)
        _check_epoch(model, train_set, cfg, epoch, train_loss, int(first_bad), len(loader),
                     n_steps - steps_before)
        row = {"epoch": epoch + 1, "lr": lr_now, "train_loss": train_loss}
        if val_set is not None and len(val_set):
            rep = evaluate(model, val_set, cfg, labels)
            val_loss = _nll(rep)
            row.update({f"val_{k}": v for k, v in rep["metrics"].items()}, val_loss=val_loss)
            score = _score(rep, cfg.early_stop_metric, val_loss)
            if best_score is None or score > best_score:
                best_score, best_epoch, bad_epochs = score, epoch + 1, 0
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                if ckpt and main:
                    _atomic_save({"model": best_state, "epoch": best_epoch, "fingerprint": fp}, ckpt / "best.pt")
            else:
                bad_epochs += 1
        else:
            best_epoch = epoch + 1
        if monitor is not None:
            row.update(monitor(model))
        row["seconds"] = time.time() - te
        history.append(row)
        per_epoch = float(np.mean([h["seconds"] for h in history[start:]]))
        report_progress(" | ".join([*(f"{k} {v}" for k, v in sorted((key or {}).items())),
                                    f"epoch {epoch + 1}/{cfg.epochs}", f"loss {train_loss:.4f}",
                                    *([f"val {cfg.early_stop_metric} {row['val_' + cfg.early_stop_metric]:.1f}"]
                                      if "val_" + cfg.early_stop_metric in row else []),
                                    f"{per_epoch:.1f} s/epoch",
                                    f"ETA {_duration(per_epoch * (cfg.epochs - epoch - 1))} (this fit)"]))
        bar.set_postfix(loss=f"{train_loss:.3f}", **({"val": f"{row.get('val_' + cfg.early_stop_metric, 0):.1f}"}
                                                    if "val_ua" in row else {}))
        if ckpt and main:
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict(), "epoch": epoch + 1, "history": history,
                          "best_epoch": best_epoch, "best_score": best_score,
                          "bad_epochs": bad_epochs, "fingerprint": fp}, ckpt / "last.pt")
    if not history:
        raise TrainingError(f"no epoch was trained (epochs={cfg.epochs}, patience={cfg.patience}): "
                            "there is no model to report")
    if best_state is not None:
        model.load_state_dict(best_state)
    return FitResult(history, best_epoch, best_score, time.time() - t0, start, n_steps)


def _check_epoch(model: nn.Module, train_set: FeatureDataset, cfg: TrainConfig, epoch: int,
                 train_loss: float, first_bad: int, n_batches: int, steps: int) -> None:
    """Raise :class:`TrainingError` when an epoch's loss or the weights after it are not finite, or it
    took no optimiser step."""
    if steps == 0:
        raise TrainingError(f"epoch {epoch + 1} took no optimiser step ({n_batches} batches of "
                            f"{len(train_set)} training items)")
    where = f"epoch {epoch + 1}" + (f", step {first_bad + 1} of {n_batches}" if first_bad >= 0 else "")
    if not math.isfinite(train_loss):
        bad = nonfinite_rows(train_set)
        cause = (f"the training features of manifest rows {_some(bad)} hold NaN/Inf: fix or drop those "
                 "utterances (non-finite audio, or a feature extractor that failed on them)" if bad else
                 f"the training features are finite, so the model diverged: the learning rate "
                 f"(lr={cfg.lr:g}) is likely too high; lower it or set clip_norm")
        raise TrainingError(f"the training loss became non-finite ({train_loss}) in {where}; {cause}")
    named = list(model.named_parameters())
    flags = torch.stack([torch.isfinite(p.detach()).all() for _, p in named]).tolist() if named else []
    if not all(flags):
        names = [n for (n, _), ok in zip(named, flags) if not ok]
        raise TrainingError(f"the model's weights became non-finite in epoch {epoch + 1} (parameters "
                            f"{', '.join(names[:5])}{' ...' if len(names) > 5 else ''}) although its loss "
                            f"was finite: the learning rate (lr={cfg.lr:g}) is likely too high; lower it "
                            "or set clip_norm")


def patience_exhausted(bad_epochs: int, patience: int | None) -> bool:
    """Early stopping: ``patience`` epochs in a row without a better validation score."""
    return patience is not None and bad_epochs >= patience


def _nll(rep: dict) -> float:
    p = np.asarray(rep["probs"], dtype=np.float64)
    y = np.asarray(rep["y_true"], dtype=np.int64)
    if len(y) == 0:
        return float("nan")
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))


def _atomic_save(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


# ----------------------------------------------------------------------------- protocols

@dataclass
class CVResult:
    """Per-fold reports and their aggregate (mean ± std over folds, pooled confusion)."""

    folds: list              # per fold: {"name", "sizes", "report", "fit": {...}}
    summary: dict            # metrics.aggregate() over the folds
    pooled: dict             # classification_report over all folds' test predictions together
    seconds: float

    def to_json(self) -> dict:
        slim = [{k: v for k, v in f.items() if k != "report"} | {"metrics": f["report"]["metrics"]}
                for f in self.folds]
        return {"folds": slim, "summary": self.summary, "seconds": self.seconds}


#: a fold's claim file under its checkpoint folder: the process training it (``PID START``, :mod:`sercore.procs`)
CLAIM_NAME = ".claim"
#: seconds between looks at a fold another process is training (:func:`cross_validate`)
FOLD_WAIT_S = 10.0


def _claim(claim: Path) -> bool:
    """Take the claim file ``claim`` for this process (atomic create, ``PID START``); False while another
    live process holds it. A claim whose owner no longer runs (killed) is taken over."""
    claim.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = procs.read_lock(claim)
            if owner is not None and owner[0] == os.getpid():
                return True
            state = procs.alive(*owner) if owner is not None else None
            if state or (state is None and procs._young(claim)):
                return False
            claim.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            pid, start = procs.me()
            f.write(f"{pid} {start}\n" if start is not None else f"{pid}\n")
        return True
    return False


def cross_validate(build_model: Callable[[], nn.Module], features: Sequence, y: Sequence[int],
                   folds: Sequence, cfg: TrainConfig, labels: Sequence[str], *,
                   segmented: bool = False, on_fold_end: Callable | None = None,
                   monitor_test: bool = False) -> CVResult:
    """Train and test one fresh model per fold.

    build_model: returns a new, untrained model (called after seeding, once per fold)
    features, y: per manifest row (see :class:`FeatureDataset`)
    folds:       objects with ``name``, ``train``, ``val``, ``test`` index arrays
                 (:class:`sercore.protocols.Fold`)
    Each fold trains with ``cfg`` (checkpoints, if any, under ``checkpoint_dir/<fold>``).
    With checkpoints, several processes can share the folds of one run (``sercore run --fold-worker``):
    each claims a fold before training it (``<fold>/.claim``), skips folds another live process holds,
    and at the end takes those over once they are let go: a finished fold resumes from its last
    checkpoint with nothing left to train, so every process returns the same complete result, in fold
    order. ``on_fold_end`` is then called in the order the folds completed here; ``fit.resumed_from`` of
    a fold says how many of its epochs another run (or an earlier, killed one) trained.
    monitor_test: evaluate the fold's test set after every epoch and keep its metrics in the history
                  (``test_wa``, ``test_ua``, ...) to report what selecting an epoch on the test set would
                  give; the fold is still tested with the epoch :func:`fit` selects.
    """
    t0 = time.time()
    folds = list(folds)
    done: dict[int, dict] = {}

    def run_fold(fold) -> dict:
        seed_everything(cfg.seed)
        fcfg = TrainConfig(**{**asdict(cfg), "checkpoint_dir": (str(Path(cfg.checkpoint_dir) / fold.name)
                                                                if cfg.checkpoint_dir else None)})
        model = build_model()
        tr = FeatureDataset(features, y, fold.train, segmented)
        va = FeatureDataset(features, y, fold.val, segmented) if len(fold.val) else None
        te = FeatureDataset(features, y, fold.test, segmented)
        if len(fold.test) == 0:
            raise TrainingError(f"fold {fold.name}: the test set is empty, so it measures nothing")
        monitor = ((lambda m, te=te, fcfg=fcfg: {f"test_{k}": v for k, v in
                                                 evaluate(m, te, fcfg, labels)["metrics"].items()})
                   if monitor_test else None)
        res = fit(model, tr, va, fcfg, labels, key={"fold": str(fold.name)}, monitor=monitor)
        rep = evaluate(model, te, fcfg, labels)
        item = {"name": fold.name,
                "sizes": {"train": len(fold.train), "val": len(fold.val), "test": len(fold.test)},
                "report": rep,
                "fit": {"best_epoch": res.best_epoch, "best_score": res.best_score,
                        "seconds": res.seconds, "history": res.history, "resumed_from": res.resumed_from}}
        if on_fold_end is not None:
            on_fold_end(item, model)
        return item

    # folds shared between processes (``sercore run --fold-worker``): with checkpoints, each fold is claimed
    # before it trains; a fold another live process has claimed is left for later, and taken once that
    # process lets it go (finished: resumed from its last checkpoint at no cost; killed: trained on from it)
    share = cfg.checkpoint_dir is not None and int(os.environ.get("WORLD_SIZE", "1")) == 1
    bar = tqdm(total=len(folds), desc="folds", disable=not show_progress(cfg.progress) or len(folds) < 2)
    waited = 0.0
    while len(done) < len(folds):
        progressed = False
        for i, fold in enumerate(folds):
            if i in done:
                continue
            claim = Path(cfg.checkpoint_dir) / fold.name / CLAIM_NAME if share else None
            if claim is not None and not _claim(claim):
                continue
            try:
                done[i] = run_fold(fold)
            finally:
                if claim is not None:
                    claim.unlink(missing_ok=True)
            progressed = True
            bar.update()
        if len(done) < len(folds) and not progressed:
            if waited == 0.0 or waited >= 60.0:
                held = [f"{f.name} (process {(procs.read_lock(Path(cfg.checkpoint_dir) / f.name / CLAIM_NAME) or ('?',))[0]})"
                        for i, f in enumerate(folds) if i not in done]
                report_progress(f"waiting for fold(s) another process is training: {', '.join(held)}")
                waited = 0.0
            time.sleep(FOLD_WAIT_S)
            waited += FOLD_WAIT_S
    bar.close()
    out = [done[i] for i in range(len(folds))]       # fold order, whichever process trained each
    all_true = [t for f in out for t in f["report"]["y_true"]]
    all_pred = [p for f in out for p in f["report"]["y_pred"]]
    summary = aggregate([f["report"] for f in out])
    pooled = classification_report(all_true, all_pred, labels)
    return CVResult(out, summary, pooled, time.time() - t0)


def test_selected(cv: dict, by: str = "wa") -> dict | None:
    """What choosing each fold's epoch on its TEST set would report, from a :meth:`CVResult.to_json`
    whose histories were recorded with ``monitor_test``: per fold the epoch with the highest test
    ``by`` (``wa`` or ``ua``; the earliest on ties) and its WA/UA, and their means over folds. None when
    the histories hold no test curves. Not a result: the test set chose the epoch."""
    folds = cv["folds"]
    key = f"test_{by}"
    if not folds or not all(key in h for f in folds for h in f["fit"]["history"]):
        return None
    rows = []
    for f in folds:
        best = max(f["fit"]["history"], key=lambda h: (h[key], -h["epoch"]))
        rows.append({"fold": str(f["name"]), "epoch": int(best["epoch"]), "wa": float(best["test_wa"]),
                     "ua": float(best["test_ua"])})
    return {"folds": rows, "wa": float(np.mean([r["wa"] for r in rows])),
            "ua": float(np.mean([r["ua"] for r in rows])), "selected_on": f"test {by.upper()}"}


def avoid_single_item_batches(cfg: TrainConfig, n_train: Sequence[int]) -> TrainConfig:
    """``cfg`` with the batch size grown by one until no training part of ``n_train`` items (one per
    fold) ends on a batch of one: batch norm cannot normalise a single item in training mode."""
    while any(n % cfg.batch_size == 1 for n in n_train):
        cfg = replace(cfg, batch_size=cfg.batch_size + 1)
    return cfg


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
