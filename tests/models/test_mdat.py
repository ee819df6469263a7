"""MDAT (Zaidi et al.): graph and co-attention shapes and masking, batched = per-sample, gradients,
Table VI configurations, audio-only mode, the BiLSTM baseline."""
import pytest
import torch

from sercore import models
from sercore.models.mdat import ABLATIONS, CoAttention, GraphAttention, ablation_flags, pool_time
from sercore.train import count_parameters, pad_collate

SMALL = dict(audio_dim=8, text_dim=6, graph_dim=8, ff_dim=16, hidden=8, heads=2, max_len=12, audio_stride=2)


def _batch(lens_a=(9, 20, 5), lens_t=(3, 7, 11), seed=0):
    g = torch.Generator().manual_seed(seed)
    items = [{"audio": torch.randn(a, 8, generator=g), "text": torch.randn(t, 6, generator=g), "y": 0, "utt": i}
             for i, (a, t) in enumerate(zip(lens_a, lens_t))]
    return items, pad_collate(items)


def test_graph_attention_shapes_and_masking():
    torch.manual_seed(0)
    ga = GraphAttention(5, 3)
    z = torch.randn(2, 6, 5)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 0]], dtype=torch.bool)
    out, alpha = ga(z, mask)
    assert out.shape == (2, 6, 3) and alpha.shape == (2, 6, 6)
    assert torch.allclose(alpha.sum(-1), torch.ones(2, 6))
    assert (alpha[1][:, ~mask[1]] == 0).all()            # no attention to padding nodes
    assert (out[1][~mask[1]] == 0).all()                 # padding rows are zero
    z2 = z.clone()
    z2[1, ~mask[1]] = 100.0                              # changing padding changes nothing real
    out2, _ = ga(z2, mask)
    assert torch.allclose(out[1][mask[1]], out2[1][mask[1]], atol=1e-6)


def test_coattention_shapes_both_directions_and_masking():
    torch.manual_seed(0)
    ca = CoAttention(4)
    xs, xt = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    ms = torch.tensor([[1] * 5, [1, 1, 1, 0, 0]], dtype=torch.bool)
    mt = torch.tensor([[1, 1, 0, 0, 0], [1] * 5], dtype=torch.bool)
    hs, ht, a_s, a_t = ca(xs, ms, xt, mt)
    assert hs.shape == (2, 5, 8) and ht.shape == (2, 5, 8)          # [input; attended] (Eqs. 14-15)
    assert a_s.shape == (2, 5, 5) and a_t.shape == (2, 5, 5)
    assert torch.allclose(a_s.sum(-1), torch.ones(2, 5)) and torch.allclose(a_t.sum(-1), torch.ones(2, 5))
    assert (a_s[0][:, 2:] == 0).all()                    # audio never attends to text padding
    assert (a_t[1][:, 3:] == 0).all()                    # text never attends to audio padding
    assert torch.allclose(hs[..., :4], xs * ms[..., None])
    # Eq. 12: attended audio = alpha_s @ text
    assert torch.allclose(hs[0, :, 4:], a_s[0] @ xt[0], atol=1e-6)


def test_pool_time_never_averages_padding():
    x = torch.tensor([[[1.0], [3.0], [5.0], [0.0]], [[2.0], [100.0], [100.0], [100.0]]])
    out, ln = pool_time(x, torch.tensor([3, 1]), 2)
    assert ln.tolist() == [2, 1]
    assert out[0, :, 0].tolist() == [2.0, 5.0] and out[1, 0, 0].item() == 2.0


@pytest.mark.parametrize("k", list(ABLATIONS) + ["baseline", "audio_only"])
def test_batched_equals_per_sample_and_padding_changes_nothing(k):
    torch.manual_seed(0)
    if k == "baseline":
        m = models.create("mdat_baseline", audio_dim=8, text_dim=6, lstm_hidden=4, hidden=8, max_len=12, audio_stride=2)
    else:
        kw = dict(SMALL, use_text=False) if k == "audio_only" else dict(SMALL, **ablation_flags(k))
        m = models.create("mdat", **kw)
    m.eval()
    items, b = _batch()
    txt = k != "audio_only"
    args = lambda bb: (bb["audio"], bb["audio_lengths"]) + ((bb["text"], bb["text_lengths"]) if txt else ())
    with torch.no_grad():
        together = m(*args(b))
        alone = torch.cat([m(*args(pad_collate([it]))) for it in items])
        b2 = dict(b)
        b2["audio"], b2["text"] = b["audio"].clone(), b["text"].clone()
        for i, (la, lt) in enumerate(zip(b["audio_lengths"], b["text_lengths"])):
            b2["audio"][i, la:] = 7.0
            b2["text"][i, lt:] = -7.0
        garbage = m(*args(b2))
    assert together.shape == (3, 4)
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, garbage, atol=1e-5)


def test_crop_to_common_length_ignores_frames_beyond_it():
    torch.manual_seed(0)
    m = models.create("mdat", **SMALL).eval()                 # max_len 12 after stride 2 = 24 audio frames
    a, t = torch.randn(1, 40, 8), torch.randn(1, 30, 6)
    a2, t2 = a.clone(), t.clone()
    a2[:, 24:], t2[:, 12:] = 50.0, 50.0
    with torch.no_grad():
        assert torch.allclose(m(a, None, t, None), m(a2, None, t2, None), atol=1e-6)
    xs, ms, xt, mt = m.align(a, None, t, None)
    assert xs.shape == (1, 12, 8) and xt.shape == (1, 12, 8) and ms.all() and mt.all()


@pytest.mark.parametrize("name", ["mdat_standin", "mdat_baseline_standin", "mdat_standin_m6"])
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    m = models.create(name)
    out = m(torch.randn(2, 50, 256), torch.tensor([50, 17]), torch.randn(2, 9, 384), torch.tensor([4, 9]))
    out.sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_ablation_flags_and_parameter_counts():
    assert ablation_flags(4) == {"use_graph": False, "use_coattention": True, "use_transformer": False}
    with pytest.raises(ValueError, match="1..7"):
        ablation_flags(8)
    counts = {k: count_parameters(models.create(f"mdat_standin_m{k}")) for k in ABLATIONS}
    assert counts[1] == count_parameters(models.create("mdat_standin")) == 355972   # conv 98,560 + GA 16,512 + CA 8,320 + 2 TE 199,168 + head 33,412
    assert len(set(counts.values())) == 7
    m5 = models.create("mdat_standin_m5")
    assert m5.graph is None and m5.coatt is None and m5.encoders is not None
    assert count_parameters(models.create("mdat")) == 42510980          # XLS-R/RoBERTa-large widths
    assert count_parameters(models.create("mdat_baseline_standin")) == 428676   # 2 BiLSTMs (64 per direction) 395,264 + head 33,412


def test_bad_shapes_name_expected_and_got():
    m = models.create("mdat", **SMALL)
    with pytest.raises(ValueError, match=r"audio must be \(B, T, 8\).*\(2, 5, 7\)"):
        m(torch.randn(2, 5, 7), None, torch.randn(2, 3, 6), None)
    with pytest.raises(ValueError, match=r"text must be \(B, T, 6\)"):
        m(torch.randn(2, 5, 8), None, None, None)
