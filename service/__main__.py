"""`python -m service` is the `sessions` command."""

from service.cli import main

main()
