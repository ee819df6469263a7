"""Baselines: registry, shapes, gradients, masking (batched = per-sample)."""
import pytest
import torch

from sercore import models
from sercore.train import pad_collate


@pytest.mark.parametrize("name", ["bilstm_pool", "mlp_stats"])
def test_batched_equals_per_sample(name):
    torch.manual_seed(0)
    m = models.create(name, input_dim=5, n_classes=3).eval()
    xs = [torch.randn(t, 5) for t in (3, 7, 5)]
    batch = pad_collate([{"x": x, "y": 0, "utt": i} for i, x in enumerate(xs)])
    with torch.no_grad():
        together = m(batch["x"], batch["x_lengths"])
        alone = torch.cat([m(x[None], torch.tensor([len(x)])) for x in xs])
    assert together.shape == (3, 3)
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("name", ["bilstm_pool", "mlp_stats"])
def test_gradients_reach_every_parameter(name):
    m = models.create(name, input_dim=4, n_classes=2)
    out = m(torch.randn(2, 6, 4), torch.tensor([6, 3]))
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_bad_shape_names_expected_and_got():
    m = models.create("bilstm_pool", input_dim=4)
    with pytest.raises(ValueError, match=r"\(B, T, 4\).*\(2, 6, 5\)"):
        m(torch.randn(2, 6, 5))


def test_registry():
    assert {"bilstm_pool", "mlp_stats"} <= set(models.available())
    with pytest.raises(KeyError, match="available"):
        models.create("nope")
    with pytest.raises(TypeError, match="unknown config field"):
        models.create("bilstm_pool", hiddden=3)


def test_mlp_stats_trains_on_a_batch_of_one():
    m = models.create("mlp_stats", input_dim=4, n_classes=2).train()
    out = m(torch.randn(1, 5, 4), torch.tensor([5]))
    assert out.shape == (1, 2) and torch.isfinite(out).all()
