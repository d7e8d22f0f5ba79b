"""Forward-only searches in bytes and str, which the msg-id, RFC 2047 and subject parsers
share so that each reads its input in time linear in its length, whatever it holds (runs of
one delimiter, millions of words).

On the per-mail ``match`` path: imports nothing.
"""


class Next:
    """Where the next ``byte`` of ``data`` is. Asked for positions that never go back, it
    searches each stretch of ``data`` once: linear time over a whole scan."""

    __slots__ = ("byte", "data", "found")

    def __init__(self, data, byte) -> None:
        self.data, self.byte, self.found = data, byte, -1

    def at(self, pos: int) -> int:
        """The first position from ``pos`` on holding ``byte``; ``len(data)`` when none."""
        if self.found < pos:
            found = self.data.find(self.byte, pos)
            self.found = len(self.data) if found < 0 else found
        return self.found


def run_end(data, pos: int, chars=None) -> int:
    """Where the run of ``chars`` (blanks when None) starting at ``pos`` ends: time linear
    in the run, not in ``data`` (``data[pos:].lstrip()`` would copy the rest)."""
    size = 64
    while True:
        chunk = data[pos : pos + size]
        left = len(chunk.lstrip(chars))
        pos += len(chunk) - left
        if left or len(chunk) < size:
            return pos
        size *= 2
