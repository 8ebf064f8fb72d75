"""Template helpers for GOV.UK-styled forms."""

from typing import Any

from django import forms, template

register = template.Library()

_INPUT_CLASSES = {
    "textarea": "govuk-textarea",
    "select": "govuk-select",
    "clearablefileinput": "govuk-file-upload",
    "fileinput": "govuk-file-upload",
}


@register.filter
def widget_type(field: forms.BoundField) -> str:
    return field.field.widget.__class__.__name__.lower()


@register.filter
def govuk_input(field: forms.BoundField, css_class: str = "") -> Any:
    """Render the widget with GOV.UK classes and the error/hint described-by wiring.

    Placeholders are dropped (GOV.UK advises against them: they vanish as you type).
    """
    kind = widget_type(field)
    css = css_class or _INPUT_CLASSES.get(kind, "govuk-input")
    if field.errors and not css_class:
        css += f" {css}--error"
    attrs: dict[str, str] = {"class": css}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_helptext")
    if field.errors:
        described.append(f"{field.auto_id}-error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if kind == "emailinput":
        attrs["autocomplete"] = "email"
        attrs["spellcheck"] = "false"
    field.field.widget.attrs.pop("placeholder", None)
    return field.as_widget(attrs=attrs)
