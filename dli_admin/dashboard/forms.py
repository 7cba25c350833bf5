from __future__ import annotations

from django import forms

from dli_admin.projects.selectors import PAGE_SIZES, JobFilters
from dli_admin.projects.statuses import STATUSES


class JobFilterForm(forms.Form):
    """The jobs page's filters, page and page size: all in the URL so a view can be shared."""

    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status")] + [(value, label) for value, (label, _) in STATUSES.items()],
    )
    name = forms.CharField(required=False, max_length=57, strip=True)
    queue_name = forms.CharField(required=False, max_length=128, strip=True, label="Queue")
    user_name = forms.CharField(required=False, max_length=128, strip=True, label="Owner")
    tags = forms.RegexField(
        required=False,
        max_length=512,
        regex=r"^\s*[^=,\s]+=[^=,]*(,\s*[^=,\s]+=[^=,]*)*\s*$",
        error_messages={"invalid": "Write tags as key=value, separated by commas."},
        help_text="key=value,key2=value2",
    )
    order = forms.ChoiceField(
        required=False, choices=[("desc", "Newest first"), ("asc", "Oldest first")], initial="desc"
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    page_size = forms.TypedChoiceField(
        required=False,
        choices=[(size, f"{size} per page") for size in PAGE_SIZES],
        coerce=int,
        empty_value=50,
    )

    def filters(self) -> JobFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return JobFilters(
            status=data.get("status") or "",
            name=data.get("name") or "",
            queue_name=data.get("queue_name") or "",
            user_name=data.get("user_name") or "",
            tags=(data.get("tags") or "").replace(" ", ""),
            order=data.get("order") or "desc",
        )

    def page_number(self) -> int:
        return (self.cleaned_data.get("page") if self.is_valid() else None) or 1

    def page_size_value(self) -> int:
        return (self.cleaned_data.get("page_size") if self.is_valid() else None) or 50
