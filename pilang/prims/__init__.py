"""Every primitive, one module per domain; importing this package registers them all.

Core values: control, io, lists, maps, numbers, strings. The language itself: evaluation (eval,
macroexpand, doc). The engine's domains: workspace (ingest, search, routing), analytics, personas
(personas, answers, predictions, churn, comparisons), questions (plain words to a query), spectral (models), learning (the tetration
learner), media (voice, images). Rich values (html, plot, table, show) live in pilang/output/rich.py."""
from ..output import rich  # noqa: F401  (registration side effect)
from . import (  # noqa: F401
               analytics,
               control,
               evaluation,
               io,
               learning,
               lists,
               maps,
               media,
               numbers,
               personas,
               questions,
               spectral,
               strings,
               workspace,
)
