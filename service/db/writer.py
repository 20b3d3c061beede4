"""The single writer: owns the write connection and group-commits everything queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
Operation = Callable[[AsyncConnection], Awaitable[T]]
CommitListener = Callable[[], None]

log = logging.getLogger(__name__)


class WriterClosed(RuntimeError):
    """The writer has stopped and takes no more operations."""


class Writer:
    """Runs write operations in order; all that are queued together share one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[tuple[Operation[Any], asyncio.Future[Any]] | None] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[CommitListener] = []
        self.commits = 0
        self.operations = 0

    def add_listener(self, listener: CommitListener) -> None:
        """Call listener after every commit (to wake readers of new entries)."""
        self._listeners.append(listener)

    @property
    def backlog(self) -> int:
        """Operations waiting for the next transaction."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Open the write connection and start draining the queue."""
        conn = await self._engine.connect()
        self._task = asyncio.create_task(self._run(conn), name="sessions-writer")

    async def stop(self) -> None:
        """Commit everything already queued, then close the connection."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def run(self, operation: Operation[T]) -> T:
        """Queue an operation and wait until its transaction has committed."""
        if self._task is None:
            raise WriterClosed("the writer is not running")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((operation, future))
        return await future

    async def _run(self, conn: AsyncConnection) -> None:
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
            await conn.close()

    async def _commit_group(
        self, conn: AsyncConnection, group: list[tuple[Operation[Any], asyncio.Future[Any]]]
    ) -> None:
        try:
            results = await self._transaction(conn, [op for op, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc=exc)
                return
            # One bad operation must not fail its neighbours: retry each alone.
            log.warning(
                "group commit of %d operations failed (%s); retrying one by one", len(group), exc
            )
            for op, future in group:
                try:
                    (result,) = await self._transaction(conn, [op])
                except Exception as one_exc:
                    _settle(future, exc=one_exc)
                else:
                    _settle(future, result=result)
            return
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result=result)

    async def _transaction(self, conn: AsyncConnection, ops: list[Operation[Any]]) -> list[Any]:
        try:
            async with conn.begin():
                results = [await op(conn) for op in ops]
        except BaseException:
            if conn.in_transaction():
                with contextlib.suppress(Exception):
                    await conn.rollback()
            raise
        self.commits += 1
        self.operations += len(ops)
        for listener in self._listeners:
            listener()
        return results

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _settle(item[1], exc=WriterClosed("the writer stopped"))


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None
) -> None:
    if future.done():  # the waiting request was cancelled; the write stands regardless
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
