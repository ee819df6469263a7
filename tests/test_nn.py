"""Shared blocks: masks, masked pooling, the length-aware BiLSTM."""
import torch

from sercore.nn import MaskedBiLSTM, lengths_to_mask, masked_mean, reverse_padded


def test_mask_and_masked_mean_ignore_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    mask = lengths_to_mask(torch.tensor([2, 3]))
    assert mask.tolist() == [[True, True, False], [True, True, True]]
    assert masked_mean(x, mask).squeeze(-1).tolist() == [2.0, 4.0]


def test_reverse_padded_keeps_padding_last():
    x = torch.arange(8.0).reshape(2, 4, 1)
    r = reverse_padded(x, torch.tensor([3, 4])).squeeze(-1)
    assert r.tolist() == [[2, 1, 0, 3], [7, 6, 5, 4]]


def test_bilstm_matches_packed_reference_and_per_sample():
    torch.manual_seed(0)
    m = MaskedBiLSTM(3, 5, num_layers=2).eval()
    # reference: torch's packed bidirectional LSTM with the same weights, layer by layer
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for i in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{i}").copy_(getattr(m.fwd[i], f"{name}_l0"))
                getattr(ref, f"{name}_l{i}_reverse").copy_(getattr(m.bwd[i], f"{name}_l0"))
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    with torch.no_grad():
        out = m(x, lengths)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        want, _ = torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=6)
        assert torch.allclose(out, want, atol=1e-6)
        for b in range(3):
            alone = m(x[b:b + 1, : lengths[b]], lengths[b:b + 1])
            assert torch.allclose(alone[0], out[b, : lengths[b]], atol=1e-6)
        assert out[1, 2:].abs().sum() == 0
