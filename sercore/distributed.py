"""Data-parallel training on several GPUs (or CPU processes) with PyTorch DDP.

One run, several processes: launch any script that calls :func:`sercore.train.fit`
with ``torchrun``::

    torchrun --nproc_per_node=4 my_training_script.py     # 4 GPUs, NCCL
    torchrun --nproc_per_node=2 my_training_script.py     # no GPU: 2 CPU processes, gloo

or run a chapter notebook that way::

    torchrun --standalone --nproc_per_node=4 -m sercore.cli run ctmam --dataset iemocap --profile paper

:func:`sercore.train.fit` calls :func:`init` itself (a script may call it earlier);
every rank's notebook kernel trains its share and only rank 0's results are
kept in ``results/`` (the other ranks write to a temporary folder). ``torchrun`` sets ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init`
reads them, starts the process group (``nccl`` when CUDA is present, else
``gloo``) and pins each process to GPU ``LOCAL_RANK``. Without those variables
(a plain ``python`` run or a notebook) :func:`init` does nothing and every helper
here answers as for a single process, so the same script runs either way.

What :func:`sercore.train.fit` does when a process group with more than one
process is active (:func:`is_active`):

- each process sees ``1/world_size`` of every epoch through a
  :class:`~torch.utils.data.DistributedSampler` seeded by ``(cfg.seed, epoch)``;
  when the training set does not divide evenly the sampler repeats a few items
  so every process takes the same number of steps (PyTorch's behaviour);
- the model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`,
  which averages gradients across processes at every optimiser step, so all
  processes hold identical weights (tested);
- ``cfg.batch_size`` is per process: the effective batch is
  ``batch_size * world_size`` (scale ``lr`` yourself if you want to);
- validation runs on the whole validation set in every process (identical
  weights give identical scores, so early stopping agrees everywhere);
- only rank 0 writes checkpoints and shows progress bars; write results only
  where :func:`is_main` is true.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when absent): what ``torchrun`` asked for."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init(backend: str = "auto", timeout_s: float = 600.0) -> bool:
    """Start the process group from ``torchrun``'s environment; return whether one is active.

    backend: ``auto`` (``nccl`` with CUDA, else ``gloo``), ``nccl`` or ``gloo``.
    A no-op (returns False) when ``WORLD_SIZE`` is unset or 1, and when the group
    is already initialised (returns True then).
    """
    if dist.is_available() and dist.is_initialized():
        return True
    if env_world_size() <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE={env_world_size()} but {missing} are not set; "
                           "launch with torchrun (it sets them) or set them yourself")
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in ("nccl", "gloo"):
        raise ValueError(f"backend must be auto, nccl or gloo, got {backend!r}")
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return True


def is_active() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def local_rank() -> int:
    """Rank on this machine (``LOCAL_RANK``; 0 when absent): the GPU this process uses."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Whether this process writes results, checkpoints and logs (rank 0)."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (no-op without a process group)."""
    if is_active():
        dist.barrier()


def device_for_rank(device: torch.device) -> torch.device:
    """``cuda`` becomes ``cuda:LOCAL_RANK`` in a process group; other devices are unchanged."""
    if device.type == "cuda" and device.index is None and is_active():
        return torch.device("cuda", local_rank())
    return device


def wrap(model: nn.Module, device: torch.device, find_unused_parameters: bool = True) -> nn.Module:
    """``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` when a group is active,
    else ``model`` itself. The wrapper shares the module's parameters (no copy).

    ``find_unused_parameters`` is on by default: several paper models hold trainable
    parameters that the classification forward does not use (MCWSA-CMHA's decoders,
    ablation branches), which DDP otherwise rejects; it costs one graph traversal per step."""
    if not is_active():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index if device.index is not None else local_rank()] if device.type == "cuda" else None
    return DDP(model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):           # torch.compile
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


@contextmanager
def no_sync(model: nn.Module, skip: bool):
    """DDP's ``no_sync()`` when ``skip`` (gradient accumulation micro-batches), else nothing."""
    inner = model._orig_mod if hasattr(model, "_orig_mod") else model
    if skip and isinstance(inner, nn.parallel.DistributedDataParallel):
        with inner.no_sync():
            yield
    else:
        yield


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over processes (``t`` itself without a group). Done in place."""
    if is_active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def cleanup() -> None:
    """Destroy the process group (call once at the end of a ``torchrun`` script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
