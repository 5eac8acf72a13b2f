"""The neural engine: workspace store, ingestion, embeddings, vector search, interaction graph.

It never imports the language; pilang reaches it through the primitive registry (pilang/bridge.py) and,
more and more, through one door, `pilang_engine.api` (the analyses by name so far).
Heavy libraries (torch, sentence-transformers, faiss) are imported on first use, not on import.
"""
