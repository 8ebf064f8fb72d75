"""The budgets part of the REST API: rounds, budgets, projects, published results and the
anonymised ballots (registered in ``engagement/api/urls.py``). Read-only and public: drafts are
hidden, and results and ballots appear only once the round publishes them."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from engagement.api.pagination import Pagination

from . import selectors
from .exports import ballot_rows
from .models import Budget, Project, Round

PUBLISHED = (Round.Phase.RESULTS, Round.Phase.DELIVERY, Round.Phase.CLOSED)


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "id",
            "reference",
            "title",
            "title_cy",
            "description",
            "cost",
            "category",
            "location_name",
            "latitude",
            "longitude",
            "status",
            "delivery",
            "progress",
        ]


class ResultSerializer(serializers.Serializer):
    selected = serializers.ListField(child=serializers.CharField())
    spent = serializers.DecimalField(max_digits=14, decimal_places=2)
    ballots = serializers.IntegerField()
    satisfied = serializers.IntegerField()
    votes = serializers.DictField(child=serializers.IntegerField())
    variant = serializers.DictField()
    counted_at = serializers.DateTimeField()


class BudgetSerializer(serializers.ModelSerializer):
    ward = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    projects = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "name_cy",
            "ward",
            "amount",
            "ballot_type",
            "min_projects",
            "max_projects",
            "min_spend_percent",
            "points",
            "max_points_per_project",
            "rank_count",
            "rule",
            "completion",
            "exhaustive_stop",
            "integral_start",
            "comparison",
            "tie_break",
            "lot_seed",
            "projects",
            "result",
        ]

    def get_projects(self, budget: Budget) -> list[dict[str, Any]]:
        visible = [p for p in budget.projects.all() if p.status not in ("proposed", "withdrawn")]
        return ProjectSerializer(visible, many=True).data

    def get_result(self, budget: Budget) -> dict[str, Any] | None:
        result = getattr(budget, "result", None)
        if result is None or not result.published or result.status != "done":
            return None
        return ResultSerializer(result).data


class RoundSerializer(serializers.ModelSerializer):
    class Meta:
        model = Round
        fields = [
            "slug",
            "title",
            "title_cy",
            "description",
            "phase",
            "voting_opens_at",
            "voting_closes_at",
            "allow_vote_change",
            "area_rule",
            "minimum_age",
        ]


class RoundDetailSerializer(RoundSerializer):
    budgets = serializers.SerializerMethodField()
    turnout = serializers.SerializerMethodField()

    class Meta(RoundSerializer.Meta):
        fields = [*RoundSerializer.Meta.fields, "budgets", "turnout"]

    def get_budgets(self, round_: Round) -> list[dict[str, Any]]:
        return BudgetSerializer(selectors.round_budgets(round_), many=True).data

    def get_turnout(self, round_: Round) -> dict[str, Any]:
        turnout = selectors.turnout(round_.pk)
        return {"voters": turnout.voters, "by_channel": turnout.by_channel}


class BudgetRoundViewSet(viewsets.ReadOnlyModelViewSet):
    """Participatory budget rounds; the detail has budgets, projects, turnout and, once
    published, each budget's result with every counting option in force."""

    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return selectors.public_rounds()

    def get_serializer_class(self):
        return RoundDetailSerializer if self.action == "retrieve" else RoundSerializer

    @action(detail=True, url_path=r"budgets/(?P<budget_id>[0-9]+)/ballots")
    def ballots(self, request: Request, slug: str, budget_id: str) -> Response:
        """The anonymised ballots of a budget (published rounds only): public id and choices."""
        round_ = self.get_object()
        if round_.phase not in PUBLISHED:
            raise Http404
        try:
            budget = round_.budgets.get(pk=int(budget_id))
        except Budget.DoesNotExist:
            raise Http404 from None
        rows = [
            {"ballot": public_id, "choices": [{"project": r, "value": v} for r, v in picked]}
            for public_id, picked in ballot_rows(budget)
        ]
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(page)
