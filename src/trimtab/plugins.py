"""Entry-point groups through which other installed packages add providers,
notification channels and scorers (filled in by the plugins work)."""
