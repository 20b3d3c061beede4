"""What handlers are given: the app's services, the session id from the path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath

from service.api.stats import Stats
from service.domain.sessions import Sessions
from service.push.hub import Hub, SessionListWatcher
from service.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a handler may use, given as one dependency.

    Litestar resolves several dependencies of a handler concurrently, in a task group per
    request; on the log append route that cost more than the handler's own work.
    """

    settings: Settings
    stats: Stats
    sessions: Sessions
    hub: Hub
    watcher: SessionListWatcher


Req: TypeAlias = Request[Any, Any, Any]
ServicesDep: TypeAlias = NamedDependency[Services]
PathId: TypeAlias = FromPath[str]
