"""What other parts of the platform may follow about a meeting without webcast knowing them."""

from django.dispatch import Signal

meeting_moved_on = Signal()
"""Sent (``meeting=``) inside the transaction that changed what is happening in a meeting: its
status (live, adjourned, ended, ...) or the agenda item now being debated. The live question
feed re-renders the chair's view, which puts the current item's questions first and shows the
chair's buttons only while the meeting is on air."""
