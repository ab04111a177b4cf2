"""Tasks (SPEC section 2): labels on hand-made sequences, lengths, streams, reproducibility."""

from __future__ import annotations

import pytest
import torch

from rnn_timescales.tasks import IGNORE, get_task, sequence_length


def seqs(*rows: str) -> torch.Tensor:
    """Hand-written sequences '0110...' -> x (time, batch)."""
    return torch.tensor([[float(c) for c in r] for r in rows]).t()


def test_parity_labels_by_hand():
    x = seqs("0010110", "1111111", "0000001")
    ns = torch.tensor([2, 3, 5])
    # last 2 / 3 / 5 inputs: "10"->1, "110"->0, "10110"->1; "11"->0, "111"->1, "11111"->1; "01"->1, "001"->1, "00001"->1
    assert get_task("parity").labels(x, ns).tolist() == [[1, 0, 1], [0, 1, 1], [1, 1, 1]]


def test_dms_labels_by_hand():
    x = seqs("0010110", "1011101")
    ns = torch.tensor([2, 3, 4, 7])
    # row 0 = 0 0 1 0 1 1 0: x_M = 0; N=2 -> x_6=1 -> 0; N=3 -> x_5=1 -> 0; N=4 -> x_4=0 -> 1; N=7 -> x_1=0 -> 1
    # row 1 = 1 0 1 1 1 0 1: x_M = 1; N=2 -> 0 -> 0; N=3 -> 1 -> 1; N=4 -> 1 -> 1; N=7 -> 1 -> 1
    assert get_task("dms").labels(x, ns).tolist() == [[0, 0, 1, 1], [0, 1, 1, 1]]


@pytest.mark.parametrize("name", ["parity", "dms"])
def test_stream_labels_match_end_of_sequence_labels(name):
    task = get_task(name)
    g = torch.Generator().manual_seed(0)
    batch = task.stream([2, 3, 6], length=40, n_streams=3, generator=g)
    x = batch.inputs[..., 0]
    ns = torch.tensor([2, 3, 6])
    for t in range(40):
        want = task.labels(x[: t + 1], ns) if t + 1 >= 6 else None
        got = batch.targets[t]
        if want is not None:
            assert torch.equal(got, want)
        else:
            assert torch.all(got[:, 2] == -1)  # N = 6 has no full window yet


def test_sequence_length_distribution():
    g = torch.Generator().manual_seed(0)
    for n_max in (2, 5, 20):
        draws = torch.tensor([sequence_length(n_max, g) for _ in range(4000)])
        low, high = n_max + 2, n_max + 2 + 3 * n_max  # high exclusive
        assert draws.min() == low and draws.max() == high - 1
        counts = torch.bincount(draws - low, minlength=high - low).double()
        assert counts.min() > 0.6 * counts.mean()  # roughly uniform over every value


def test_parity_inputs_have_per_sequence_rate_and_dms_balanced():
    g = torch.Generator().manual_seed(1)
    x = get_task("parity").draw_inputs(2000, 64, g, torch.device("cpu"))
    rates = x.mean(0)
    assert rates.std() > 0.2  # p ~ U(0,1) per sequence: std of U(0,1) is 0.29
    y = get_task("dms").draw_inputs(2000, 64, g, torch.device("cpu"))
    assert abs(y.mean().item() - 0.5) < 0.01 and y.mean(0).std() < 0.03


def test_batches_are_reproducible_and_shaped():
    task = get_task("parity")
    a = task.sample({"ns": [2, 3, 4]}, 16, torch.Generator().manual_seed(5))
    b = task.sample({"ns": [2, 3, 4]}, 16, torch.Generator().manual_seed(5))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    T = a.inputs.shape[0]
    assert a.inputs.shape[1:] == (16, 1) and a.targets.shape == (T, 16, 3) and a.final_only
    assert (a.targets[:-1] == IGNORE).all() and (a.final_targets >= 0).all()
    assert 6 <= a.inputs.shape[0] < 6 + 12


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="choose one of parity, dms"):
        get_task("parrity")
