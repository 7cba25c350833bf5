from __future__ import annotations

from typing import Any

from django import forms

from dli_admin.projects.models import project_id_validator

from .models import AuditOutcome
from .selectors import ACCESS, MAX_ID, REFUSED, AuditFilters


class AuditFilterForm(forms.Form):
    """The review list's filters (a GET form, so the URL keeps them) and its keyset cursors."""

    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    project = forms.CharField(
        required=False, max_length=64, validators=[project_id_validator], label="Project id"
    )
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "any"), *AuditOutcome.choices, (REFUSED, "refused"), (ACCESS, "access change")],
    )
    job = forms.CharField(required=False, max_length=255, label="Job id or name")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, max_value=MAX_ID, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean() returns
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            actor=data["actor"].strip(),
            project_id=data["project"].strip(),
            outcome=data["outcome"],
            job=data["job"].strip(),
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
