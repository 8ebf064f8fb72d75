"""The council-wide flag words, edited in the admin (every change audited). Questions
themselves are moderated on the staff pages (``/staff/meetings/<id>/questions/``)."""

from django.contrib import admin

from engagement.core.admin import AuditedModelAdmin

from .models import FlagWord


@admin.register(FlagWord)
class FlagWordAdmin(AuditedModelAdmin):
    search_fields = ["word"]

    def save_model(self, request, obj, form, change) -> None:
        from .selectors import flag_words

        obj.word = " ".join(obj.word.split()).lower()
        super().save_model(request, obj, form, change)
        flag_words.forget()

    def delete_model(self, request, obj) -> None:
        from .selectors import flag_words

        super().delete_model(request, obj)
        flag_words.forget()
