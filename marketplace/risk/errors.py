"""Named errors of the risk domain (stable codes for the API's problem+json)."""

from __future__ import annotations

from marketplace.errors import Conflict


class FindingAlreadyRecorded(Conflict):
    code = "finding_already_recorded"
    title = "A finding was already recorded for this sampled order"


class EmptyPopulation(Conflict):
    code = "empty_population"
    title = "No assessed order in the chosen scope to sample from"
