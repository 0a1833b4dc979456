"""PDF rendering in child processes, bounded in time and memory, never in a request.

WeasyPrint is CPU-bound Python: in the server's process it would take the GIL from the
requests being served, and a pathological document could take its memory for good. So
renders run in a small pool of spawned processes (spawned, not forked: the parent has
threads), each child capped with RLIMIT_AS, and a render that overruns its time has its
child killed. One FontConfiguration lives in each child and is reused across renders.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from service.render.pdf import PdfMetadata, RenderedPdf, render_document


@dataclass(frozen=True)
class RenderJob:
    html: str
    metadata: PdfMetadata


@dataclass(frozen=True)
class RenderResult:
    """A PDF, or why there is none; `transient` failures are worth another attempt."""

    pdf: RenderedPdf | None = None
    error: str | None = None
    transient: bool = False


@dataclass(frozen=True)
class PoolLimits:
    processes: int
    memory_mb: int
    timeout_seconds: float


def _limit_memory(memory_mb: int) -> None:
    # Runs first in each child: past the limit, allocations fail (MemoryError) in the
    # child instead of the machine swapping or the OOM killer picking the worker.
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _render(job: RenderJob) -> RenderedPdf:
    return render_document(job.html, metadata=job.metadata)


class RenderPool:
    """A pool of render processes, started on first use and restarted after a kill."""

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def render(self, jobs: Sequence[RenderJob]) -> list[RenderResult]:
        """Render `jobs` in parallel; one result per job, in order."""
        if not jobs:
            return []
        with self._lock:  # one batch at a time: the timeout budget assumes a free pool
            executor = self._executor_started()
            futures = [executor.submit(_render, job) for job in jobs]
            rounds = math.ceil(len(jobs) / self.limits.processes)
            _, late = wait_for(futures, timeout=self.limits.timeout_seconds * rounds)
            overran = {f for f in late if f.running()}  # before the kill settles them all
            if late:
                self._kill()
            results = [self._result(f, f in late, f in overran) for f in futures]
            if any(r.error and not r.transient for r in results):
                # A child that hit its memory limit may be left fragmented, one that crashed
                # is gone: start afresh (only now, when no other render is in flight).
                self._kill()
            return results

    def _result(self, future: Future[RenderedPdf], late: bool, overran: bool) -> RenderResult:
        if overran:
            return RenderResult(error=f"rendering took over {self.limits.timeout_seconds:g} s")
        if late or future.cancelled():  # queued behind one that overran: not its fault
            return RenderResult(error="rendering was interrupted", transient=True)
        error = future.exception()
        if error is None:
            return RenderResult(pdf=future.result())
        if isinstance(error, MemoryError):
            return RenderResult(error=f"rendering needed over {self.limits.memory_mb} MB")
        if isinstance(error, BrokenProcessPool):
            # Most likely this document (memory, a crash in a C library): retrying would
            # kill the next child too, so fail it visibly; regenerating is one click away.
            return RenderResult(error="the renderer process died (memory limit?)")
        return RenderResult(error=f"{type(error).__name__}: {error}")

    def _executor_started(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.limits.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory,
                initargs=(self.limits.memory_mb,),
            )
        return self._executor

    def _kill(self) -> None:
        """Stop every child now (a render that overran cannot be cancelled any other way)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # Python 3.14 has kill_workers(); before it, the children are only reachable here.
        for process in list((executor._processes or {}).values()):
            process.kill()
        executor.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_pools: dict[PoolLimits, RenderPool] = {}
_pools_lock = threading.Lock()


def pool_for(limits: PoolLimits) -> RenderPool:
    """The process's pool for `limits` (one per configuration, kept for reuse)."""
    with _pools_lock:
        if limits not in _pools:
            _pools[limits] = RenderPool(limits)
        return _pools[limits]
