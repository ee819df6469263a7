"""The training engine: determinism, resume, mixup, optimiser groups, schedulers, aggregation."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sercore import models, train
from sercore.train import (FeatureDataset, TrainConfig, build_optimizer, build_scheduler,
                           cross_validate, evaluate, fit, mixup, pad_collate, seed_everything)

LABELS = ["a", "b", "c"]


def toy_data(n=60, d=6, seed=0):
    """Variable-length sequences whose class shifts the mean of one feature."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    feats = []
    for i in range(n):
        t = rng.integers(5, 15)
        x = rng.normal(size=(t, d)).astype(np.float32)
        x[:, 0] += 2.0 * y[i]
        feats.append(x)
    return feats, y


def make_model(seed=0):
    seed_everything(seed)
    return models.create("bilstm_pool", input_dim=6, hidden=8, n_classes=3, cmvn=False)  # class = mean shift


def small_cfg(**kw):
    base = dict(epochs=4, batch_size=8, lr=1e-2, progress=False, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_pad_collate_pads_and_reports_lengths():
    items = [{"x": torch.ones(3, 2), "y": 0, "utt": 0}, {"x": torch.ones(5, 2), "y": 1, "utt": 1}]
    b = pad_collate(items)
    assert b["x"].shape == (2, 5, 2)
    assert b["x_lengths"].tolist() == [3, 5]
    assert b["x"][0, 3:].abs().sum() == 0


def test_fit_learns_and_is_deterministic_on_cpu():
    feats, y = toy_data()
    idx = np.arange(60)
    tr, va = FeatureDataset(feats, y, idx[:45]), FeatureDataset(feats, y, idx[45:])
    cfg = small_cfg(epochs=6)
    m1 = make_model()
    r1 = fit(m1, tr, va, cfg, LABELS)
    rep1 = evaluate(m1, va, cfg, LABELS)
    m2 = make_model()
    fit(m2, tr, va, cfg, LABELS)
    rep2 = evaluate(m2, va, cfg, LABELS)
    assert rep1["metrics"] == rep2["metrics"]
    assert rep1["probs"] == rep2["probs"]
    assert rep1["metrics"]["ua"] > 60.0        # chance is 33 %
    assert r1.history[-1]["train_loss"] < r1.history[0]["train_loss"]


def test_resume_after_interruption_matches_uninterrupted(tmp_path, monkeypatch):
    feats, y = toy_data()
    idx = np.arange(60)
    tr, va = FeatureDataset(feats, y, idx[:45]), FeatureDataset(feats, y, idx[45:])
    full = make_model()
    fit(full, tr, va, small_cfg(epochs=4, checkpoint_dir=str(tmp_path / "full")), LABELS)
    # interrupted in epoch 3 (its validation raises): last.pt holds epoch 2
    real_evaluate, calls = train.evaluate, []

    def interrupting(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_evaluate(*a, **kw)

    monkeypatch.setattr(train, "evaluate", interrupting)
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), tr, va, small_cfg(epochs=4, checkpoint_dir=str(tmp_path / "cut")), LABELS)
    monkeypatch.setattr(train, "evaluate", real_evaluate)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["epoch"] == 2
    resumed = make_model(seed=123)  # different init: everything must come from the checkpoint
    res = fit(resumed, tr, va, small_cfg(epochs=4, checkpoint_dir=str(tmp_path / "cut")), LABELS)
    assert res.resumed_from == 2
    assert len(res.history) == 4
    for p, q in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(p, q)


def test_checkpoints_load_with_weights_only(tmp_path):
    feats, y = toy_data(n=30)
    tr = FeatureDataset(feats, y, np.arange(24))
    va = FeatureDataset(feats, y, np.arange(24, 30))
    fit(make_model(), tr, va, small_cfg(epochs=1, checkpoint_dir=str(tmp_path)), LABELS)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and "model" in state and state["fingerprint"]["seed"] == 0
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == 1 and best["fingerprint"] == state["fingerprint"] and "model" in best


def test_mixup_mixes_inputs_and_keeps_longer_length():
    g = torch.Generator().manual_seed(0)
    batch = {"x": torch.stack([torch.zeros(4, 2), torch.ones(4, 2)]), "x_lengths": torch.tensor([2, 4]),
             "y": torch.tensor([0, 1]), "utt": torch.tensor([0, 1])}
    torch.manual_seed(0)
    out, ya, yb, lam = mixup(batch, 0.2, ["x"], g)
    assert 0.0 <= lam <= 1.0
    perm_is_swap = yb.tolist() == [1, 0]
    if perm_is_swap:
        assert torch.allclose(out["x"][0], torch.full((4, 2), 1 - lam))
        assert out["x_lengths"].tolist() == [4, 4]
    else:
        assert torch.equal(out["x"], batch["x"])
    # with alpha 0 nothing changes
    out0, _, _, lam0 = mixup(batch, 0.0, ["x"], g)
    assert lam0 == 1.0 and torch.equal(out0["x"], batch["x"])


def test_mixup_training_runs_and_differs_from_plain():
    feats, y = toy_data(n=30)
    tr = FeatureDataset(feats, y, np.arange(30))
    a, b = make_model(), make_model()
    fit(a, tr, None, small_cfg(epochs=1), LABELS)
    fit(b, tr, None, small_cfg(epochs=1, mixup_alpha=0.2), LABELS)
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def lr_trace(model, cfg, epochs=5):
    """The learning rate of the first group at the start of each epoch."""
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_exponential_schedule_has_a_floor():
    cfg = TrainConfig(lr=1e-3, scheduler="exp", gamma=0.5, lr_min=2e-4, epochs=10)
    assert lr_trace(make_model(), cfg) == pytest.approx([1e-3, 5e-4, 2.5e-4, 2e-4, 2e-4])


def test_early_stopping_stops_after_patience():
    feats, y = toy_data(n=30)
    # validation labels are shuffled noise: the score will not keep improving
    y_noise = y.copy()
    y_noise[24:] = np.random.default_rng(1).permutation(y[24:])
    tr = FeatureDataset(feats, y_noise, np.arange(24))
    va = FeatureDataset(feats, y_noise, np.arange(24, 30))
    res = fit(make_model(), tr, va, small_cfg(epochs=30, patience=2, early_stop_metric="loss"), LABELS)
    assert len(res.history) < 30
    assert res.best_epoch <= len(res.history) - 2


def test_segment_probabilities_are_averaged_per_utterance():
    class Fixed(torch.nn.Module):
        """logits = the first feature of the first frame (3 classes)."""
        def forward(self, x, lengths):
            return x[:, 0, :3]
    # utterance 0 has two segments voting for classes 0 and 1 with unequal confidence
    feats = [np.array([[[5.0, 0, 0]], [[0, 1.0, 0]]], dtype=np.float32),
             np.array([[[0, 0, 3.0]]], dtype=np.float32)]
    ds = FeatureDataset(feats, [0, 2], [0, 1], segmented=True)
    assert len(ds) == 3
    rep = evaluate(Fixed(), ds, TrainConfig(progress=False, batch_size=2), LABELS)
    p0 = (torch.tensor([5.0, 0, 0]).softmax(0) + torch.tensor([0, 1.0, 0]).softmax(0)) / 2
    assert np.allclose(rep["probs"][0], p0.numpy(), atol=1e-6)
    assert rep["y_pred"] == [0, 2]


def test_cross_validate_runs_every_fold():
    feats, y = toy_data(n=45)
    folds = [SimpleNamespace(name=f"f{i}", train=np.setdiff1d(np.arange(45), np.arange(i * 15, i * 15 + 15)),
                             val=np.array([], dtype=int), test=np.arange(i * 15, i * 15 + 15)) for i in range(3)]
    cv = cross_validate(lambda: models.create("bilstm_pool", input_dim=6, hidden=8, n_classes=3, cmvn=False),
                        feats, y, folds, small_cfg(epochs=2), LABELS)
    assert [f["name"] for f in cv.folds] == ["f0", "f1", "f2"]
    assert cv.summary["n"] == 3
    assert np.asarray(cv.pooled["confusion"]["matrix"]).sum() == 45
    assert not math.isnan(cv.summary["std"]["wa"])


class MeanLinear(torch.nn.Module):
    """logits = W · mean over time of x: no dropout, no normalisation, so batching is exact."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(6, 3)

    def forward(self, x, lengths):
        mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).float()[..., None]
        return self.lin((x * mask).sum(1) / lengths[:, None])


def test_gradient_accumulation_equals_a_larger_batch():
    feats, y = toy_data(n=32)
    tr = FeatureDataset(feats, y, np.arange(32))
    big, acc = MeanLinear(), MeanLinear()
    fit(big, tr, None, small_cfg(epochs=1, optimizer="sgd", momentum=0.0, batch_size=8), LABELS)
    fit(acc, tr, None, small_cfg(epochs=1, optimizer="sgd", momentum=0.0, batch_size=4, grad_accum=2),
        LABELS)
    for p, q in zip(big.parameters(), acc.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_fit_counts_optimizer_steps():
    feats, y = toy_data(n=18)
    res = fit(MeanLinear(), FeatureDataset(feats, y, np.arange(18)), None, small_cfg(epochs=2, batch_size=5,
                                                                                     grad_accum=2), LABELS)
    assert res.optimizer_steps == 2 * 2              # 18 items: 4 batches per epoch, a step every 2


def test_gradient_clipping_bounds_the_update():
    feats, y = toy_data(n=8)
    feats = [f * 1e3 for f in feats]                 # huge gradients
    tr = FeatureDataset(feats, y, np.arange(8))
    m = MeanLinear()
    before = [p.detach().clone() for p in m.parameters()]
    fit(m, tr, None, small_cfg(epochs=1, optimizer="sgd", momentum=0.0, lr=1.0, batch_size=8,
                               clip_norm=0.5), LABELS)
    step = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(m.parameters(), before)))
    assert step <= 0.5 + 1e-5                       # lr 1 x gradient norm at most 0.5


def test_cosine_schedule():
    cfg = TrainConfig(lr=1e-3, scheduler="cosine", epochs=4, lr_min=0.0)
    assert lr_trace(MeanLinear(), cfg) == pytest.approx([1e-3 * (1 + math.cos(math.pi * e / 4)) / 2
                                                         for e in range(5)])


def test_batch_size_grows_until_no_fold_ends_on_one_item():
    from sercore.train import TrainConfig, avoid_single_item_batches
    assert avoid_single_item_batches(TrainConfig(batch_size=4), [9, 8]).batch_size == 5   # 9 % 4 == 1
    assert avoid_single_item_batches(TrainConfig(batch_size=4), [8, 10]).batch_size == 4
    assert avoid_single_item_batches(TrainConfig(batch_size=4), [9, 11]).batch_size == 6  # 5: 11 % 5 == 1


def test_length_buckets_batch_every_item_once_with_similar_lengths_and_follow_the_seed():
    import torch

    from sercore.train import LengthBuckets

    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 900, size=103).tolist()
    batches = list(LengthBuckets(lengths, 8, 4, torch.Generator().manual_seed(1)))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103)) and len(batches) == len(LengthBuckets(lengths, 8, 4, None)) == 13
    assert sum(len(b) < 8 for b in batches) == 1                       # only the last run ends short
    # each batch spans far less of the length range than a random batch would
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    assert spread < 0.3 * (max(lengths) - min(lengths))
    again = list(LengthBuckets(lengths, 8, 4, torch.Generator().manual_seed(1)))
    other = list(LengthBuckets(lengths, 8, 4, torch.Generator().manual_seed(2)))
    assert again == batches and other != batches


def test_fit_with_length_buckets_trains_on_variable_length_items():
    from sercore.train import FeatureDataset, TrainConfig, _TrainLoader

    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((int(n), 3)).astype("float32") for n in rng.integers(2, 40, size=50)]
    ds = FeatureDataset(feats, rng.integers(0, 2, size=50), np.arange(50))
    cfg = TrainConfig(batch_size=8, length_buckets=3, seed=0)
    loader = _TrainLoader(ds, cfg).epoch(0)
    seen = []
    for batch in loader:
        seen += batch["utt"].tolist()
        assert int(batch["x_lengths"].max()) == batch["x"].shape[1]
    assert sorted(seen) == list(range(50))
