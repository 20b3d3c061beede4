"""Session ids: Zen Oids, 24 hex characters (either case in, lowercase out)."""

from __future__ import annotations

import itertools
import os
import re
import time

_OID = re.compile(r"[0-9a-fA-F]{24}")
_ZERO = "0" * 24
_PROCESS_RANDOM = os.urandom(5)
_SERIAL = itertools.count(int.from_bytes(os.urandom(3), "big"))


class InvalidId(ValueError):
    """A text that is not a usable session id."""


def parse_session_id(text: str) -> str:
    """The normalized id, or InvalidId for anything but 24 hex digits that are not all zero."""
    if not _OID.fullmatch(text) or text == _ZERO:
        raise InvalidId(f"Invalid session id '{text}'")
    return text.lower()


def new_session_id() -> str:
    """A fresh id: creation second, a per-process random part and a serial, like a Zen Oid."""
    serial = next(_SERIAL) & 0xFFFFFF
    raw = int(time.time()).to_bytes(4, "big") + _PROCESS_RANDOM + serial.to_bytes(3, "big")
    return raw.hex()
