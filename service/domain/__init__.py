"""Domain rules: sessions, log entries, levels and message templates."""
