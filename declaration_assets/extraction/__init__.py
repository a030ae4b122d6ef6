"""Extraction: every page of every PDF of a case, by text layer or OCR, with its language."""
