"""What a valid filter of a project's jobs is: one set of rules for the jobs page and the command line."""

from __future__ import annotations

from django import forms

from .selectors import JobFilters
from .statuses import STATUSES


class JobFilterFields(forms.Form):
    """DLI's list filters as a form: an invalid field means no filter is known (never "no filter")."""

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
        strip=True,  # the ends only: a space inside a value is part of it
        regex=r"^\s*[^=,\s]+=[^=,]*(,\s*[^=,\s]+=[^=,]*)*\s*$",
        error_messages={"invalid": "Write tags as key=value, separated by commas."},
        help_text="key=value,key2=value2",
    )
    job_type = forms.ChoiceField(
        required=False,
        label="Type",
        choices=[
            ("", "Any type"),
            ("flink_sql_job", "Flink SQL"),
            ("flink_opensource_sql_job", "Flink OpenSource SQL"),
            ("flink_jar_job", "Flink Jar"),
            ("flink_sql_edge_job", "Flink SQL edge"),
        ],
    )

    def filters(self) -> JobFilters | None:
        """The filters to send to DLI; None while any of them is invalid (never "no filter")."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return JobFilters(
            status=data.get("status") or "",
            name=data.get("name") or "",
            queue_name=data.get("queue_name") or "",
            user_name=data.get("user_name") or "",
            tags=data.get("tags") or "",  # as typed: a space inside a value is part of it
            job_type=data.get("job_type") or "",
            order=data.get("order") or "desc",
        )
