from __future__ import annotations

from django import forms

from dli_admin.projects.jobs import parse_job_id
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
        # Django takes any value here (docs: "the value to use to represent empty"); the stubs say str.
        empty_value=50,  # type: ignore[arg-type]
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


class JobIdListField(forms.CharField):
    """Comma-separated DLI job ids (the rows a page shows), at most one page's worth."""

    def to_python(self, value: object) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        ids = [parse_job_id(part) for part in text.split(",") if part]
        if len(ids) > 500 or any(job_id is None for job_id in ids):
            raise forms.ValidationError("rows must be at most 500 comma-separated job ids")
        return [job_id for job_id in ids if job_id is not None]


class BatchPollForm(forms.Form):
    """What a polling progress panel sends: the job rows it shows, and when it last looked."""

    rows = JobIdListField(required=False, max_length=12_000)
    since = forms.DateTimeField(required=False)


class BatchPageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
