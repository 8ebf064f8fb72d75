from engagement.council.selectors import council_settings
from engagement.tasks import task

from . import services


@task
def apply_retention() -> int:
    """Daily: anonymise resident accounts past the council's inactivity retention period."""
    return services.inactive_residents_anonymise(
        days=council_settings().retention_inactive_account_days
    )
