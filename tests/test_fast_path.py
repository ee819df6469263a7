"""The training engine's speed flags do not change results on CPU: channels_last, DataLoader
workers with persistent workers / prefetch / pinned memory (same batch order as without), and the
torch.compile flag's plumbing (the compiled forward shares the model's parameters)."""
import numpy as np
import pytest
import torch
from torch import nn

from sercore import train


class TinyConv(nn.Module):
    """(B, T, 8) -> Conv2d over (1, T, 8) -> masked-free mean -> (B, 3)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.out = nn.Linear(4, 3)

    def forward(self, x, lengths):
        h = torch.relu(self.conv(x[:, None]))          # (B, 4, T, 8)
        return self.out(h.mean((2, 3)))


def _data(n=24):
    rng = np.random.default_rng(1)
    y = np.arange(n) % 3
    feats = [(rng.normal(size=(6, 8)) + y[i]).astype("float32") for i in range(n)]
    return feats, y


def _fit(**flags):
    feats, y = _data()
    train.seed_everything(0)
    model = TinyConv()
    cfg = train.TrainConfig(epochs=2, batch_size=5, lr=0.01, device="cpu", seed=4, progress=False, **flags)
    res = train.fit(model, train.FeatureDataset(feats, y, np.arange(18)),
                    train.FeatureDataset(feats, y, np.arange(18, 24)), cfg, ["a", "b", "c"])
    return model, res


def _close(a, b, atol=1e-6):
    return all(torch.allclose(p, q, atol=atol) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_default_counts_optimizer_steps():
    _, res = _fit()
    assert res.optimizer_steps == 2 * 4                # 18 items, batches of 5 -> 4 steps per epoch


def test_channels_last_gives_the_same_weights():
    base, r0 = _fit()
    cl, r1 = _fit(channels_last=True)
    assert _close(base, cl, atol=1e-5)
    assert [h["train_loss"] for h in r0.history] == pytest.approx([h["train_loss"] for h in r1.history], abs=1e-5)


@pytest.mark.timeout(120)
def test_workers_persistent_and_pinned_give_the_same_batches():
    base, r0 = _fit()
    w, r1 = _fit(num_workers=1, persistent_workers=True, prefetch_factor=3, pin_memory=True)
    assert _close(base, w)
    assert [h["train_loss"] for h in r0.history] == pytest.approx([h["train_loss"] for h in r1.history], abs=1e-6)


def test_compile_flag_wraps_the_training_forward(monkeypatch):
    calls = []

    def fake_compile(m, **kw):                         # torch.compile itself takes minutes on this CPU
        calls.append(m)
        return m
    monkeypatch.setattr(torch, "compile", fake_compile)
    base, _ = _fit()
    comp, _ = _fit(compile=True)
    assert len(calls) == 1 and isinstance(calls[0], TinyConv)
    assert _close(base, comp)
