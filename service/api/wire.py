"""The one seam for wire formats: request bodies in by Content-Type, responses out by Accept."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import ClientException

from service import compactbinary
from service.db.store import TypedJson
from service.domain.errors import InvalidInput, TooLarge, UnsupportedMediaType
from service.domain.timestamps import ticks_from_timestamp

JSON = "application/json"
TEXT = "text/plain"
CB = compactbinary.MEDIA_TYPE

T = TypeVar("T")
_OID = re.compile(r"[0-9a-f]{24}")


def _stored_as_json(value: Any) -> Any:
    if isinstance(value, TypedJson):
        return msgspec.Raw(value.json)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_json_encoder = msgspec.json.Encoder(enc_hook=_stored_as_json)


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower-cased."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_typed(kind: str) -> bool:
    """Whether values of a body of this type carry compact-binary types worth keeping."""
    return kind == CB


def wants_compact_binary(request: Request[Any, Any, Any]) -> bool:
    """Whether the client asked for compact binary answers."""
    return CB in request.headers.get("accept", "")


async def read_raw(request: Request[Any, Any, Any], accepted: tuple[str, ...]) -> tuple[str, bytes]:
    """The body and its media type; 415 unless the type is accepted, 413 when too large."""
    try:
        body = await request.body()
    except ClientException as exc:
        if exc.status_code == 413:
            raise TooLarge("Request body is larger than the server's limit") from None
        raise
    kind = media_type(request.headers.get("content-type"))
    if not body:
        return kind, body
    if not kind:
        raise UnsupportedMediaType(f"Missing Content-Type; send {' or '.join(accepted)}")
    if kind not in accepted:
        raise UnsupportedMediaType(
            f"Unsupported Content-Type '{kind}'; send {' or '.join(accepted)}"
        )
    return kind, body


def decode(
    kind: str,
    body: bytes,
    type_: type[T],
    on_invalid: Callable[[msgspec.ValidationError], Exception] | None = None,
) -> T:
    """Decode a JSON or compact-binary body into a Struct; an empty body is an empty object."""
    try:
        if not body:
            return msgspec.convert({}, type_)
        if kind == CB:
            return msgspec.convert(compactbinary.decode(body), type_)
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise (on_invalid(exc) if on_invalid else InvalidInput(f"Invalid body: {exc}")) from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"Invalid JSON body: {exc}") from None
    except compactbinary.CompactBinaryError as exc:
        raise InvalidInput(f"Invalid compact binary body: {exc}") from None


def encode_json(data: Any) -> bytes:
    """JSON bytes of an answer (stored JSON values are embedded as they are)."""
    return _json_encoder.encode(data)


def respond(request: Request[Any, Any, Any], data: Any, status_code: int = 200) -> Response[bytes]:
    """Encode a response body as compact binary when asked for, else JSON."""
    if wants_compact_binary(request):
        value = to_compact(data)
        return Response(compactbinary.encode(value), status_code=status_code, media_type=CB)
    return Response(_json_encoder.encode(data), status_code=status_code, media_type=JSON)


def respond_text(text: str, status_code: int = 200) -> Response[bytes]:
    """A bare text answer (register answers with the id)."""
    return Response(text.encode(), status_code=status_code, media_type=TEXT)


_ID_KEYS = frozenset({"id", "self_id", "parent_session_id", "jobid"})
_TIME_KEYS = frozenset({"created_at", "updated_at", "ended_at", "timestamp"})


def to_compact(value: Any, key: str | None = None) -> Any:
    """An answer as compact-binary values: ids as ObjectId, times as DateTime, user data typed."""
    if isinstance(value, msgspec.Struct):
        return {name: to_compact(item, name) for name, item in _struct_items(value)}
    if isinstance(value, dict):
        return {k: to_compact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [to_compact(item) for item in value]
    if isinstance(value, str):
        if key in _ID_KEYS and _OID.fullmatch(value):
            return compactbinary.ObjectId(value)
        if key in _TIME_KEYS:
            return compactbinary.DateTime(ticks_from_timestamp(value))
        return value
    if isinstance(value, TypedJson):  # user data sent as compact binary keeps its types
        return compactbinary.decode(value.compact)
    if isinstance(value, msgspec.Raw):
        return msgspec.json.decode(value)
    return value


def _struct_items(value: msgspec.Struct) -> list[tuple[str, Any]]:
    """The fields a Struct encodes to, leaving out unset ones and defaults where it does."""
    omit_defaults = value.__struct_config__.omit_defaults
    items = []
    for field in _fields(type(value)):
        item = getattr(value, field.name)
        if item is msgspec.UNSET or (omit_defaults and item == field.default):
            continue
        items.append((field.encode_name, item))
    return items


@functools.cache
def _fields(kind: type[msgspec.Struct]) -> tuple[msgspec.structs.FieldInfo, ...]:
    return msgspec.structs.fields(kind)
