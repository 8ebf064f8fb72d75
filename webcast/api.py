"""The webcast part of the REST API: meetings with their agendas, documents, agenda times and
the stream or recording (registered in ``engagement/api/urls.py``). Read-only and public, like
the meeting pages; nothing of the ingest (keys, health) is exposed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers, viewsets

from engagement.api.pagination import Pagination

from . import selectors
from .models import AgendaItem, Meeting


class MeetingSerializer(serializers.ModelSerializer):
    committee = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Meeting
        fields = ["id", "committee", "title", "starts_at", "venue", "status", "url"]

    def get_url(self, meeting: Meeting) -> str:
        return settings.SITE_URL.rstrip("/") + meeting.get_absolute_url()


class AgendaItemSerializer(serializers.ModelSerializer):
    documents = serializers.SerializerMethodField()
    started_at = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()

    class Meta:
        model = AgendaItem
        fields = ["id", "number", "title", "description", "documents", "started_at", "subject"]

    def get_documents(self, item: AgendaItem) -> list[dict[str, Any]]:
        return [{"title": d.title, "url": d.file.url, "size": d.size} for d in item.documents.all()]

    def get_started_at(self, item: AgendaItem) -> list[str]:
        return [mark.at.isoformat() for mark in item.marks.all()]

    def get_subject(self, item: AgendaItem) -> dict[str, Any] | None:
        subject = item.subject
        if subject is None:
            return None
        url = subject.get_absolute_url() if hasattr(subject, "get_absolute_url") else ""
        return {"type": item.subject_type.model, "id": item.subject_id, "url": url}


class MeetingDetailSerializer(MeetingSerializer):
    description = serializers.CharField()
    agenda = serializers.SerializerMethodField()
    stream = serializers.SerializerMethodField()
    recording = serializers.SerializerMethodField()

    class Meta(MeetingSerializer.Meta):
        fields = [*MeetingSerializer.Meta.fields, "description", "agenda", "stream", "recording"]

    def get_agenda(self, meeting: Meeting) -> list[dict[str, Any]]:
        return AgendaItemSerializer(selectors.agenda_items(meeting), many=True).data

    def get_stream(self, meeting: Meeting) -> str:
        return selectors.hls_url(meeting)

    def get_recording(self, meeting: Meeting) -> dict[str, Any]:
        return selectors.archive_urls(meeting)


class MeetingViewSet(viewsets.ReadOnlyModelViewSet):
    """Council meetings, soonest last (``?committee=<slug>`` for one committee); the detail has
    the agenda with documents and agenda times, the live stream and, once archived, the
    recording (MP4, chapters, captions)."""

    pagination_class = Pagination

    def get_queryset(self):
        queryset = selectors.meetings_base().order_by("-starts_at", "-pk")
        committee = self.request.query_params.get("committee")
        if committee:
            queryset = queryset.filter(committee__slug=committee[:170])
        return queryset

    def get_serializer_class(self):
        return MeetingDetailSerializer if self.action == "retrieve" else MeetingSerializer
