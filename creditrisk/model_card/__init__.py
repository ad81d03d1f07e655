"""The model card: one document per version that a validator reads, issued after each decision.

Modules: `card` (gather and issue), `sections` (what each section says), `render` (HTML and text).
"""
