"""Triggers: workstreams that start themselves from events, file changes, cron and intervals.

The pure logic (globs, matching, schedules, catch-up policy, file filters) and the daemon
(:mod:`uet.triggers.daemon`) that fires runs through the store's fire ledger."""
