"""The single writer: owns the write connection and group-commits everything queued.

Its statements run on the event loop itself, and only BEGIN-when-locked and COMMIT go to a
thread of its own. Python's sqlite3 lets go of the GIL around each step of a statement, so a
thread stepping many small inserts has to win the GIL back after every row from a busy event
loop, and loses (each win can take the 5 ms switch interval). Inserting on the loop costs
what SQLite costs; the COMMIT, where the waiting is (fsync, checkpoints), is one step, so it
runs in the thread without holding the loop up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine

from service.db.engine import begin_at_once, begin_waiting, never_wait

T = TypeVar("T")
Operation = Callable[[Connection], T]

log = logging.getLogger(__name__)


class WriterClosed(RuntimeError):
    """The writer has stopped and takes no more operations."""


class WriterBusy(RuntimeError):
    """Too much is queued for the writer; the caller should come back later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy writing; retry in {retry_after} s")
        self.retry_after = retry_after


class StorageFull(RuntimeError):
    """The database cannot grow: the disk, or its size limit, is full."""


class StorageUnavailable(RuntimeError):
    """The database cannot be written at all (read-only file or file system, I/O error)."""


_FULL = ("database or disk is full",)
_UNAVAILABLE = ("readonly database", "read-only file system", "disk i/o error")


def storage_error(exc: Exception) -> Exception:
    """SQLite's storage failures as errors a client can be told about; others unchanged."""
    text = str(getattr(exc, "orig", exc)).lower()
    if any(marker in text for marker in _FULL):
        return StorageFull(f"the database is full ({text}); writes resume when space is freed")
    if any(marker in text for marker in _UNAVAILABLE):
        return StorageUnavailable(f"the database cannot be written ({text})")
    return exc


class Item(NamedTuple):
    """A queued operation, the future its caller awaits, and its weight in the budget."""

    operation: Operation[Any]
    future: asyncio.Future[Any]
    weight: int


class Writer:
    """Runs write operations in order; all that are queued together share one transaction."""

    def __init__(self, engine: Engine, *, max_queued: int = 0) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sessions-writer")
        self.max_queued = max_queued  # budget of queued weight (log entries); 0: unbounded
        self.queued = 0
        self._drained = asyncio.Event()
        self.commits = 0
        self.refused = 0

    @property
    def backlog(self) -> int:
        """Operations waiting for the next transaction."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Open the write connection and start draining the queue."""
        # Connecting may wait for a lock (switching to WAL): in the thread.
        conn = await self._in_thread(self._engine.connect)
        never_wait(conn.connection.driver_connection)  # type: ignore[arg-type]
        self._task = asyncio.create_task(self._run(conn), name="sessions-writer")

    async def stop(self) -> None:
        """Commit everything already queued, then close the connection."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def run(self, operation: Operation[T], *, weight: int = 0, wait: float = 0.0) -> T:
        """Queue an operation and wait until its transaction has committed.

        A weighted operation (a log batch, weighing its entries) waits up to `wait` seconds for
        room in the queue's budget, then gives up with WriterBusy: memory stays bounded when
        clients send faster than the disk takes.
        """
        if self._task is None:
            raise WriterClosed("the writer is not running")
        if weight and self.max_queued:
            await self._admit(weight, wait)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.queued += weight
        self._queue.put_nowait(Item(operation, future, weight))
        return await future

    async def _admit(self, weight: int, wait: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        # An empty queue takes any batch, so one batch larger than the budget still goes in.
        while self.queued and self.queued + weight > self.max_queued:
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.refused += 1
                raise WriterBusy(retry_after=max(1, round(wait)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), remaining)

    async def _run(self, conn: Connection) -> None:
        try:
            while True:
                first = await self._queue.get()
                group = [first]
                while not self._queue.empty():
                    group.append(self._queue.get_nowait())
                work = [item for item in group if item is not None]
                if work:
                    await self._commit_group(conn, work)
                if None in group:
                    return
        finally:
            self._fail_queued()
            self._thread.shutdown()  # a COMMIT still running there (if cancelled) ends first
            conn.close()

    async def _commit_group(self, conn: Connection, group: list[Item]) -> None:
        try:
            await self._commit_items(conn, group)
        finally:
            self.queued -= sum(item.weight for item in group)
            self._drained.set()
            self._drained = asyncio.Event()

    async def _commit_items(self, conn: Connection, group: list[Item]) -> None:
        try:
            results = await self._transaction(conn, [item.operation for item in group])
        except Exception as exc:
            if len(group) == 1 or isinstance(exc, StorageFull | StorageUnavailable):
                for item in group:
                    _settle(item.future, exc=exc)
                return
            # One bad operation must not fail its neighbours: retry each alone.
            log.warning("group commit of %d failed (%s); retrying one by one", len(group), exc)
            for item in group:
                try:
                    (result,) = await self._transaction(conn, [item.operation])
                except Exception as one_exc:
                    _settle(item.future, exc=one_exc)
                else:
                    _settle(item.future, result=result)
            return
        for item, result in zip(group, results, strict=True):
            _settle(item.future, result=result)

    async def _transaction(self, conn: Connection, ops: list[Operation[Any]]) -> list[Any]:
        driver: Any = conn.connection.driver_connection
        try:
            if not begin_at_once(driver):  # another process writes: wait for it off the loop
                await self._in_thread(begin_waiting, driver)
            results = [op(conn) for op in ops]
            await self._in_thread(driver.commit)
        except Exception as exc:
            with contextlib.suppress(Exception):
                driver.rollback()
                conn.rollback()
            raise storage_error(exc) from exc
        conn.commit()  # SQLAlchemy's own view of the transaction; the driver's has ended
        self.commits += 1
        return results

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _settle(item.future, exc=WriterClosed("the writer stopped"))


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None
) -> None:
    if future.done():  # the waiting request was cancelled; the write stands regardless
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
