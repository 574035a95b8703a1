"""Times are stored as naive UTC datetimes; owners enter and read them in their own zone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return ZoneInfo("UTC")


def is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return False
    return True


def to_utc(local: datetime, zone_name: str) -> datetime:
    """A wall-clock time in `zone_name` → naive UTC."""
    return local.replace(tzinfo=zone(zone_name)).astimezone(UTC).replace(tzinfo=None)


def to_local(utc: datetime | None, zone_name: str) -> datetime | None:
    if utc is None:
        return None
    return utc.replace(tzinfo=UTC).astimezone(zone(zone_name))


def iso_utc(utc: datetime | None) -> str | None:
    if utc is None:
        return None
    if utc.tzinfo is None:  # as stored: naive UTC (a list's rows ask this for each)
        return utc.isoformat() + "Z"
    return utc.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


_ZONES: list[str] | None = None


def zone_names() -> list[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = sorted(z for z in available_timezones() if "/" in z or z == "UTC")
    return _ZONES
