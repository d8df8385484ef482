"""Sweeps: one function over many tasks (seeds x scenarios x policies), in worker processes on
this machine (joblib's loky, the default) or on a Ray cluster (``backend="ray"``, the optional
extra ``pip install edgesplit[ray]``: the cluster at ``RAY_ADDRESS``, or a local Ray instance
started for the sweep and stopped after it).

A task is a plain dict of parameters and its function a module-level function of it, seeded by
the task's own ``seed``: a result depends on its task alone, so a sweep gives the same results,
in the order of its tasks, whichever backend and however many workers ran it (tested). A task
that fails stops the sweep with an error naming the task.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

from edgesplit.checks import whole_number
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.progress import bar

BACKENDS = ("local", "ray")

Task = dict[str, Any]


class SweepError(EdgesplitError):
    """A task of a sweep failed; the message names the task and the error."""


class _Named:
    """``function(task)``, its failure re-raised as a SweepError naming the task (a picklable
    object, so that every backend can ship it to its workers)."""

    def __init__(self, function: Callable[[Task], Any]) -> None:
        self.function = function

    def __call__(self, task: Task) -> Any:
        try:
            return self.function(task)
        except Exception as error:
            raise SweepError(f"task {task} failed: {type(error).__name__}: {error}") from None


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InvalidParameterError("backend", backend, f"one of {', '.join(BACKENDS)}")


def run_sweep(
    function: Callable[[Task], Any],
    tasks: Iterable[Task],
    workers: int = 1,
    backend: str = "local",
    show_progress: bool = True,
) -> list[Any]:
    """``[function(task) for task in tasks]``, run by ``workers`` processes of ``backend``."""
    check_backend(backend)
    whole_number("workers", workers, 1)
    tasks = list(tasks)
    named = _Named(function)
    with bar("sweep", len(tasks), "tasks", show_progress, transient=True) as progress:
        done = progress.advance
        if backend == "ray":
            return _on_ray(named, tasks, workers, done)
        return _on_loky(named, tasks, workers, done)


def _on_loky(named: _Named, tasks: list[Task], workers: int, done: Callable) -> list[Any]:
    results = []
    if workers == 1:  # no worker process to start
        for task in tasks:
            results.append(named(task))
            done()
        return results
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    for result in parallel(delayed(named)(task) for task in tasks):
        results.append(result)
        done()
    return results


RAY_CONNECT_S = 3.0  # how long a cluster's address may take to accept a connection


def _check_answers(address: str | None) -> None:
    """A cluster address (``host:port`` or ``ray://host:port``) that accepts no TCP connection
    within ``RAY_CONNECT_S`` is refused in one line (Ray itself retries for minutes behind its
    log lines); ``auto``, ``local`` and no address are Ray's to resolve."""
    if not address or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InvalidParameterError("RAY_ADDRESS", address, "HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), RAY_CONNECT_S).close()
    except OSError as error:
        why = error.strerror or "no answer"
        raise InvalidParameterError(
            "RAY_ADDRESS", address, f"a Ray cluster that answers ({why} within {RAY_CONNECT_S} s)"
        ) from None


def _call(named: _Named, task: Task) -> Any:
    """A task on a Ray worker (Ray runs functions, not callable objects)."""
    return named(task)


def _on_ray(named: _Named, tasks: list[Task], workers: int, done: Callable) -> list[Any]:
    try:
        import ray
    except ImportError:
        raise InvalidParameterError(
            "backend", "ray", "installed first: pip install 'edgesplit[ray]'"
        ) from None
    started = not ray.is_initialized()
    if started:
        address = os.environ.get("RAY_ADDRESS")
        _check_answers(address)
        ray.init(
            address=address, num_cpus=None if address else workers, include_dashboard=False,
            log_to_driver=False, configure_logging=False,
        )  # fmt: skip
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        pending = [remote.remote(named, task) for task in tasks]
        order = {ref: i for i, ref in enumerate(pending)}
        results: list[Any] = [None] * len(tasks)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                results[order[ready[0]]] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as error:  # the task's SweepError, wrapped
                raise SweepError(str(error.cause)) from None
            done()
        return results
    finally:
        if started:
            ray.shutdown()
