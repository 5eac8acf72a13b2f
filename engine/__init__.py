"""The neural engine: workspace store, ingestion, embeddings, vector search, interaction graph.

It never imports the language; pilang reaches it through the primitive registry (pilang/bridge.py).
Heavy libraries (torch, sentence-transformers, faiss) are imported on first use, not on import.
"""
