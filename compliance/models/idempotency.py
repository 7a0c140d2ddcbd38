"""Idempotency keys of API POSTs: the first response to a key is kept and replayed."""

from __future__ import annotations

from django.db import models


class IdempotencyKey(models.Model):
    """One caller's ``Idempotency-Key``: the request it came with (its hash) and the
    response it got. The same key with the same request replays the response; with
    another request it is a conflict. ``status_code`` is null while the first request
    is still being answered."""

    caller = models.CharField(max_length=100)  # a hash of who asked, never a secret
    key = models.CharField(max_length=255)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"")
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["caller", "key"], name="uniq_idempotency_key_per_caller"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key[:40]}"
