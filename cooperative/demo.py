"""Demo data registry: apps contribute seeders in AppConfig.ready(); `seed_demo` runs them in order.

A seeder is `fn(*, branch, other_branch, staff, stdout)` and must be idempotent.
"""

from collections.abc import Callable

_seeders: list[tuple[int, str, Callable]] = []


def register(seeder: Callable, *, order: int = 100) -> None:
    name = f"{seeder.__module__}.{seeder.__qualname__}"
    if all(existing != name for _, existing, _ in _seeders):
        _seeders.append((order, name, seeder))


def seeders() -> list[Callable]:
    return [fn for _, _, fn in sorted(_seeders, key=lambda item: (item[0], item[1]))]
