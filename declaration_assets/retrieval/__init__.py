"""Retrieval: structure-following chunks, cached MiniLM embeddings, a FAISS index per case."""
