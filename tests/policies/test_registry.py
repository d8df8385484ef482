"""The policy registry: which deciders learn is read off one table and agrees with the classes."""

from __future__ import annotations

from edgesplit.policies.common.learner import Learner
from edgesplit.policies.registry import _class, _registry, is_learner
from edgesplit.vocabulary import STYLES


def test_the_learners_are_exactly_the_deciders_whose_class_learns():
    seen = 0
    for style in STYLES:
        for name, (entry, _) in _registry(style).items():
            assert is_learner(name) == issubclass(_class(entry), Learner), (style, name)
            seen += is_learner(name)
    assert seen >= 5  # ddp's four allocators, the window learners and the time-slot one
