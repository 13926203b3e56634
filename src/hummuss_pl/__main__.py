"""`python -m hummuss_pl ...` is the `hummuss` command. Run as a file it is too, for launchers that take a
script path rather than a module: `fabric run [--devices N ...] src/hummuss_pl/__main__.py fit ...` (the
installed `hummuss` console script, `$(command -v hummuss)`, serves the same purpose)."""

import sys
from pathlib import Path

if not __package__:  # run as a file: Python put this folder first on sys.path, where its modules (cli, data,
    # models, metrics, ...) would shadow top-level modules of those names; the package is imported instead
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]

from hummuss_pl.cli import main  # noqa: E402

main()
