"""`python -m pilang_kernel -f CONNECTION_FILE`: what kernel.json starts."""
from .kernel import main

main()
