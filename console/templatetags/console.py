"""Template helpers of the console: `{% tr "中文" "English" %}` picks the text of the active language
(Chinese by default, English when switched), and `units` shows minor units in the asset's unit."""
from __future__ import annotations

from django import template
from django.utils import translation

from core.money import from_minor

register = template.Library()


def is_en() -> bool:
    return (translation.get_language() or "").startswith("en")


@register.simple_tag
def tr(zh: str, en: str) -> str:
    return en if is_en() else zh


@register.filter
def units(amount, scale) -> str:
    if amount is None:
        return "—"
    return from_minor(int(amount), int(scale))


@register.filter
def yuan(amount) -> str:
    if amount is None:
        return "—"
    return from_minor(int(amount), 2)


@register.filter
def name_of(obj) -> str:
    if obj is None:
        return ""
    if is_en() and getattr(obj, "name_en", ""):
        return obj.name_en
    return getattr(obj, "name_zh", str(obj))
