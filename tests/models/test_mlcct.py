"""MLCCT model: circulant interaction vs a direct construction, every variant's shapes and
gradients, masking (batched = per-sample), bad inputs, parameter bookkeeping."""
import pytest
import torch

from sercore import models
from sercore.models.mlcct import (ABLATIONS, TABLE8_GRID, CrossModalBlock, circulant_interaction,
                                  circulant_interaction_fft, circulant_matrix, table8_label,
                                  table8_overrides)
from sercore.train import count_parameters, pad_collate

TINY = dict(audio_dim=6, text_dim=5, lstm_hidden=4, d=6, token_dim=8, ffn_mult=1, dropout=0.0)


def _direct_circulant(v):
    """circ(v) built with loops: row i is v shifted right by i."""
    d = len(v)
    c = torch.zeros(d, d, dtype=v.dtype)
    for i in range(d):
        for j in range(d):
            c[i, j] = v[(j - i) % d]
    return c


def test_circulant_matrix_matches_loop_and_rows_are_shifts():
    v = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    c = circulant_matrix(v)[0]
    assert torch.equal(c, _direct_circulant(v[0]))
    assert c[0].tolist() == [1, 2, 3, 4] and c[1].tolist() == [4, 1, 2, 3]


@pytest.mark.parametrize("d", [1, 5, 8])
def test_circulant_interaction_matches_direct_computation(d):
    g = torch.Generator().manual_seed(d)
    v, u = torch.randn(3, d, generator=g, dtype=torch.float64), torch.randn(3, d, generator=g, dtype=torch.float64)
    for b in range(3):
        c = _direct_circulant(v[b])
        row = torch.stack([(c[i] * u[b]).sum() for i in range(d)]) / d              # Hadamard per row, sum in row
        literal = sum(c[i] * u[b] for i in range(d)) / d                            # printed Eq. (7): sum over rows
        assert torch.allclose(circulant_interaction(v, u, "row")[b], row)
        assert torch.allclose(circulant_interaction(v, u, "literal")[b], literal)
        assert torch.allclose(literal, v[b].mean() * u[b])                         # why "literal" degenerates
    assert torch.allclose(circulant_interaction_fft(v, u), circulant_interaction(v, u, "row"))


def test_circulant_known_answer():
    v, u = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[1.0, 2.0, 3.0]])
    # circ(e_0) is the identity, so A = u / d
    assert torch.allclose(circulant_interaction(v, u), u / 3)
    v2 = torch.tensor([[0.0, 1.0, 0.0]])   # rows: [0,1,0], [0,0,1], [1,0,0] -> (u1, u2, u0) / 3
    assert torch.allclose(circulant_interaction(v2, u), torch.tensor([[2.0, 3.0, 1.0]]) / 3)


def test_circulant_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, d\)"):
        circulant_interaction(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="mode"):
        circulant_interaction(torch.randn(2, 3), torch.randn(2, 3), "nope")


def _inputs(mods, b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for m in mods:
        dim = TINY[f"{m}_dim"]
        lengths = torch.tensor([7, 4, 2][:b]) if m == "audio" else torch.tensor([3, 5, 1][:b])
        out += [torch.randn(b, int(lengths.max()), dim, generator=g), lengths]
    return out


VARIANTS = [
    ("multimodal D", dict(modalities=("audio", "text"))),
    ("audio only", dict(modalities=("audio",))),
    ("text only", dict(modalities=("text",))),
    *[(f"ablation {k}", dict(modalities=("audio", "text"), **ABLATIONS[k])) for k in "AB"],
    ("literal circulant", dict(modalities=("audio", "text"), circulant="literal")),
    *[(f"table8 {r}", dict(modalities=("audio", "text"), **table8_overrides(r))) for r in TABLE8_GRID],
]


@pytest.mark.parametrize("name,cfg", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_shapes_and_gradients_of_every_variant(name, cfg):
    torch.manual_seed(0)
    m = models.create("mlcct", n_classes=5, **TINY, **cfg)
    out = m(*_inputs(cfg["modalities"]))
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    out.sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"{name}: no gradient for {missing}"


def test_variants_have_the_blocks_they_should():
    full = models.create("mlcct", **TINY)
    a = models.create("mlcct", **TINY, **ABLATIONS["A"])
    b = models.create("mlcct", **TINY, **ABLATIONS["B"])
    text = models.create("mlcct", **TINY, modalities=("text",))
    assert len(full.cross) == 2 and len(full.fusion) == 4                  # Table 8 chosen row 2/4/2/4
    assert full.cross[0].a_from_s.h == 2 and full.fusion[0].att.h == 4
    assert len(a.cross) == 0 and len(text.cross) == 0 and "audio" not in text.enc
    # strategy A differs from D by exactly its two cross-modal blocks
    blk = count_parameters(CrossModalBlock(TINY["token_dim"], 2, TINY["ffn_mult"], 0.0))
    assert count_parameters(full) - count_parameters(a) == 2 * blk
    # strategy B has the same parameters (the circulant step has none) but other low-level vectors
    assert count_parameters(full) == count_parameters(b)
    b.load_state_dict(full.state_dict())
    x = _inputs(("audio", "text"))
    va, vb = full.eval().vectors(*x), b.eval().vectors(*x)
    proj_a = full.proj["audio"](full.enc["audio"](x[0], x[1]))
    proj_s = full.proj["text"](full.enc["text"](x[2], x[3]))
    assert torch.allclose(vb["audio"], proj_a, atol=1e-6)
    assert torch.allclose(va["audio"], circulant_interaction(proj_a, proj_s), atol=1e-6)
    assert torch.allclose(va["text"], circulant_interaction(proj_s, proj_a), atol=1e-6)


def test_preset_parameter_counts():
    # the paper-sized preset (TERA 768 + RoBERTa-large 1024) and the CPU stand-in preset
    assert count_parameters(models.create("mlcct")) == 2_248_677
    assert count_parameters(models.create("mlcct_small")) == 424_053
    lstm = lambda d, h: 2 * 4 * (h * (d + h) + 2 * h)                        # noqa: E731  two directions
    m = models.create("mlcct")
    assert count_parameters(m.enc["audio"].lstm) == lstm(768, 128)
    assert count_parameters(m.enc["text"].lstm) == lstm(1024, 128)


@pytest.mark.parametrize("mods", [("audio", "text"), ("text",), ("audio",)])
def test_batched_equals_per_sample_and_padding_is_ignored(mods):
    torch.manual_seed(1)
    m = models.create("mlcct", **TINY, modalities=mods).eval()
    g = torch.Generator().manual_seed(3)
    items = []
    for i, (ta, ts) in enumerate([(7, 3), (4, 5), (2, 1)]):
        it = {"y": 0, "utt": i}
        if "audio" in mods:
            it["audio"] = torch.randn(ta, TINY["audio_dim"], generator=g)
        if "text" in mods:
            it["text"] = torch.randn(ts, TINY["text_dim"], generator=g)
        items.append(it)
    batch = pad_collate(items)
    keys = [k for mm in mods for k in (mm, f"{mm}_lengths")]
    with torch.no_grad():
        together = m(*[batch[k] for k in keys])
        alone = torch.cat([m(*[v for mm in mods for v in (it[mm][None], torch.tensor([len(it[mm])]))])
                           for it in items])
        garbage = {k: (batch[k].clone() if not k.endswith("lengths") else batch[k]) for k in keys}
        for mm in mods:
            for b, n in enumerate(batch[f"{mm}_lengths"].tolist()):
                garbage[mm][b, n:] = 1e3
        noisy = m(*[garbage[k] for k in keys])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, noisy, atol=1e-5)


def test_bad_inputs_raise_value_error():
    m = models.create("mlcct", **TINY)
    a, la, s, ls = _inputs(("audio", "text"))
    with pytest.raises(ValueError, match=r"audio must be \(B, T, 6\).*\(3, 7, 4\)"):
        m(torch.randn(3, 7, 4), la, s, ls)
    with pytest.raises(ValueError, match="takes"):
        m(a, la)
    with pytest.raises(ValueError, match="batch sizes differ"):
        m(a, la, s[:2], ls[:2])
    with pytest.raises(ValueError, match="text_lengths"):
        m(a, la, s, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="modalities"):
        models.create("mlcct", modalities=("video",))
    with pytest.raises(ValueError, match="divisible"):
        models.create("mlcct", token_dim=6, self_heads=4)
    with pytest.raises(ValueError, match="circulant"):
        models.create("mlcct", circulant="fft")


def test_table8_rows_and_presets():
    assert table8_overrides(TABLE8_GRID[3]) == dict(n_cross=2, n_self=4, cross_heads=2, self_heads=4)
    assert table8_label(TABLE8_GRID[3]).startswith("cross-modal blocks=2, self-attention blocks=4")
    assert {"mlcct", "mlcct_audio", "mlcct_text", "mlcct_meld", "mlcct_mosei", "mlcct_small"} <= set(models.available())
    assert models.preset("mlcct_mosei").n_classes == 6 and models.preset("mlcct_meld").n_classes == 7
    assert models.preset("mlcct_text").modalities == ("text",)
