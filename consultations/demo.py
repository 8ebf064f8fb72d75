"""Demo petitions for ``seed_demo``: one open with signatures across the wards, one rejected.

Idempotent: nothing is created if the demo petitions exist. Signatures are stored as confirmed
directly (the demo has no inboxes to click links in).
"""

import random
import secrets
from datetime import timedelta

from django.utils import timezone

from engagement.places.models import Postcode

from .models import Petition, PetitionScheme, PetitionTally, RejectionReason, Signature

DEMO_SEED = 2026
OPEN = "Reopen Llanfair lido for the summer"


def seed_petitions() -> bool:
    if Petition.objects.filter(action=OPEN).exists():
        return False
    postcodes = list(Postcode.objects.select_related("ward").order_by("postcode")[:60])
    if not postcodes:
        return False
    if not PetitionScheme.objects.exists():
        PetitionScheme.objects.create(
            eligibility_cy="Rhaid i chi fyw, gweithio neu astudio yn ardal y cyngor."
        )
    now = timezone.now()
    rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data
    petition = Petition.objects.create(
        action=OPEN,
        background="The lido closed in 2024. Families have nowhere to swim outdoors.",
        details="We ask the council to fund lifeguards for July and August.",
        state=Petition.State.OPEN,
        sponsor_token=secrets.token_urlsafe(16),
        opened_at=now - timedelta(days=20),
        closes_at=now + timedelta(days=160),
    )
    signatures = []
    for n in range(137):
        postcode = rng.choice(postcodes)
        signatures.append(
            Signature(
                petition=petition,
                name=f"Demo signer {n + 1}",
                email=f"signer{n + 1}@demo.invalid",
                normalised_email=f"signer{n + 1}@demo.invalid",
                postcode=postcode.postcode,
                ward=postcode.ward,
                state=Signature.State.VALIDATED,
                creator=n == 0,
                sponsor=0 < n <= 5,
                token_hash=f"demo-{n}",
                validated_at=now - timedelta(days=rng.randint(0, 19)),
            )
        )
    Signature.objects.bulk_create(signatures)
    petition.signature_count = len(signatures)
    petition.response_threshold_at = now - timedelta(days=3)
    petition.save(update_fields=["signature_count", "response_threshold_at"])
    PetitionTally.objects.create(petition=petition, shard=0, confirmed=len(signatures))
    Petition.objects.create(
        action="Ban all cars from the county",
        background="Cars are noisy.",
        state=Petition.State.REJECTED,
        sponsor_token=secrets.token_urlsafe(16),
        moderated_at=now - timedelta(days=5),
        rejection=RejectionReason.objects.filter(code="not-council").first(),
        rejection_details=(
            "Roads through the county include trunk roads run by the Welsh Government."
        ),
    )
    return True
