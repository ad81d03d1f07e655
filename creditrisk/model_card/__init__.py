"""The model card: one document per version that a validator reads, issued after each decision.

Modules: `card` (gather and issue), `sections` (what each section says), `swap_section` (whose decisions
the latest evaluation would change), `render` (HTML and text).
"""
