"""``manage.py seed_demo``: create or refresh the demo council (idempotent)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from engagement.core.demo import (
    DEMO_COUNCIL,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    DEMO_USERS,
    demo_allowed,
    demo_recovery_codes,
    seed_demo,
)


class Command(BaseCommand):
    help = (
        "Create the demo council (wards, postcodes, councillors, committees, demo sign-ins). "
        "Safe to run again: it changes nothing the second time. Demo settings only."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not demo_allowed():
            raise CommandError(
                "seed_demo creates accounts with published passwords and two-factor secrets, so "
                "it runs only when the MOOT_DEMO or DEBUG setting is on (for example with "
                "engagement.settings.local)."
            )
        try:
            summary = seed_demo()
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from None
        self.stdout.write(f"Demo council: {DEMO_COUNCIL['name']}")
        for result in summary.results.values():
            for line in result.lines():
                self.stdout.write(f"  {line}")
        if not summary.changed:
            self.stdout.write("  Already up to date: nothing changed.")
        self.stdout.write("")
        self.stdout.write(f"Demo sign-ins (password: {DEMO_PASSWORD}):")
        for demo in DEMO_USERS:
            note = "new" if demo.email in summary.users_created else "existing"
            line = f"  {demo.email:<24} {demo.description} ({note})"
            if demo.needs_totp:
                line += f"; code: python manage.py demo_totp {demo.email}"
            self.stdout.write(line)
        self.stdout.write(
            f"Two-factor for staff and admin (DEMO ONLY): TOTP secret {DEMO_TOTP_SECRET}; "
            f"recovery codes {' '.join(demo_recovery_codes())}"
        )
