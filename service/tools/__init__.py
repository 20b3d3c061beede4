"""The command-line tools beside `serve`: ls, show, tail, sql, export, run."""
