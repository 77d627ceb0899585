"""SQL for quality names of half-hour values (shared by the interval store's views and the
readers that go to its tables directly)."""

from __future__ import annotations

#: quality code → name (``{q}``: the code expression); 255 in a day row = no value there
QNAME = (
    "CASE {q} WHEN 0 THEN 'measured' WHEN 1 THEN 'estimated' WHEN 2 THEN 'edited' "
    "WHEN 3 THEN 'missing' ELSE 'invalid' END"
)
#: a narrow value's quality: the VEE ingest stores the code (``qcode``, no text per row),
#: other writers the name
HH_QUALITY = f"COALESCE(quality, {QNAME.format(q='qcode')})"
