"""A background job's machine: queued → running → done or failed; a job that never started
can fail from the queue; nothing leaves done or failed."""

import itertools

import pytest

from marketplace.jobs.models import JOB, JobAction, JobStatus
from marketplace.statemachine import IllegalMove

EXPECTED = {
    ("queued", "start"): "running",
    ("queued", "fail"): "failed",
    ("running", "finish"): "done",
    ("running", "fail"): "failed",
}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(JobStatus, JobAction)), ids=str
)
def test_every_state_and_action(status, action):
    expected = EXPECTED.get((status.value, action.value))
    if expected is None:
        assert not JOB.allows(status, action)
        with pytest.raises(IllegalMove):
            JOB.next(status, action)
    else:
        assert JOB.next(status, action) is JobStatus(expected)
