"""``manage.py demo_totp EMAIL``: print a demo staff account's current two-factor code."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.core.demo import demo_allowed, demo_totp_code


class Command(BaseCommand):
    help = (
        "Print the current 6-digit TOTP code of a demo staff or admin account (one set up by "
        "seed_demo). Only with MOOT_DEMO or DEBUG on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the demo account, e.g. staff@example.org")

    def handle(self, *args: object, email: str, **options: object) -> None:
        if not demo_allowed():
            raise CommandError(
                "demo_totp works only when the MOOT_DEMO or DEBUG setting is on: it is for the "
                "demo council, not for real accounts."
            )
        try:
            code = demo_totp_code(email=email)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(code)
