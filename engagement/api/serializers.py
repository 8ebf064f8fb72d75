from rest_framework import serializers

from engagement.people.models import Committee, Councillor, Membership, Party
from engagement.places.models import Ward


class WardSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:ward-detail", lookup_field="slug")

    class Meta:
        model = Ward
        fields = ["url", "slug", "name", "ons_code"]


class WardDetailSerializer(WardSerializer):
    class Meta(WardSerializer.Meta):
        fields = [*WardSerializer.Meta.fields, "boundary"]


class PartySerializer(serializers.ModelSerializer):
    class Meta:
        model = Party
        fields = ["slug", "name", "colour"]


class CouncillorSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="api:councillor-detail", lookup_field="slug"
    )
    party = PartySerializer(read_only=True)
    wards = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")

    class Meta:
        model = Councillor
        fields = [
            "url",
            "slug",
            "name",
            "party",
            "wards",
            "portfolio",
            "email",
            "phone",
            "x_handle",
            "mastodon_handle",
            "bluesky_handle",
        ]


class MembershipSerializer(serializers.ModelSerializer):
    councillor = serializers.SlugRelatedField(read_only=True, slug_field="slug")

    class Meta:
        model = Membership
        fields = ["councillor", "role", "start_date", "end_date"]


class CommitteeSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="api:committee-detail", lookup_field="slug"
    )
    memberships = MembershipSerializer(many=True, read_only=True)

    class Meta:
        model = Committee
        fields = ["url", "slug", "name", "description", "memberships"]
