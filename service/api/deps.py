"""What handlers are given: the app's services by name, the session id from the path."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath

from service.api.stats import Stats
from service.domain.sessions import Sessions
from service.push.hub import Hub, SessionListWatcher
from service.settings import Settings

Req: TypeAlias = Request[Any, Any, Any]
SessionsDep: TypeAlias = NamedDependency[Sessions]
SettingsDep: TypeAlias = NamedDependency[Settings]
StatsDep: TypeAlias = NamedDependency[Stats]
PathId: TypeAlias = FromPath[str]
HubDep: TypeAlias = NamedDependency[Hub]
WatcherDep: TypeAlias = NamedDependency[SessionListWatcher]
