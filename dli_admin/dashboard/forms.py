from __future__ import annotations

from django import forms

from dli_admin.projects.filters import JobFilterFields
from dli_admin.projects.jobs import parse_job_id
from dli_admin.projects.selectors import PAGE_SIZES


class JobFilterForm(JobFilterFields):
    """The jobs page's filters (projects.filters), order, page and page size: all in the URL."""

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

    def full_clean(self) -> None:
        """A wrong page or page size falls back (page 1, 50 per page), and the form then shows what is used.

        Filter fields do not fall back: one invalid filter means no filter is known, so nothing is listed.
        """
        super().full_clean()
        self.fallbacks: list[str] = []
        if not self.is_bound:
            return
        data = dict(self.data.items())  # a flat copy: every field here takes one value
        if "page" in self.errors:
            self.fallbacks.append(f"Page “{self.data.get('page')}” does not exist: showing page 1.")
            del self.errors["page"]
            self.cleaned_data["page"] = None
            data.pop("page", None)
        if "page_size" in self.errors:
            self.fallbacks.append(
                f"Page size “{self.data.get('page_size')}” is not offered: showing 50 per page."
            )
            del self.errors["page_size"]
        if not self.cleaned_data.get("page_size"):
            self.cleaned_data["page_size"] = 50
        data["page_size"] = str(self.cleaned_data["page_size"])  # the control shows the size used
        self.data = data

    def page_number(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("page") or 1

    def page_size_value(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("page_size") or 50


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
