"""One module per scenario; each has `run(mode, workdir) -> (figures, details)`."""
