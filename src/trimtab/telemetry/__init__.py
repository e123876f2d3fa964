"""Telemetry out of process: Prometheus exposition and OpenTelemetry export."""
