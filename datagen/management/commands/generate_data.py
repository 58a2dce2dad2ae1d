"""`python manage.py generate_data --members 100000 --loans 50000 --postings 2000000 --branches 20`."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from datagen.generator import GenerationRefused, Generator, Sizes
from datagen.generator.pipeline import REAL_BOOKS_FLAG


def _positive(value: str) -> int:
    number = int(value.replace("_", "").replace(",", ""))
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Generate a realistic, consistent dataset (PostgreSQL only, loaded with COPY in one transaction). "
        "--postings counts ledger legs (ledger_transaction rows), all entries included. Refuses a "
        "database that has members unless --append, and a database with real (non-generated) postings "
        f"unless {REAL_BOOKS_FLAG}. Installed only with COOP_ENABLE_DATAGEN=true (never in production)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=_positive, default=1000)
        parser.add_argument("--loans", type=_positive, default=500)
        parser.add_argument(
            "--postings",
            type=_positive,
            default=20000,
            help="Ledger legs to write in all (openings, loans, then a year of member activity).",
        )
        parser.add_argument("--branches", type=_positive, default=5)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="Business date the year ends on (default today).",
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="Add a generated dataset to a database that already has members (numbers continue).",
        )
        parser.add_argument(
            REAL_BOOKS_FLAG,
            dest="into_real_books",
            action="store_true",
            help=(
                "Generate even though the database holds journal entries generate_data did not write "
                "(real postings): fake members, loans and money then sit in the same books. Only for a "
                "copy of real data that is itself a test database."
            ),
        )

    def handle(self, *args, **options):
        if options["branches"] < 1 or options["members"] < 1:
            raise CommandError("--branches and --members must be at least 1.")
        sizes = Sizes(
            members=options["members"],
            loans=options["loans"],
            postings=options["postings"],
            branches=options["branches"],
            seed=options["seed"],
            as_of=options["as_of"],
            append=options["append"],
            into_real_books=options["into_real_books"],
        )
        try:
            Generator(sizes, out=lambda line: self.stdout.write(line)).run()
        except GenerationRefused as exc:
            raise CommandError(str(exc)) from exc
