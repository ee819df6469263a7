"""MCWSA-CMHA model: LTPP sizes, encoder/decoder shapes, CMHA orders, baselines, subsets, two stages."""
import numpy as np
import pytest
import torch

from sercore import models, train
from sercore.features import ltpp, ltpp_audio, TEXT_LEVELS, VIDEO_LEVELS
from sercore.models.mcwsa_cmha import (ORDERS, CMHAFusion, MCWSACMHA, MCWSAConfig, reconstruction_loss)

TINY = dict(latent_dim=8, heads=2, audio_channels=2, video_hidden=8, text_layers=1, text_ff=16, head_hidden=8,
            tfn_rank=2, dropout=0.0, audio_shape=(3, 16, 64), text_shape=(32, 12), video_shape=(32, 20))


def tiny(**kw):
    torch.manual_seed(0)
    return models.create("mcwsa_cmha", **{**TINY, **kw})


def inputs(B=3, shapes=((3, 16, 64), (32, 12), (32, 20)), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, *s, generator=g) for s in shapes]


def test_ltpp_sizes_match_the_paper():
    rng = np.random.default_rng(0)
    assert ltpp_audio(rng.standard_normal((3, 64, 500))).shape == (64, 128, 3)     # 64 x 128 x 3
    assert ltpp(rng.standard_normal((57, 300)), TEXT_LEVELS).shape == (32, 300)
    assert ltpp(rng.standard_normal((90, 2048)), VIDEO_LEVELS).shape == (32, 2048)
    short = ltpp(np.ones((5, 300)), TEXT_LEVELS)                                   # zero-padded to 16 frames
    assert short.shape == (32, 300) and short[0, 0] == pytest.approx(5 / 16)


def test_paper_preset_parameter_count_and_bn_convention():
    m = models.create("mcwsa_cmha")
    assert train.count_parameters(m) == 20_264_931
    bns = [mod for mod in m.modules() if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    assert bns and all(b.momentum == pytest.approx(0.9) and b.eps == pytest.approx(1e-5) for b in bns)
    assert m.cfg.dropout == 0.5 and m.cfg.latent_dim == 300 and m.cfg.rows == 32
    # CMHA attention modules project with d x d matrices (the paper's 300 x 300)
    mha = m.fusion.first["MTI"].x_from_y.mha
    assert tuple(mha.in_proj_weight.shape) == (3 * 300, 300) and tuple(mha.out_proj.weight.shape) == (300, 300)


def test_encoder_and_decoder_shapes_at_the_paper_input_sizes():
    m = models.create("mcwsa_cmha", latent_dim=12, heads=2, audio_channels=2, video_hidden=8, text_layers=1,
                      text_ff=16, head_hidden=8).eval()
    xs = [torch.randn(2, 3, 64, 128), torch.randn(2, 32, 300), torch.randn(2, 32, 2048)]
    with torch.no_grad():
        z = m.encode(*xs)
        assert {k: tuple(v.shape) for k, v in z.items()} == {"audio": (2, 32, 12), "text": (2, 32, 12),
                                                            "video": (2, 32, 12)}
        rec = m.reconstruct(*xs)
        assert {k: tuple(v.shape) for k, v in rec.items()} == {"audio": (2, 3, 64, 128), "text": (2, 32, 300),
                                                              "video": (2, 32, 2048)}
        assert tuple(m.fuse(*xs).shape) == (2, 32, 12)
        assert tuple(m(*xs).shape) == (2, 4)


def test_bad_shapes_raise_naming_expected():
    m = tiny().eval()
    xs = inputs()
    with pytest.raises(ValueError, match=r"text: expected \(B, 32, 12\)"):
        m(xs[0], torch.randn(3, 31, 12), xs[2])
    with pytest.raises(ValueError, match="expected 3 inputs"):
        m(xs[0], xs[1])


def test_three_fusion_orders_are_the_papers_cascades():
    assert ORDERS == {"MTI": ("audio", "text", "video"), "MIT": ("audio", "video", "text"),
                      "TIM": ("text", "video", "audio")}
    torch.manual_seed(0)
    f = CMHAFusion(("audio", "text", "video"), 8, 2, 0.0).eval()
    z = {m: torch.randn(2, 32, 8) for m in ("audio", "text", "video")}
    with torch.no_grad():
        br = f.branches(z)
        assert set(br) == {"MTI", "MIT", "TIM"}
        for name, (a, b, c) in ORDERS.items():
            # Eq. (5): CI^{ab} = Conv(concat(CI^{a->b}, CI^{b->a})); Eq. (6)-(7) with the third modality
            p = f.first[name]
            ab = p.mix([p.y_from_x(z[b], z[a]), p.x_from_y(z[a], z[b])])
            q = f.second[name]
            abc = q.mix([q.y_from_x(z[c], ab), q.x_from_y(ab, z[c])])
            assert torch.allclose(br[name], abc, atol=1e-6)
        fused = f(z)
        assert torch.allclose(fused, f.mix(list(br.values())), atol=1e-6)
        # the orders differ: swapping text and video changes the MTI branch
        z2 = dict(z, text=z["video"], video=z["text"])
        assert not torch.allclose(f.branches(z2)["MTI"], br["MTI"])


@pytest.mark.parametrize("fusion", ["cmha", "concat", "tfn", "mult"])
@pytest.mark.parametrize("mods", [("audio", "video"), ("audio", "text"), ("text", "video"),
                                  ("audio", "text", "video"), ("text",)])
def test_fusions_and_modality_subsets(fusion, mods):
    m = tiny(fusion=fusion, modalities=mods)
    shapes = {"audio": (3, 16, 64), "text": (32, 12), "video": (32, 20)}
    xs = inputs(shapes=[shapes[k] for k in mods])
    logits = m(*xs)
    assert tuple(logits.shape) == (3, 4)
    loss = logits.sum() + reconstruction_loss(m, *xs)
    loss.backward()
    for k in mods:   # every encoder receives gradient through the fusion
        g = [p.grad for p in m.encoders[k].parameters() if p.grad is not None]
        assert g and any(float(x.abs().sum()) > 0 for x in g), (fusion, mods, k)
    assert set(m.reconstruct(*xs)) == set(mods)


def test_tfn_is_an_outer_product_of_one_appended_projections():
    m = tiny(fusion="tfn", tfn_rank=2)
    assert m.fusion.out[1].in_features == 3 ** 3


def test_batched_equals_per_sample_in_eval():
    m = tiny().eval()
    xs = inputs(B=4)
    with torch.no_grad():
        full = m(*xs)
        each = torch.cat([m(*[x[i:i + 1] for x in xs]) for i in range(4)])
    assert torch.allclose(full, each, atol=1e-5)


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    feats = []
    for i in range(n):
        s = 1.0 if y[i] else -1.0
        feats.append({"audio": (rng.standard_normal((3, 16, 64)) * 0.3 + s).astype(np.float32),
                      "text": (rng.standard_normal((32, 12)) * 0.3 + s).astype(np.float32),
                      "video": (rng.standard_normal((32, 20)) * 0.3 - s).astype(np.float32)})
    return feats, y


def test_stage_one_reconstruction_loss_decreases():
    from sercore.chapters.mcwsa_cmha import pretrain

    feats, _ = _data()
    m = tiny()
    cfg = train.TrainConfig(batch_size=8, lr=3e-3, seed=0, progress=False, device="cpu")
    hist = pretrain(m, feats, np.arange(24), cfg, epochs=6)
    assert len(hist) == 6 and hist[-1]["rec_loss"] < 0.8 * hist[0]["rec_loss"]


def test_stage_two_cross_entropy_decreases_through_train_fit():
    feats, y = _data()
    m = tiny()
    cfg = train.TrainConfig(epochs=6, batch_size=8, lr=3e-3, seed=0, progress=False, device="cpu",
                            inputs=("audio", "text", "video"))
    ds = train.FeatureDataset(feats, y, np.arange(24))
    res = train.fit(m, ds, None, cfg, ["a", "b"])
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.7 * losses[0]


def test_presets_registered():
    names = models.available()
    for n in ("mcwsa_cmha", "mcwsa_concat", "mcwsa_tfn", "mcwsa_mult", "mcwsa_cmha_small"):
        assert n in names
    assert models.preset("mcwsa_mult").fusion == "mult"
    with pytest.raises(ValueError, match="fusion must be one of"):
        MCWSACMHA(MCWSAConfig(fusion="sum"))


def test_batch_norm_running_statistics_follow_the_latest_batch():
    """Regression: with PyTorch momentum 0.1 (the TF reading of the paper's 0.9) the running statistics
    lagged the weights on small data and eval-mode predictions collapsed to one class (chance UA)."""
    torch.manual_seed(0)
    m = models.create("mcwsa_cmha", modalities=("audio",), latent_dim=8, heads=2, audio_channels=2,
                      audio_blocks=1, head_hidden=4, audio_shape=(3, 8, 64), rows=32)
    bn = m.encoders["audio"].blocks[0].body[1]
    seen = {}
    bn.register_forward_hook(lambda mod, inp, out: seen.setdefault("x", inp[0].detach()))
    m.train()
    m(torch.randn(4, 3, 8, 64) + 5.0)
    batch_mean = seen["x"].mean((0, 2, 3))
    # running = (1 - 0.9) * 0 + 0.9 * batch mean after one step from the zero initialisation
    assert torch.allclose(bn.running_mean, 0.9 * batch_mean, atol=1e-5)
    assert batch_mean.abs().max() > 0.1        # the check is not vacuous
