"""``python -m webtrip`` runs the command line."""

from webtrip.cli import main

main()
