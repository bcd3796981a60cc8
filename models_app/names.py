"""How names look: invisible characters, and the key under which lookalike names meet."""

from __future__ import annotations

import functools
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

# Characters that render as nothing although they are not format characters.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def has_invisible_chars(value: str) -> bool:
    """Zero-width and bidirectional controls (Cf), line/paragraph separators, blank letters."""
    return any(
        unicodedata.category(ch) in {"Cf", "Zl", "Zp"} or ch in _BLANK_LETTERS for ch in value
    )


@functools.cache
def _ascii_lookalikes() -> dict[str, str]:
    """Each non-ASCII character that looks like an ASCII one, mapped to it (letters first).
    ASCII characters are never mapped: 'l' and '1' are told apart by those who type them."""
    from confusable_homoglyphs.confusables import confusables_data

    lookalikes = {}
    for char, others in confusables_data.items():
        if char.isascii():
            continue
        ascii_others = [o["c"] for o in others if len(o["c"]) == 1 and o["c"].isascii()]
        if ascii_others:
            lookalikes[char] = min(ascii_others, key=lambda c: (not c.isalpha(), c))
    return lookalikes


def name_key(name: str) -> str:
    """What a name looks like: NFKC, case-folded, each non-ASCII lookalike of an ASCII
    character replaced by it. Names with the same key differ only by case or confusables."""
    lookalikes = _ascii_lookalikes()
    looks = "".join(lookalikes.get(ch, ch) for ch in unicodedata.normalize("NFKC", name))
    return "".join(lookalikes.get(ch, ch) for ch in looks.casefold())


def name_problem(name: str) -> str | None:
    """Why a stored name would no longer be accepted as it is, or None."""
    if has_invisible_chars(name):
        return "holds invisible or text-direction characters"
    if name and set(name) <= {"."}:
        return "is only dots"
    if unicodedata.normalize("NFKC", name) != name:
        return f"is not normalised (NFKC: {unicodedata.normalize('NFKC', name)!r})"
    return None


def name_report(rows: Iterable[tuple[str, str]]) -> list[str]:
    """Lines describing (registry, name) pairs that clash by case or lookalike characters,
    or that today's name rules would refuse. Reports only: nothing is renamed."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    lines = []
    for registry, name in rows:
        groups[(registry, name_key(name))].append(name)
        problem = name_problem(name)
        if problem:
            lines.append(f"{registry}/{name!r} {problem}")
    for (registry, _), names in sorted(groups.items()):
        if len(names) > 1:
            shown = ", ".join(repr(n) for n in sorted(names))
            lines.append(f"{registry}: {shown} differ only by case or lookalike characters")
    return lines
