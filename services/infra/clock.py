"""The local date. Users live in China: "today" and "this year" are Asia/Shanghai's."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(LOCAL_TZ).date()
