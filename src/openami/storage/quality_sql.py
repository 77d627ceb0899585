"""Quality names and codes in SQL, generated from ``bus.messages.Quality``.

Every query of the interval store that names a quality, or turns a stored code into a name
(or back), takes its SQL from here, so the SQL side cannot drift from the enum: a quality
added or renamed there changes every query at once.

- :func:`quality_name_sql`: code → name (a code no quality has reads as ``invalid``;
  ``QCODE_NONE`` never reaches it: day rows skip slots without a value);
- :func:`quality_code_sql`: name → code (NULL, no version, → ``QCODE_NONE``);
- :func:`quality_sql`: the SQL literal of one quality, or the ``( …, … )`` list of several.
"""

from __future__ import annotations

from openami.bus.messages import QCODE_NONE, Quality


def quality_name_sql(code: str) -> str:
    """The name of the quality code ``code`` (an SQL expression)."""
    whens = " ".join(f"WHEN {int(q)} THEN '{q.label}'" for q in Quality)
    return f"CASE {code} {whens} ELSE '{Quality.INVALID.label}' END"


def quality_code_sql(name: str) -> str:
    """The code of the quality name ``name`` (an SQL expression); ``QCODE_NONE`` for NULL."""
    whens = " ".join(f"WHEN '{q.label}' THEN {int(q)}" for q in Quality)
    return f"CASE {name} {whens} ELSE {QCODE_NONE} END"


def quality_sql(*qualities: Quality) -> str:
    """``'measured'`` for one quality, ``('missing', 'invalid')`` for several (for ``IN``)."""
    if not qualities:
        raise ValueError("no quality given")
    names = ", ".join(f"'{Quality(q).label}'" for q in qualities)
    return names if len(qualities) == 1 else f"({names})"


#: the qualities of a version without a usable value (an estimation candidate)
NO_VALUE_SQL = quality_sql(Quality.MISSING, Quality.INVALID)
#: the qualities of a version with a value (measured, estimated, edited or profiled)
WITH_VALUE_SQL = quality_sql(Quality.MEASURED, Quality.ESTIMATED, Quality.EDITED, Quality.PROFILED)

#: a narrow value's quality: the VEE ingest stores the code (``qcode``, no text per row),
#: other writers the name
HH_QUALITY = f"COALESCE(quality, {quality_name_sql('qcode')})"
