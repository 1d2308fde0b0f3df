"""Triggers: what fires workstreams from events, file changes, cron and intervals.

The pure core lives here (``uet daemon`` builds on it): segment-aware globs
(:mod:`~uet.triggers.globs`), the event matcher (:mod:`~uet.triggers.match`), schedules
(:mod:`~uet.triggers.schedule`), catch-up and rate-cap policies (:mod:`~uet.triggers.policy`)
and the file filter with debounce grouping (:mod:`~uet.triggers.files`). The models and
their loader are :mod:`uet.spec.triggers`.
"""
