"""Dynamic batching of tails, as Triton's dynamic batcher does it: requests for the same tail
(model, cut, thread count, and the shapes past the batch dimension and dtypes of what they
send) that arrive within ``delay_s`` of the first run as one batch of at most ``max_rows`` rows
(the first dimension, summed), on one lane; each request gets its own rows of the outputs back
as its own reply.

The first request of a batch leads it: it waits until the batch is full or ``delay_s`` has
passed, closes it (a later request opens the next), concatenates the tensors, runs them through
``execute`` (the server's admission and lanes) and splits the outputs. A batch the tail refuses
(or whose outputs do not split by rows) runs again request by request, so that one malformed
request costs the others nothing. A request alone, or larger than ``max_rows``, runs as it came.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import Any

from edgesplit.errors import EdgesplitError
from edgesplit.runtime.wire import REPLY, REQUEST, Message, pack, unpack

# (request, threads, seconds it may wait for a lane) -> the lane's answer (status, body, times);
# it never raises: a shed, an expired wait or a dead lane is an answer too
Execute = Callable[[bytes, int, float], Any]


@dataclass
class _Item:
    request: bytes
    message: Message
    rows: int
    arrived_s: float
    done: threading.Event = field(default_factory=threading.Event)
    answer: Any = None  # what ``execute`` gave, for this request's rows
    waited_s: float = 0.0  # in the batch, before it ran
    size: int = 1  # requests in the batch it ran in


@dataclass
class _Batch:
    items: list[_Item]
    full: threading.Event = field(default_factory=threading.Event)

    @property
    def rows(self) -> int:
        return sum(item.rows for item in self.items)


class Batcher:
    """Batches of one server (see the module notes)."""

    def __init__(
        self, max_rows: int, delay_s: float, execute: Execute, ok: int, max_bytes: int
    ) -> None:
        self.max_rows, self.delay_s, self.execute, self.ok = max_rows, delay_s, execute, ok
        self.max_bytes = max_bytes  # the largest request a lane takes
        self.lock = threading.Lock()
        self.open: dict[tuple, _Batch] = {}

    def submit(
        self, request: bytes, message: Message, threads: int, budget_s: float
    ) -> tuple[Any, float, int]:
        """Run ``request`` (already checked: ``message``) in a batch: the lane's answer for its
        rows, the seconds it waited for its batch to fill, and the batch's request count
        (``budget_s``: how long it may wait for a lane, the batch's leader's)."""
        tensors = message.tensors
        rows = int(tensors[0].shape[0]) if tensors and tensors[0].dim() else 0
        item = _Item(request, message, rows, perf_counter())
        if (
            not rows
            or rows >= self.max_rows
            or any(t.dim() == 0 or t.shape[0] != rows for t in tensors)
        ):  # nothing to batch along
            return self.execute(request, threads, budget_s), 0.0, 1
        key = (
            message.model_id, message.cut_id, threads,
            tuple((tuple(t.shape[1:]), t.dtype) for t in tensors),
        )  # fmt: skip
        with self.lock:
            batch = self.open.get(key)
            leader = batch is None
            if batch is None:
                batch = self.open[key] = _Batch([item])
            else:
                batch.items.append(item)
            if batch.rows >= self.max_rows:
                del self.open[key]
                batch.full.set()
        if not leader:
            item.done.wait()
            return item.answer, item.waited_s, item.size
        batch.full.wait(self.delay_s)
        with self.lock:
            if self.open.get(key) is batch:
                del self.open[key]
        self._run(batch, threads, budget_s)
        return item.answer, item.waited_s, item.size

    def _run(self, batch: _Batch, threads: int, budget_s: float) -> None:
        import torch

        started = perf_counter()
        items = batch.items
        for item in items:
            item.waited_s, item.size = started - item.arrived_s, len(items)
        try:
            if len(items) == 1:
                items[0].answer = self.execute(items[0].request, threads, budget_s)
                return
            first = items[0].message
            try:
                joined = [
                    torch.cat([item.message.tensors[j] for item in items])
                    for j in range(len(first.tensors))
                ]
                request = pack(REQUEST, first.model_id, first.cut_id, 0, joined, threads=threads)
                parts = None
                if len(request) <= self.max_bytes:  # else one by one, as they came
                    answer = self.execute(request, threads, budget_s)
                    parts = self._split(answer, [item.rows for item in items])
            except EdgesplitError:
                parts = None
            if parts is None:  # refused, or not split by rows: each request on its own
                for item in items:
                    item.answer = self.execute(item.request, threads, budget_s)
                return
            for item, outputs in zip(items, parts, strict=True):
                m = item.message
                body = pack(REPLY, m.model_id, m.cut_id, m.request_id, outputs)
                item.answer = replace(answer, body=body)
        finally:
            for item in items:
                item.done.set()

    def _split(self, answer: Any, rows: list[int]) -> list[list[Any]] | None:
        """Each request's rows of the batch's outputs (None: the batch failed, or an output
        does not have the batch's rows first)."""
        import torch

        if answer.status != self.ok:
            return None
        outputs = unpack(answer.body).tensors
        if any(t.dim() == 0 or t.shape[0] != sum(rows) for t in outputs):
            return None
        pieces = [torch.split(t, rows) for t in outputs]
        return [[piece[i].contiguous() for piece in pieces] for i in range(len(rows))]
