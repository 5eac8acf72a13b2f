"""Analytics over the workspace: daily series, sentiment, anomalies, forecasts, Hodge decomposition.
Each analytic returns a plain dict: answer, evidence, and for a model its held-out score."""
