"""Celery application and thin tasks (explanation jobs, dossier rendering).

The Celery app is wired in by the workers issue; until then explanations are not queued.
"""
