"""The core primitives, one module per kind of value; importing this package registers them all."""
from . import control, io, lists, maps, numbers, strings  # noqa: F401  (registration side effect)
