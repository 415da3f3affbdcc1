"""UTC time windows as RDS and ElastiCache take them, and the checks AWS applies to them.

A daily window is ``hh24:mi-hh24:mi`` (backups, snapshots); a weekly window is
``ddd:hh24:mi-ddd:hh24:mi`` (maintenance). Both may wrap (past midnight, past Sunday). AWS
rejects a daily backup window that overlaps the weekly maintenance window, and windows shorter
than 30 minutes (RDS) or 60 minutes (ElastiCache maintenance).
"""

from __future__ import annotations

import re

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MINUTES = 24 * 60
_WEEK_MINUTES = 7 * _DAY_MINUTES

_DAILY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
                     r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$")


def parse_daily(window: str) -> tuple[int, int] | None:
    """``(start, length)`` in minutes of the day, or ``None`` if the text is not ``hh24:mi-hh24:mi``."""
    match = _DAILY.match(window)
    if not match:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    return start, (end - start) % _DAY_MINUTES


def parse_weekly(window: str) -> tuple[int, int] | None:
    """``(start, length)`` in minutes of the week (Monday 00:00 = 0), or ``None`` if malformed."""
    match = _WEEKLY.match(window.lower())
    if not match:
        return None
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = DAYS.index(d1) * _DAY_MINUTES + int(h1) * 60 + int(m1)
    end = DAYS.index(d2) * _DAY_MINUTES + int(h2) * 60 + int(m2)
    return start, (end - start) % _WEEK_MINUTES


def _minutes(start: int, length: int, period: int) -> set[int]:
    return {(start + i) % period for i in range(length)}


def overlaps(daily: tuple[int, int], weekly: tuple[int, int]) -> bool:
    """True when the daily window, on any day of the week, shares a minute with the weekly window."""
    weekly_minutes = _minutes(*weekly, _WEEK_MINUTES)
    start, length = daily
    return any(
        _minutes(day * _DAY_MINUTES + start, length, _WEEK_MINUTES) & weekly_minutes for day in range(7)
    )


def check_windows(problems: object, *, daily_key: str, daily: str, weekly_key: str, weekly: str,
                  daily_min: int = 30, weekly_min: int = 30, weekly_max: int = 24 * 60) -> None:
    """Add a problem to a :class:`~components.problems.ProblemCollector` for each bad window."""
    add = problems.add  # type: ignore[attr-defined]
    parsed_daily = parse_daily(daily)
    parsed_weekly = parse_weekly(weekly)
    if parsed_daily is None:
        add(daily_key, daily, "must be a daily UTC window hh24:mi-hh24:mi, like 03:00-03:30")
    elif parsed_daily[1] < daily_min:
        add(daily_key, daily, f"must last at least {daily_min} minutes (it lasts {parsed_daily[1]})")
    if parsed_weekly is None:
        add(weekly_key, weekly, "must be a weekly UTC window ddd:hh24:mi-ddd:hh24:mi, like sun:05:00-sun:06:00")
    elif not weekly_min <= parsed_weekly[1] <= weekly_max:
        add(weekly_key, weekly, f"must last from {weekly_min} minutes to {weekly_max // 60} hours "
                                f"(it lasts {parsed_weekly[1]} minutes)")
    if parsed_daily and parsed_weekly and overlaps(parsed_daily, parsed_weekly):
        add(weekly_key, weekly, f"overlaps {daily_key} ({daily}, daily): AWS rejects a maintenance window "
                                "that overlaps the backup window; move one of them")


#: AWS Backup does not start a database backup in a maintenance window or in the hour before it ("AWS
#: database services cannot start backups 1 hour before or during maintenance windows"), so a backup
#: scheduled there is silently skipped or fails:
#: https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
BACKUP_LEAD_MINUTES = 60


def near_maintenance(daily: tuple[int, int], weekly: tuple[int, int], lead: int = BACKUP_LEAD_MINUTES) -> bool:
    """True when the daily window, on any day, falls in the weekly window or in the ``lead`` minutes before it."""
    start, length = weekly
    return overlaps(daily, ((start - lead) % _WEEK_MINUTES, length + lead))


def check_lead_time(problems: object, *, daily_key: str, daily: str, weekly_key: str, weekly: str) -> None:
    """A problem when a (valid) daily backup window ends within an hour before the maintenance window.

    The overlap itself is :func:`check_windows`'s problem; this adds only the hour before.
    """
    parsed_daily, parsed_weekly = parse_daily(daily), parse_weekly(weekly)
    if not parsed_daily or not parsed_weekly or overlaps(parsed_daily, parsed_weekly):
        return
    if near_maintenance(parsed_daily, parsed_weekly):
        problems.add(daily_key, daily, f"falls within {BACKUP_LEAD_MINUTES} minutes before {weekly_key} "  # type: ignore[attr-defined]
                                       f"({weekly}): backups must not start in or within an hour before the "
                                       "maintenance window; move one of them")


_BACKUP_CRON = re.compile(r"^cron\((\d{1,2}) (\d{1,2}) (\?|\*) \* (\?|\*) \*\)$")


def parse_backup_schedule(schedule: str, start_window_minutes: int) -> tuple[int, int] | None:
    """An AWS Backup daily ``cron(M H ? * * *)`` and its start window as ``(start, length)`` in minutes of the day."""
    match = _BACKUP_CRON.match(schedule)
    if not match:
        return None
    minute, hour = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 23 or match.group(3) == match.group(4):
        return None
    return hour * 60 + minute, start_window_minutes
