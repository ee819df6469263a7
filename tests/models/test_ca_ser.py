"""CA-SER model: shapes, masking, both modes, layer-9 selection on a tiny random wav2vec 2.0."""
import numpy as np
import pytest
import torch

from sercore import models
from sercore.models.ca_ser import CASER, CASERConfig

TINY = dict(lstm_hidden=8, lstm_layers=1, d_model=16, sa_layers=1, sa_heads=2, sa_ff=32, ca_heads=2,
            ca_dim=16, ffn_dim=32, dropout=0.1, n_classes=4)


def tiny_wav2vec2(folder, norm="layer"):
    """A random 10-layer wav2vec 2.0 (hidden 32, CNN stride 20) saved with save_pretrained."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=10, num_attention_heads=2, intermediate_size=48,
                         conv_dim=(16, 16, 16), conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3),
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                         feat_extract_norm=norm, vocab_size=8)
    Wav2Vec2Model(cfg).save_pretrained(folder)
    return str(folder)


def test_tiny_checkpoint_has_layerdrop():
    from transformers import Wav2Vec2Config
    assert Wav2Vec2Config().layerdrop > 0                          # so the model must switch it off (below)


@pytest.fixture(scope="module")
def w2v_dir(tmp_path_factory):
    return tiny_wav2vec2(tmp_path_factory.mktemp("w2v"))


def _frozen_batch(b=3, t_w=(20, 13, 7), t_m=(37, 25, 14), dim=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    ssl = torch.randn(b, max(t_w), dim, generator=g)
    mfcc = torch.randn(b, max(t_m), 40, generator=g)
    return ssl, torch.tensor(t_w), mfcc, torch.tensor(t_m)


def test_frozen_shapes_and_embedding():
    torch.manual_seed(0)
    m = CASER(CASERConfig(ssl_dim=24, **TINY)).eval()
    ssl, lw, mfcc, lm = _frozen_batch()
    fast = m(ssl, lw, mfcc, lm)
    m.fusion.keep_attention = True                                  # explicit weights: same result
    logits, emb = m(ssl, lw, mfcc, lm, return_embedding=True)
    assert torch.allclose(fast, logits, atol=1e-5)
    assert logits.shape == (3, 4) and emb.shape == (3, 16)
    assert torch.allclose(m.head(emb), logits, atol=1e-6)          # the embedding is what the classifier sees
    assert m.fusion.last_attention.shape == (3, 2, 37, 20)          # (B, heads, T_m queries, T_w keys)
    # no SSL key beyond its length gets attention
    assert float(m.fusion.last_attention[2, :, :, 7:].abs().max()) == 0.0


def test_frozen_batched_equals_per_sample():
    torch.manual_seed(0)
    m = CASER(CASERConfig(ssl_dim=24, **TINY)).eval()
    ssl, lw, mfcc, lm = _frozen_batch()
    with torch.no_grad():
        batched = m(ssl, lw, mfcc, lm)
        for i in range(3):
            one = m(ssl[i:i + 1, : lw[i]], lw[i:i + 1], mfcc[i:i + 1, : lm[i]], lm[i:i + 1])
            assert torch.allclose(batched[i], one[0], atol=1e-5), i
        # changing padding content changes nothing
        ssl2, mfcc2 = ssl.clone(), mfcc.clone()
        ssl2[2, 7:] = 100.0
        mfcc2[2, 14:] = -50.0
        assert torch.allclose(m(ssl2, lw, mfcc2, lm), batched, atol=1e-5)


def test_bad_shapes_raise():
    m = CASER(CASERConfig(ssl_dim=24, **TINY))
    ssl, lw, mfcc, lm = _frozen_batch()
    with pytest.raises(ValueError, match=r"mfcc must be \(B, T_m, 40\)"):
        m(ssl, lw, mfcc[..., :13], lm)
    with pytest.raises(ValueError, match=r"SSL states \(B, T_w, 24\)"):
        m(ssl[..., :10], lw, mfcc, lm)
    with pytest.raises(ValueError, match="batch sizes differ"):
        m(ssl[:2], lw[:2], mfcc, lm)
    with pytest.raises(ValueError, match="divisible"):
        CASERConfig(d_model=30, sa_heads=4)
    with pytest.raises(ValueError, match="finetune mode needs"):
        CASER(CASERConfig(mode="finetune", **TINY))


def test_frozen_backward_reaches_every_parameter():
    torch.manual_seed(0)
    m = CASER(CASERConfig(ssl_dim=24, **TINY)).train()
    ssl, lw, mfcc, lm = _frozen_batch()
    torch.nn.functional.cross_entropy(m(ssl, lw, mfcc, lm), torch.tensor([0, 1, 2])).backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_parameter_counts():
    # the paper-size head (what frozen mode trains) on wav2vec 2.0 base states and on the GE2E stand-in
    with torch.device("meta"):                                      # shapes only: no memory, no init time
        assert sum(p.numel() for p in models.create("ca_ser").parameters()) == 10_731_780
        assert sum(p.numel() for p in models.create("ca_ser_ge2e").parameters()) == 10_469_636
    # the paper's model: random wav2vec 2.0 base from its config (no download) + head ≈ 105 M (paper: "108 M")
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    with torch.device("meta"):                                      # shapes only: no memory, no init time
        full = CASER(CASERConfig(mode="finetune"), encoder=Wav2Vec2Model(Wav2Vec2Config()))
    assert sum(p.numel() for p in full.encoder.parameters()) == 94_371_712
    assert sum(p.numel() for p in full.parameters()) == 105_103_492
    assert full.head_parameters() == 10_731_780


def _waves(lengths=(8000, 5600, 3200), seed=0):
    rng = np.random.default_rng(seed)
    w = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        w[i, :n] = torch.from_numpy(rng.standard_normal(n).astype(np.float32) * 0.1)
    return w, torch.tensor(lengths)


def test_layer9_selection_matches_hf_and_the_frozen_extractor(w2v_dir):
    from transformers import AutoModel

    from sercore.features.encoders import SSLAudioEncoder

    m = CASER(CASERConfig(mode="finetune", encoder=w2v_dir, ssl_layer=9, **TINY)).eval()
    wave, n = _waves((8000,))
    states, frames = m.encode_waveform(wave, n)
    ref = AutoModel.from_pretrained(w2v_dir).eval()
    x = (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-7)
    with torch.no_grad():
        hs = ref(x, output_hidden_states=True).hidden_states
    assert len(hs) == 11                                            # 10 layers + the input of the first
    assert states.shape == (1, 399, 32) and int(frames[0]) == 399  # (8000 - 10)//5+1 -> //2 ... = 399 frames
    assert torch.allclose(states, hs[9], atol=1e-5)
    assert not torch.allclose(states, hs[10], atol=1e-3)
    assert not torch.allclose(states, hs[8], atol=1e-3)
    # frozen mode's features (the ssl extractor with layer=9) are the same states
    enc = SSLAudioEncoder(w2v_dir, layer=9)
    assert np.allclose(enc(wave[0].numpy()), states[0].detach().numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="ssl_layer must be in 0..10"):
        CASER(CASERConfig(mode="finetune", encoder=w2v_dir, ssl_layer=11, **TINY))


def test_finetune_forward_backward(w2v_dir):
    torch.manual_seed(0)
    m = CASER(CASERConfig(mode="finetune", encoder=w2v_dir, **TINY)).train()
    # LayerDrop would shift hidden_states[9] to a higher layer whenever a lower one is skipped
    assert m.encoder.config.layerdrop == 0.0 and not m.encoder.config.apply_spec_augment
    wave, n = _waves()
    mfcc = torch.randn(3, 51, 40)
    lm = torch.tensor([51, 36, 21])
    logits = m(wave, n, mfcc, lm)
    assert logits.shape == (3, 4)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 3])).backward()
    enc = m.encoder
    assert all(p.grad is None for p in enc.feature_extractor.parameters())      # CNN frozen
    assert not any(p.requires_grad for p in enc.feature_extractor.parameters())
    assert enc.encoder.layers[8].attention.q_proj.weight.grad is not None        # 9th layer trains
    assert enc.encoder.layers[9].attention.q_proj.weight.grad is None            # 10th is above layer 9
    assert m.ssl_proj.weight.grad is not None and m.head.weight.grad is not None


def test_finetune_batched_equals_per_sample(w2v_dir):
    torch.manual_seed(0)
    m = CASER(CASERConfig(mode="finetune", encoder=w2v_dir, **TINY)).eval()
    wave, n = _waves()
    mfcc = torch.randn(3, 51, 40)
    lm = torch.tensor([51, 36, 21])
    with torch.no_grad():
        batched = m(wave, n, mfcc, lm)
        for i in range(3):
            one = m(wave[i:i + 1, : n[i]], n[i:i + 1], mfcc[i:i + 1, : lm[i]], lm[i:i + 1])
            assert torch.allclose(batched[i], one[0], atol=1e-4), i
