"""Every model scored on the real data sets present, beside its strongest simple baseline (pilang eval)."""
