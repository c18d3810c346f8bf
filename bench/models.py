from django.db import models


class BenchRow(models.Model):
    """One row per bare request or bare task: the ceiling the real paths are compared with."""

    source = models.CharField(max_length=8)  # "http" | "task"
    note = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
