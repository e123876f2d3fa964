"""Observing what runs: metric queries, alert rules and states, notification channels, the monitor
loop, cost report, retention, drift.
"""
