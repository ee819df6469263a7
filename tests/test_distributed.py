"""DDP through ``torchrun`` on CPU (gloo, 2 processes): identical weights on both ranks, the expected
number of optimiser steps, the same weights as one process training on the union of the ranks'
batches, and checkpoints written by rank 0 only."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sercore import distributed

SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path

    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch import nn

    from sercore import distributed, train

    class Tiny(nn.Module):
        """Masked mean over frames, then a linear layer: (B, T, 4), (B,) -> (B, 2)."""
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(4, 8)
            self.out = nn.Linear(8, 2)
        def forward(self, x, lengths):
            mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).float()
            h = torch.tanh(self.proj(x))                                  # (B, T, 8)
            h = (h * mask[..., None]).sum(1) / lengths[:, None].float()   # (B, 8)
            return self.out(h)

    out = Path(sys.argv[1])
    active = distributed.init()
    rank, world = distributed.rank(), distributed.world_size()
    rng = np.random.default_rng(0)
    y = np.array([i % 2 for i in range(34)])
    feats = [(rng.normal(size=(int(rng.integers(3, 8)), 4)) + y[i]).astype("float32") for i in range(34)]
    tr_idx, va_idx = np.arange(26), np.arange(26, 34)
    labels = ["a", "b"]
    cfg = train.TrainConfig(epochs=2, batch_size=4, lr=0.05, optimizer="adam", device="cpu", seed=3,
                            checkpoint_dir=str(out / "ckpt"), progress=False)
    saved = []
    _orig = train._atomic_save
    train._atomic_save = lambda obj, path: (saved.append(Path(path).name), _orig(obj, path))
    train.seed_everything(0)
    model = Tiny()
    res = train.fit(model, train.FeatureDataset(feats, y, tr_idx), train.FeatureDataset(feats, y, va_idx),
                    cfg, labels)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    both = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(both, flat)
    report = {"rank": rank, "world": world, "active": active, "steps": res.optimizer_steps,
              "saved": saved, "max_rank_diff": float((both[0] - both[-1]).abs().max()),
              "history_len": len(res.history), "val_ua": [h["val_ua"] for h in res.history]}
    if distributed.is_main():
        # one process, the same model init, batches = the union of the ranks' batches at each step
        train.seed_everything(0)
        ref = Tiny()
        opt = torch.optim.Adam(ref.parameters(), lr=cfg.lr)
        ds = train.FeatureDataset(feats, y, tr_idx)
        for epoch in range(cfg.epochs):
            g = torch.Generator().manual_seed(cfg.seed + epoch)      # DistributedSampler's permutation
            perm = torch.randperm(len(ds), generator=g).tolist()
            per_rank = -(-len(ds) // world)
            perm += perm[: per_rank * world - len(perm)]             # padded like DistributedSampler
            shares = [perm[r::world] for r in range(world)]
            for k in range(0, per_rank, cfg.batch_size):
                batch = train.pad_collate([ds[i] for s in shares for i in s[k:k + cfg.batch_size]])
                loss = F.cross_entropy(ref(batch["x"], batch["x_lengths"]), batch["y"])
                opt.zero_grad(); loss.backward(); opt.step()
        last = torch.load(out / "ckpt" / "last.pt", weights_only=True)["model"]
        report["ref_diff"] = max(float((last[k] - v).abs().max()) for k, v in ref.state_dict().items())
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    distributed.cleanup()
''')


def test_helpers_without_a_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init() is False
    assert (distributed.is_active(), distributed.rank(), distributed.world_size()) == (False, 0, 1)
    assert distributed.is_main()
    m = torch.nn.Linear(2, 2)
    assert distributed.wrap(m, torch.device("cpu")) is m
    assert distributed.unwrap(m) is m
    t = torch.ones(3)
    assert distributed.all_reduce_sum(t) is t and t.sum() == 3


def test_init_names_missing_torchrun_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        distributed.init()


@pytest.mark.timeout(120)
def test_torchrun_two_cpu_processes_gloo(tmp_path):
    script = tmp_path / "ddp_tiny.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "SERCORE_PROGRESS": "0"}
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun) if torchrun.exists() else "torchrun", "--standalone", "--nproc_per_node=2",
           str(script), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["active"] and r0["world"] == 2 and r1["rank"] == 1
    # 26 training items over 2 ranks: 13 each, batches of 4 -> 4 optimiser steps per epoch, 2 epochs
    assert r0["steps"] == r1["steps"] == 8
    assert r0["max_rank_diff"] == 0.0 and r1["max_rank_diff"] == 0.0
    assert r0["ref_diff"] < 1e-5                       # DDP = one process on the union of the batches
    assert r0["val_ua"] == r1["val_ua"] and r0["history_len"] == 2
    # only rank 0 writes checkpoints
    assert "last.pt" in r0["saved"] and "best.pt" in r0["saved"]
    assert r1["saved"] == []
