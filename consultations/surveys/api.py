"""The consultations part of the REST API (registered in ``engagement/api/urls.py``): published
consultations with their documents and questionnaire, and aggregate results once they close.
Read-only and public: drafts are hidden; no response or respondent is ever exposed, only totals
(and equality monitoring never)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import Http404
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from . import selectors
from .models import Consultation, Document, Question


class DocumentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["title", "title_cy", "url", "size"]

    def get_url(self, document: Document) -> str:
        request = self.context.get("request")
        url = document.file.url
        return request.build_absolute_uri(url) if request else url


class QuestionSerializer(serializers.ModelSerializer):
    section = serializers.CharField(source="section.title")

    class Meta:
        model = Question
        fields = [
            "key",
            "kind",
            "section",
            "text",
            "text_cy",
            "help_text",
            "help_text_cy",
            "required",
            "options",
            "rows",
            "min_choices",
            "max_choices",
            "min_value",
            "max_value",
            "condition",
        ]


class ConsultationSerializer(serializers.ModelSerializer):
    phase = serializers.CharField()
    url = serializers.SerializerMethodField()
    wards = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Consultation
        fields = [
            "slug",
            "title",
            "title_cy",
            "summary",
            "summary_cy",
            "phase",
            "audience",
            "wards",
            "opens_at",
            "closes_at",
            "response_count",
            "url",
        ]

    def get_url(self, consultation: Consultation) -> str:
        request = self.context.get("request")
        url = consultation.get_absolute_url()
        return request.build_absolute_uri(url) if request else url


class ConsultationDetailSerializer(ConsultationSerializer):
    documents = DocumentSerializer(many=True, read_only=True)
    questions = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()

    class Meta(ConsultationSerializer.Meta):
        fields = [
            *ConsultationSerializer.Meta.fields,
            "description",
            "description_cy",
            "documents",
            "questions",
            "outcome",
        ]

    def get_questions(self, consultation: Consultation) -> list[dict[str, Any]]:
        if consultation.current_version_id is None:
            return []
        qs = selectors.questions(consultation.current_version_id)
        return QuestionSerializer([q for q in qs if not q.section.equality], many=True).data

    def get_outcome(self, consultation: Consultation) -> dict[str, Any] | None:
        if consultation.outcome_published_at is None:
            return None
        return {
            "you_said": consultation.you_said,
            "you_said_cy": consultation.you_said_cy,
            "we_did": consultation.we_did,
            "we_did_cy": consultation.we_did_cy,
            "published_at": consultation.outcome_published_at,
        }


class ConsultationViewSet(viewsets.ReadOnlyModelViewSet):
    """Published consultations; the detail adds documents, questions and the outcome."""

    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return selectors.published().prefetch_related("wards", "documents").order_by("-opens_at")

    def get_serializer_class(self):
        return ConsultationDetailSerializer if self.action == "retrieve" else ConsultationSerializer

    @action(detail=True)
    def results(self, request: Request, slug: str) -> Response:
        """Counts for each closed question and responses by channel, once the consultation has
        closed (404 before)."""
        consultation = self.get_object()
        if consultation.phase not in (Consultation.Phase.CLOSED, Consultation.Phase.OUTCOME):
            raise Http404
        counts = [
            {
                "key": c["question"].key,
                "text": c["question"].text,
                "kind": c["question"].kind,
                "answered": c["answered"],
                "options": [
                    {k: row[k] for k in ("value", "label", "count", "percent", "mean_rank")}
                    for row in c["rows"]
                ],
                "matrix": c["matrix"] if c["question"].kind == Question.Kind.MATRIX else None,
            }
            for c in selectors.question_counts(consultation)
        ]
        channels = dict(
            selectors.submitted(consultation)
            .values_list("channel")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return Response(
            {"responses": consultation.response_count, "by_channel": channels, "questions": counts}
        )
