"""Small typed helpers around django-simple-history."""

from django.db.models import Model


def set_change_reason(instance: Model, reason: str) -> None:
    """The reason simple-history writes on the historical row of the instance's next save.

    simple-history reads a plain `_change_reason` attribute off the instance; it is not declared
    on the model class, so setattr keeps the type checker honest about that.
    """
    setattr(instance, "_change_reason", reason)  # noqa: B010 - the attribute is not declared on the model
