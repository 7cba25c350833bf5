"""What the delete engine tells other apps, without importing them (docs/architecture.md)."""

from django.dispatch import Signal

# Sent once a batch has ended (the runner's last step), with batch=the DeleteBatch.
batch_ended = Signal()
