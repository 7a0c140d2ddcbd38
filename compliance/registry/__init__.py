"""The organisation's registry: AI systems and their model versions (register, read,
load a version's model safely)."""
