"""Write docs/workflows.md from every app's state machines (`<app>/workflow.py`)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cooperative.workflow import render_docs

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "workflows.md"


class Command(BaseCommand):
    help = "Write docs/workflows.md (one table and one mermaid diagram per state machine)."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(DEFAULT_PATH), help="Where to write (- for stdout).")
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; exit 1 when the file is not current."
        )

    def handle(self, *args, output: str, check: bool, **options):
        text = render_docs()
        if output == "-":
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        if check:
            if not path.is_file() or path.read_text() != text:
                raise CommandError(f"{path} is stale: run `python manage.py workflow_docs`.")
            self.stdout.write(f"{path} is current.")
            return
        path.write_text(text)
        self.stdout.write(f"Wrote {path}.")
