"""Grid and aggregator dispatch: requests from outside, answered honestly, reported.

The pure modules (events, book, auth, policy, reports) import nothing of Home
Assistant and are tested on their own; `webhook` and `manager` are the HA glue.
"""
