import re
from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def model_label(record: Any) -> str:
    """``app_label.modelname`` of a record, for the history and void URLs."""
    return f"{record._meta.app_label}.{record._meta.model_name}"


@register.simple_tag
def history_url(record: Any) -> str:
    return reverse("record_history", args=[model_label(record), record.pk])


@register.filter
def staff_name(user: Any) -> str:
    """A staff member's full name, falling back to the username; a dash for nobody."""
    if user is None:
        return "—"
    return str(user.get_full_name() or user.username)


# What a phone can dial: an optional + and 6 to 15 ASCII digits (E.164 allows at most 15).
_DIALABLE = re.compile(r"\+?[0-9]{6,15}")
# Where a number stops and a note begins: an extension, or a second number after a comma or slash.
_AFTER_NUMBER = re.compile(r"(?i)\s*(ext\.?|extension|x|,|;|/|or\b).*$")


@register.filter
def tel_href(phone: str) -> str:
    """A ``tel:`` address for a number typed as free text, or "" when it is not one a phone can dial.

    The written-out "(0)" of a UK number after its +44 is dropped (+44 (0)7700 → +447700), an
    extension or a second number is left off, and only ASCII digits and a leading + are kept.
    A number that is still not dialable gets no link (the page shows the text as typed):
    a wrong link would call a wrong number.
    """
    if any(ch.isdigit() and not "0" <= ch <= "9" for ch in phone):
        return ""  # "²", a full-width or another script's digit: not the number it looks like
    number = _AFTER_NUMBER.sub("", phone.replace("(0)", "") if phone.lstrip().startswith("+") else phone)
    kept = ("+" if number.lstrip().startswith("+") else "") + "".join(ch for ch in number if "0" <= ch <= "9")
    return f"tel:{kept}" if _DIALABLE.fullmatch(kept) else ""
