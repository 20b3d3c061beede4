"""Log levels: names, aliases and the integer scale shared with Zen."""

from __future__ import annotations

from typing import Final

LEVELS: Final = ("trace", "debug", "info", "warn", "error", "critical")
OFF: Final = len(LEVELS)

_ALIASES: Final[dict[str, str | None]] = {
    "warning": "warn",
    "err": "error",
    "fatal": "critical",
    "display": "info",
    "log": "debug",
    "verbose": "trace",
    "veryverbose": "trace",
    "off": None,
    "": None,
}


def _build_names() -> dict[str, str | None]:
    """Every known spelling, with the common case variants precomputed for a one-lookup hit."""
    canonical: dict[str, str | None] = {name: name for name in LEVELS}
    canonical.update(_ALIASES)
    names = dict(canonical)
    for key, level in canonical.items():
        for variant in (key.upper(), key.capitalize()):
            names.setdefault(variant, level)
    # Unreal's verbosity spelling.
    names.setdefault("VeryVerbose", "trace")
    return names


_NAMES: Final = _build_names()


def parse_level(value: str | int | None) -> str | None:
    """The canonical level name, or None for no level (`off`, 6, empty or absent)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in _NAMES:
            return _NAMES[value]
        key = value.strip().lower()
        return _NAMES.get(key, key)
    # bool is an int subclass, but true/false is not a level.
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < OFF:
            return LEVELS[value]
        if value == OFF:
            return None
        # A huge integer is not worth printing (and str() of it may itself fail).
        shown = f" {int(value)}" if abs(value) < 10**100 else ""
        raise ValueError(f"level{shown} is out of range 0-{OFF}")
    raise ValueError(f"level must be a name or an integer 0-{OFF}, not {type(value).__name__}")
