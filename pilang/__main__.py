"""`python -m pilang`."""
from .cli import run

run()
