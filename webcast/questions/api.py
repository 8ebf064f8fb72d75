"""The questions part of the REST API: a meeting's public questions (approved, being answered,
answered) with their votes and, once answered, the moment in the recording. Read-only and
public, like the feed; who asked is never exposed beyond the name shown."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from rest_framework import generics, serializers

from engagement.api.pagination import Pagination
from webcast.models import Meeting

from .models import Question


class QuestionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="public_name")
    item = serializers.CharField(source="item.number", default=None)
    votes = serializers.IntegerField(source="vote_count")
    asked_at = serializers.DateTimeField(source="created_at")
    recording_url = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = [
            "id",
            "text",
            "name",
            "item",
            "state",
            "votes",
            "source",
            "asked_at",
            "answering_at",
            "answered_at",
            "recording_url",
        ]

    def get_recording_url(self, question: Question) -> str:
        """Where the answer starts in the meeting's recording (empty until it was taken)."""
        if question.answering_at is None:
            return ""
        url = settings.SITE_URL.rstrip("/") + question.meeting.get_absolute_url()
        return f"{url}?t={int(question.answering_at.timestamp())}#player"


class MeetingQuestionList(generics.ListAPIView):
    """A meeting's public questions, most votes first (``?order=newest`` for newest first)."""

    serializer_class = QuestionSerializer
    pagination_class = Pagination

    def get_queryset(self):
        meeting = get_object_or_404(Meeting, pk=self.kwargs["meeting_pk"])
        queryset = Question.objects.filter(
            meeting=meeting, state__in=Question.PUBLIC_STATES
        ).select_related("item", "meeting")
        if self.request.query_params.get("order") == "newest":
            return queryset.order_by("-created_at", "-pk")
        return queryset.order_by("-vote_count", "created_at", "pk")
