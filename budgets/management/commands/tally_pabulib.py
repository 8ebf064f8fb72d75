"""``manage.py tally_pabulib FILE.pb --rule ... [--json]``: count a pabulib file with Moot's rules.

The JSON object's ``selected`` lists the project ids as written in the file, in *selection order*
(the order the rule funded them: for greedy, by votes; for MES and Phragmén, round by round), so a
reader can follow the count; sort them for the file's PROJECTS order.
"""

import argparse
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from budgets.tally.pabulib import PabulibError, election_from_pabulib, read_pabulib
from budgets.tally.rules import COMPLETIONS, RULES, TIE_BREAKS, TallyError, TieBreak, tally


class Command(BaseCommand):
    help = "Count a pabulib (.pb) file with the platform's own tally code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a pabulib .pb file")
        parser.add_argument("--rule", required=True, choices=RULES)
        parser.add_argument("--completion", choices=COMPLETIONS, help="mes only; default none")
        parser.add_argument(
            "--exhaustive-stop",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="mes with add1/add1u: stop at the first exhaustive outcome (default on)",
        )
        parser.add_argument(
            "--integral-start",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="mes with add1/add1u: start from floor(budget / voters) (default off)",
        )
        parser.add_argument(
            "--comparison", action="store_true", default=None, help="mes: compare with greedy"
        )
        parser.add_argument("--tie-break", choices=TIE_BREAKS, default="name")
        parser.add_argument(
            "--seed", type=int, default=None, help="cost-votes-lot: seed of the lot (default 0)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seed"] is not None and options["tie_break"] != "cost-votes-lot":
            raise CommandError("--seed only applies with --tie-break cost-votes-lot")
        if options["rule"] == "mes" and options["completion"] in (None, "none"):
            for flag in ("exhaustive_stop", "integral_start"):
                if options[flag] is not None:
                    name = flag.replace("_", "-")
                    raise CommandError(
                        f"--{name}/--no-{name} only applies with --completion add1 or add1u"
                    )
        try:
            tie_break = TieBreak(options["tie_break"], options["seed"] or 0)
            pb = read_pabulib(options["file"])
            started = time.perf_counter()
            election = election_from_pabulib(pb)
            outcome = tally(
                election,
                options["rule"],
                completion=options["completion"],
                exhaustive_stop=options["exhaustive_stop"],
                integral_start=options["integral_start"],
                comparison=bool(options["comparison"]),
                tie_break=tie_break,
            )
            seconds = time.perf_counter() - started
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror}") from None
        except (PabulibError, TallyError) as exc:
            raise CommandError(f"{options['file']}: {exc}") from None
        result = {
            "rule": options["rule"],
            "selected": list(outcome.selected),
            "spent": str(outcome.spent),
            "budget": str(election.budget),
            "voters": election.voters,
            "projects": len(election.costs),
            "variant": outcome.variant,
            "seconds": round(seconds, 3),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(
            f"{pb.meta.get('description', options['file'])}: {result['voters']} voters, "
            f"{result['projects']} projects, budget {result['budget']}"
        )
        variant = ", ".join(f"{key}={value}" for key, value in outcome.variant.items())
        self.stdout.write(f"Rule: {variant}")
        self.stdout.write(
            f"Selected {len(outcome.selected)} projects (in selection order), spent "
            f"{result['spent']} of {result['budget']}:"
        )
        for pid in outcome.selected:
            name = pb.projects[pid].fields.get("name", "")
            self.stdout.write(f"  {pid}  {pb.projects[pid].cost}  {name}".rstrip())
        self.stdout.write(f"Counted in {result['seconds']} s.")
