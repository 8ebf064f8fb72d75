"""Budget jobs: thin, taking ids, idempotent (a re-run recounts from the stored ballots)."""

from engagement.tasks import task

from . import services


@task
def count_budget(budget_id: int) -> str:
    return services.result_count(budget_id=budget_id).status
