"""The Date field as seconds since the epoch: RFC 5322 3.3 date-time with the obsolete forms
of its section 4.3 (zone names, two-digit years), read without ``time``, ``datetime`` or
``email.utils``.

On the per-mail ``match`` path: imports nothing.
"""

_MONTHS = {
    name: n
    for n, name in enumerate(
        (b"jan", b"feb", b"mar", b"apr", b"may", b"jun")
        + (b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"),
        start=1,
    )
}
# RFC 5322 4.3 obsolete zone names; military letters and unknown names count as UTC.
_ZONES = {b"ut": 0, b"utc": 0, b"gmt": 0, b"z": 0, b"edt": -4, b"est": -5, b"cdt": -5}
_ZONES.update({b"cst": -6, b"mdt": -6, b"mst": -7, b"pdt": -7, b"pst": -8})


def parse_date(value: bytes) -> int | None:
    """Seconds since the epoch of an RFC 5322 date (obsolete forms included), or None.

    Total: any bytes give a number or None; a year outside 1900-9999 gives None."""
    day = month = year = clock = offset = None
    for word in value.replace(b",", b" ").split():
        lower = word.lower().strip(b"()")
        if month is None and lower[:3] in _MONTHS and lower.isalpha():
            month = _MONTHS[lower[:3]]
        elif clock is None and b":" in word:
            if word.count(b":") > 2:  # before split: 10 MB of "1:" are 5 million parts
                return None
            parts = word.split(b":")
            if not all(part.isdigit() for part in parts):
                return None
            clock = [_number(part) for part in parts] + [0] * (3 - len(parts))
        elif word[:1] in (b"+", b"-") and len(word) == 5 and word[1:].isdigit() and clock:
            minutes = int(word[1:3]) * 60 + int(word[3:5])
            offset = minutes * 60 if word[:1] == b"+" else -minutes * 60
        elif word.isdigit():
            if day is None and len(word) <= 2:
                day = int(word)
            elif year is None:
                year = _number(word)
        elif offset is None and lower in _ZONES:  # "+0800 (CST)": the number decides
            offset = _ZONES[lower] * 3600
    if day is None or month is None or year is None or clock is None:
        return None
    if year < 100:
        year += 2000 if year < 50 else 1900
    hour, minute, second = clock
    if not (1 <= day <= 31 and 1900 <= year <= 9999 and hour < 24 and minute < 60):
        return None
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    return days * 86400 + hour * 3600 + minute * 60 + min(second, 60) - (offset or 0)


def _number(digits: bytes) -> int:
    """The value of ASCII digits; 10**9 for any value above that, which no field of a
    date may have (int() refuses more than 4,300 digits)."""
    digits = digits.lstrip(b"0")
    return int(digits or b"0") if len(digits) <= 9 else 10**9
