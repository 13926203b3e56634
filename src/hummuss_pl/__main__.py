"""`python -m hummuss_pl ...` is the `hummuss` command."""

from hummuss_pl.cli import main

main()
