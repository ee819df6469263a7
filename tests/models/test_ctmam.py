"""CTMAM (Tang et al.): exact parameter counts of the authors' release, every variant's shapes and
gradients, batched = per-sample, input validation."""
import pytest
import torch

from sercore import models
from sercore.models.ctmam import ABLATIONS, EFFICIENCY, VARIANTS, CTMAMConfig, CTMAM
from sercore.train import count_parameters


def test_release_parameter_counts_are_exact():
    # IEMOCAP release (LCT depth 3, 2 heads, 4 classes) = the paper's Table VI "Proposed" row
    assert count_parameters(models.create("ctmam")) == 1_031_674
    # Emo-DB release (depth 1, 1 head, 7 classes)
    assert count_parameters(models.create("ctmam_emodb")) == 544_361


@pytest.mark.parametrize("suffix,paper_params", [("conv_lct", 1_404_922), ("convffn_l", 10_390_522),
                                                 ("convffn_s", 2_526_202)])
def test_table6_conv_variants_match_the_paper(suffix, paper_params):
    assert count_parameters(models.create(f"ctmam_{suffix}")) == paper_params


def test_every_variant_is_registered():
    names = set(models.available())
    assert {"ctmam", "ctmam_emodb"} <= names
    for s in {**ABLATIONS, **EFFICIENCY}:
        assert f"ctmam_{s}" in names
    assert len(ABLATIONS) == 6 and len(EFFICIENCY) == 10


@pytest.mark.parametrize("suffix", [s for s in VARIANTS if s != "convffn_l"] + ["convffn_l"])
def test_variant_forward_shape_and_gradients(suffix):
    torch.manual_seed(0)
    m = models.create(f"ctmam_{suffix}" if suffix else "ctmam_emodb", n_classes=3)
    out = m(torch.randn(2, 26, 57))
    assert out.shape == (2, 3)
    out.square().sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no/invalid gradient for {missing}"


def test_ablations_remove_what_they_say():
    full = models.create("ctmam")
    assert models.create("ctmam_no_tsa").time_gate is None and models.create("ctmam_no_tsa").shuffle is None
    no_lstm = models.create("ctmam_no_lstm")
    assert no_lstm.time_gate is None and no_lstm.shuffle is not None
    assert len(models.create("ctmam_no_lct").blocks) == 0
    assert models.create("ctmam_no_ca").blocks[0].attn.ca is None
    # removing SE removes exactly the SE parameters: 2 convs 128<->32 and their BNs
    assert count_parameters(full) - count_parameters(models.create("ctmam_no_se")) == 3 * (2 * 128 * 32 + 64 + 256)


def test_batched_equals_per_sample_and_both_input_layouts():
    torch.manual_seed(0)
    m = models.create("ctmam", n_classes=4).eval()
    x = torch.randn(3, 26, 57)
    with torch.no_grad():
        together = m(x)
        alone = torch.cat([m(x[i:i + 1]) for i in range(3)])
        four_d = m(x.unsqueeze(1))
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, four_d)


def test_attention_uses_the_relative_position_bias():
    torch.manual_seed(0)
    m = models.create("ctmam_emodb").eval()
    x = torch.randn(2, 26, 57)
    with torch.no_grad():
        a = m(x)
        m.rel_pos.add_(torch.randn_like(m.rel_pos) * 3)
        b = m(x)
    assert m.rel_pos.shape == (1, 6 * 14, 3 * 7)
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("shape", [(2, 40, 57), (2, 26, 80), (2, 2, 26, 57), (26, 57), (2, 1, 1, 26, 57)])
def test_bad_shape_raises(shape):
    m = models.create("ctmam_emodb")
    with pytest.raises(ValueError, match="26"):
        m(torch.randn(*shape))


def test_bad_config_raises():
    with pytest.raises(ValueError, match="mixer"):
        CTMAM(CTMAMConfig(mixer="rnn"))
    with pytest.raises(ValueError, match="lstm_hidden"):
        CTMAM(CTMAMConfig(lstm_hidden=4))


def test_readings_are_written_once_in_the_docstring():
    text = models.readings("ctmam")
    for topic in ("Metric (Eq. 25)", "Attention scale", "Token layout", "Split", "Segmentation",
                  "Corpus of Tables V and VI", "W/Transformer and MobileViT"):
        assert f"**{topic}" in text
    assert "3,912 short" in text
