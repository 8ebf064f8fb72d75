"""Question jobs: forgetting where questions came from once that is no longer needed."""

from engagement.tasks import task

from . import services


@task
def forget_addresses() -> int:
    return services.question_addresses_forget()
