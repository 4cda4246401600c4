"""What goes first when the worker is behind: Temporal's task-queue priority (1 first, 5 last; 3 when
unset). Work a person is waiting on at that moment goes ahead of the rest: the steps from a student's
request to their acknowledgement, and a reviewer's decision being recorded. What goes beside the main
path with nobody waiting on it (webhook deliveries, the team's chat) goes after everything else.

Priority orders tasks only while they queue in Temporal; it changes nothing in a workflow's history
that replay checks, so it may be tuned while workflows run."""

from __future__ import annotations

from temporalio.common import Priority

SOMEONE_WAITING = Priority(priority_key=1)
NOBODY_WAITING = Priority(priority_key=4)
