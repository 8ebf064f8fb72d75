from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from engagement.people.models import Committee, Membership
from engagement.people.selectors import councillors_for_list
from engagement.places.models import Ward
from engagement.places.selectors import postcode_lookup

from .serializers import (
    CommitteeSerializer,
    CouncillorSerializer,
    WardDetailSerializer,
    WardSerializer,
)

# Slugs only: anything else (a NUL byte, say) is a 404 from the router, never a database error.
SLUG_PATTERN = r"[-a-zA-Z0-9_]+"


class WardViewSet(viewsets.ReadOnlyModelViewSet):
    """The council's wards. The detail includes the boundary as a GeoJSON geometry."""

    queryset = Ward.objects.order_by("name")
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

    def get_serializer_class(self):
        return WardDetailSerializer if self.action == "retrieve" else WardSerializer


class CouncillorViewSet(viewsets.ReadOnlyModelViewSet):
    """Serving councillors, with party and wards."""

    serializer_class = CouncillorSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

    def get_queryset(self):
        return councillors_for_list()


class CommitteeViewSet(viewsets.ReadOnlyModelViewSet):
    """Committees and their members."""

    serializer_class = CommitteeSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    queryset = Committee.objects.prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("councillor"))
    ).order_by("name")


@extend_schema(
    responses=inline_serializer(
        "PostcodeLookup",
        {
            "postcode": serializers.CharField(),
            "latitude": serializers.FloatField(),
            "longitude": serializers.FloatField(),
            "ward": serializers.CharField(),
            "ward_name": serializers.CharField(),
        },
    )
)
@api_view(["GET"])
@permission_classes([AllowAny])
def postcode(request: Request, postcode: str) -> Response:
    """Look a postcode up: its point and its ward."""
    try:
        found = postcode_lookup(postcode)
    except ValidationError as exc:
        code = 404 if exc.code == "unknown_postcode" else 400
        return Response({"detail": exc.messages[0]}, status=code)
    return Response(
        {
            "postcode": found.postcode,
            "latitude": found.latitude,
            "longitude": found.longitude,
            "ward": found.ward.slug,
            "ward_name": found.ward.name,
        }
    )
