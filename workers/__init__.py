"""Celery app and thin tasks. ``celery -A workers worker`` finds ``workers.app``."""

from __future__ import annotations

from workers.celery import app

__all__ = ["app"]
