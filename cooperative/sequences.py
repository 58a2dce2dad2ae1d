"""Race-free counters: two tellers registering at the same instant get different numbers."""

from django.db import IntegrityError, transaction

from .models import Sequence


def next_value(name: str) -> int:
    """Increment and return the counter `name`, holding its row lock until the caller commits."""
    with transaction.atomic():
        row = Sequence.objects.select_for_update().filter(name=name).first()
        if row is None:
            try:
                with transaction.atomic():
                    Sequence.objects.create(name=name, last_value=0)
            except IntegrityError:
                pass  # another process created it first
            row = Sequence.objects.select_for_update().get(name=name)
        row.last_value += 1
        row.save(update_fields=["last_value"])
        return row.last_value
