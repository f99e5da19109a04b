"""Where event groups run: in this process, in a process pool, or on a Dask cluster; results in task order.

With `[backtest] kill_switch_scope = "run"` a trip halts the rest of the run in group order, as one process
replaying the groups one after another would: groups after a trip are replayed again starting from the
tripped switch (they are independent of each other then, so they still run in parallel)."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from typing import Protocol

from app.grouprun import GroupResult, GroupTask, run_group
from core.errors import UserError

Done = Callable[[GroupTask, GroupResult], None] | None  # told of each group and its result as it finishes
DASK_CONNECT_TIMEOUT = "5s"  # to reach a scheduler before giving up


class Runner(Protocol):
    """Runs group tasks somewhere and returns their results in task order."""

    def map(self, tasks: list[GroupTask], done: Done = None) -> list[GroupResult]:
        """Every task's result, in the order of the tasks; done(task, result) as each one finishes."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


class InProcess:
    """`--workers 1`: the groups one after another in this process."""

    name = "in process"

    def map(self, tasks: list[GroupTask], done: Done = None) -> list[GroupResult]:
        """Replay each group here."""
        results = []
        for task in tasks:
            results.append(run_group(task))
            if done is not None:
                done(task, results[-1])
        return results

    def close(self) -> None:
        """Nothing to release."""


class ProcessPool:
    """`--workers N`: a pool of N processes (forked where the platform allows: no re-import per worker)."""

    def __init__(self, workers: int) -> None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
        self.name = f"{workers} worker processes"

    def map(self, tasks: list[GroupTask], done: Done = None) -> list[GroupResult]:
        """Replay the groups in the pool; a worker that dies fails its group only (named in the result)."""
        futures = {self.pool.submit(run_group, tasks[i]): i for i in largest_first(tasks)}
        results: dict[int, GroupResult] = {}
        for future in as_completed(futures):  # on this thread, as each group finishes
            index = futures[future]
            results[index] = _result(tasks[index], future.result)
            if done is not None:
                done(tasks[index], results[index])
        return [results[i] for i in range(len(tasks))]

    def close(self) -> None:
        """Stop the processes."""
        self.pool.shutdown(cancel_futures=True)


class DaskRunner:
    """`--dask ADDRESS` (a running scheduler) or `--dask local` (a LocalCluster started here)."""

    def __init__(self, address: str, workers: int | None) -> None:
        from distributed import Client, LocalCluster

        # distributed sets its loggers to INFO when imported: follow --log-level as every other logger does
        logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
        self.cluster = None
        if address == "local":
            self.cluster = LocalCluster(
                n_workers=workers or default_workers(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,  # the cluster's INFO lines are not the run's
            )
            self.client = Client(self.cluster)
            self.name = f"a local Dask cluster of {len(self.cluster.workers)} workers"
            return
        if "://" not in address:
            raise UserError(f"--dask {address!r}: give a scheduler address such as tcp://HOST:8786, or 'local'")
        try:
            self.client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"--dask {address}: cannot reach a Dask scheduler there ({exc})") from None
        self.name = f"the Dask scheduler at {address}"

    def map(self, tasks: list[GroupTask], done: Done = None) -> list[GroupResult]:
        """Replay the groups on the cluster's workers (they read the recordings by path)."""
        from distributed import as_completed as dask_completed

        order = largest_first(tasks)
        futures = dict(zip(self.client.map(run_group, [tasks[i] for i in order], pure=False), order, strict=True))
        results: dict[int, GroupResult] = {}
        # each result is gathered once, as its group finishes; a failed one comes as (type, exception, traceback)
        for future, value in dask_completed(list(futures), with_results=True, raise_errors=False):
            index = futures[future]
            results[index] = value if isinstance(value, GroupResult) else _failed(tasks[index], value)
            if done is not None:
                done(tasks[index], results[index])
        return [results[i] for i in range(len(tasks))]

    def close(self) -> None:
        """Disconnect (and stop a local cluster)."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def group_bytes(task: GroupTask) -> int:
    """The size of a group's recordings on disk (what the progress bar counts)."""
    return sum(os.path.getsize(p) for p in task.paths if os.path.exists(p))


def largest_first(tasks: list[GroupTask]) -> list[int]:
    """Task indices by the size of their recordings, largest first: the longest group does not start last."""

    return sorted(range(len(tasks)), key=lambda i: -group_bytes(tasks[i]))


def _result(task: GroupTask, get) -> GroupResult:
    try:
        return get()
    except Exception as exc:  # noqa: BLE001 - the worker itself died or could not be reached
        return _failed(task, exc)


def _failed(task: GroupTask, exc) -> GroupResult:
    """The result of a group whose worker died or could not be reached (exc: an exception, or Dask's triple)."""
    if isinstance(exc, tuple):
        exc = exc[1]
    return GroupResult(task.key, task.paths, start_state=task.switch_state, error=f"{type(exc).__name__}: {exc}")


def default_workers() -> int:
    """The machine's cores (those this process may use)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def make_runner(workers: int | None, dask: str | None, groups: int) -> Runner:
    """The runner the command line asks for: Dask, else a pool of `workers` (default: the cores, at most one per
    group); one worker (or one group) runs in this process."""
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: give 1 or more")
    if dask:
        return DaskRunner(dask, workers)
    count = min(workers or default_workers(), groups)
    return InProcess() if count <= 1 else ProcessPool(count)


def run_groups(runner: Runner, tasks: list[GroupTask], scope: str, done: Done = None) -> list[GroupResult]:
    """Every group's result in group order; scope "run": a trip carries into the groups after it. done(task, result)
    as each group finishes (a group replayed again after a trip is told again)."""
    return run_batches(runner, [tasks], scope, done)[0]


def run_batches(
    runner: Runner, batches: list[list[GroupTask]], scope: str, done: Done = None
) -> list[list[GroupResult]]:
    """Several runs' groups (a sweep's combinations) on the runner at once; each batch's results in group order,
    and with scope "run" a trip carries into the later groups of its own batch only."""
    results = runner.map([task for batch in batches for task in batch], done)
    out, start = [], 0
    for batch in batches:
        mine, start = results[start : start + len(batch)], start + len(batch)
        out.append(_carry_trips(runner, batch, mine, done) if scope == "run" else mine)
    return out


def _carry_trips(runner: Runner, tasks: list[GroupTask], results: list[GroupResult], done: Done) -> list[GroupResult]:
    """Replay again, from the tripped switch, the groups after a trip that started from another state."""
    carry: dict | None = None
    for index in range(len(tasks)):
        if results[index].start_state != carry:
            results[index:] = runner.map([replace(task, switch_state=carry) for task in tasks[index:]], done)
        if results[index].error is None:
            carry = results[index].end_state
    return results
