"""Segment choice: the first segment of the setup whose conditions hold wins.

The outcome is data: the segment, or why there is none (excluded by a flag, no segment
matched), and the conditions that decided it with the customer's values.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from segment_tui.rules.conditions import Value
from segment_tui.rules.setup import SegmentDef, Setup


@dataclass(frozen=True)
class Choice:
    """The segment a customer gets, or the reason there is none."""

    segment: SegmentDef | None
    reason: tuple[dict[str, object], ...] = ()
    excluded_by: tuple[str, ...] = field(default=())

    @property
    def excluded(self) -> bool:
        return bool(self.excluded_by)


def choose_segment(values: Mapping[str, Value], setup: Setup) -> Choice:
    """Pick the segment for a customer from its metrics and flags.

    `values` holds every metric and flag by name. A customer with an excluding flag gets
    no segment; otherwise the segments are tried in order and the first match wins.
    """
    excluded_by = tuple(flag for flag in setup.settings.exclude if values[flag])
    if excluded_by:
        return Choice(segment=None, excluded_by=excluded_by)

    for segment in setup.segment:
        conditions = segment.parsed
        if not conditions:
            return Choice(segment=segment)
        held = [c for c in conditions if c.holds(values)]
        needed = len(conditions) if segment.match == "all" else 1
        if len(held) >= needed:
            return Choice(segment, tuple(c.explain(values) for c in held))
    return Choice(segment=None)
