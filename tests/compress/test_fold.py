"""BatchNorm folding against the unfolded model: the same outputs (to float rounding) with no
BatchNorm left where every one follows a layer; untouched where folding would change the
function (training mode, batch statistics, a layer read twice) or where a cut separates the
pair; the module given unchanged."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import fx, nn

from edgesplit.compress.accuracy import digits_model
from edgesplit.compress.fold import fold_batchnorm
from edgesplit.graph import ModelGraph
from edgesplit.graph.split import split

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _norms(module: nn.Module) -> int:
    return sum(isinstance(m, NORMS) for m in module.modules())


def _random_statistics(model: nn.Module, seed: int) -> nn.Module:
    """Running statistics and affine parameters away from their initial 0, 1 (weights=None)."""
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, NORMS):
            m.running_mean.normal_(0.0, 0.5, generator=generator)
            m.running_var.uniform_(0.5, 2.0, generator=generator)
            m.weight.data.uniform_(0.5, 1.5, generator=generator)
            m.bias.data.normal_(0.0, 0.2, generator=generator)
    return model.eval()


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_every_batchnorm_after_a_convolution_folds_and_the_outputs_stay(name):
    model = _random_statistics(getattr(torchvision.models, name)(weights=None), seed=1)
    traced = fx.symbolic_trace(model)
    folded, count = fold_batchnorm(traced)
    assert count == _norms(model) and _norms(folded) == 0
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = model(x), folded(x)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    assert _norms(traced) == _norms(model)  # the traced module still has its own
    with torch.no_grad():
        assert torch.equal(traced(x), expected)


def test_the_shipped_digits_model_keeps_its_predictions():
    model, data = digits_model()
    folded, count = fold_batchnorm(fx.symbolic_trace(model))
    assert count == 3 and _norms(folded) == 0
    with torch.no_grad():
        expected, got = model(data.x_test), folded(data.x_test)
    assert (got - expected).abs().max().item() < 1e-4
    assert torch.equal(got.argmax(1), expected.argmax(1))


class _Shared(nn.Module):
    """A convolution read by its BatchNorm and by a skip: folding would change the skip."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)
        self.plain = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))

    def forward(self, x):
        y = self.conv(x)
        return self.norm(y) + y, self.plain(x.mean((1, 2)))


def test_only_pairs_that_fold_exactly_are_folded():
    model = _random_statistics(_Shared(), seed=3)
    folded, count = fold_batchnorm(fx.symbolic_trace(model))
    assert count == 1  # the Linear + BatchNorm1d pair; the shared convolution stays
    assert [type(m) for m in folded.modules() if isinstance(m, NORMS)] == [nn.BatchNorm2d]
    x = torch.randn(4, 3, 4, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        for a, b in zip(model(x), folded(x), strict=True):
            assert torch.allclose(a, b, atol=1e-5)
    training = fx.symbolic_trace(model).train()
    assert fold_batchnorm(training)[1] == 0  # batch statistics: nothing to fold
    batch_stats = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, track_running_stats=False))
    assert fold_batchnorm(fx.symbolic_trace(batch_stats.eval()))[1] == 0


def test_halves_fold_apart_and_a_cut_between_a_pair_keeps_both():
    """Every cut of resnet18: head and tail folded give the unsplit output; the pairs folded in
    the two halves are all the model's but those whose convolution is on the device and whose
    BatchNorm is on the server."""
    model = _random_statistics(torchvision.models.resnet18(weights=None), seed=5)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    graph = ModelGraph.from_module(model, x, "operator")
    with torch.no_grad():
        expected = model(x)
    pairs = {
        n.name: n.args[0].name
        for n in graph.module.graph.nodes
        if n.op == "call_module" and isinstance(graph.module.get_submodule(n.target), NORMS)
    }
    separated_somewhere = False
    for cut in graph.cuts()[::7]:
        head, tail = split(model, graph, cut)
        head_names = {n.name for n in head.graph.nodes}
        tail_names = {n.name for n in tail.graph.nodes}
        separated = sum(c in head_names and b in tail_names and b not in head_names
                        for b, c in pairs.items())  # fmt: skip
        separated_somewhere |= separated > 0
        (folded_head, in_head), (folded_tail, in_tail) = fold_batchnorm(head), fold_batchnorm(tail)
        assert in_head + in_tail == len(pairs) - separated, cut.index
        with torch.no_grad():
            got = folded_tail(*folded_head(x))
        assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    assert separated_somewhere
