"""SQLite storage: tables, engines, queries and the single writer."""
