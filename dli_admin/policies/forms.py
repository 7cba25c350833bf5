"""What a valid cleanup policy is: one form for the pages and `manage.py cleanup_policy`, so both say the
same thing about the same mistake."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from dli_admin.projects.filters import JobFilterFields
from dli_admin.projects.statuses import ACTIVE_STATUSES, STATUSES, status_label

from .models import CleanupPolicy, Schedule
from .schedule import zone_names

# The filter fields of the jobs page that a policy shares, by the policy's field name.
SHARED_FILTERS = {"name_contains": "name", "queue_name": "queue_name", "user_name": "user_name"}
SHARED_FILTERS |= {"tags_include": "tags", "tags_exclude": "tags"}
NAME_RULE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$"


class PolicyForm(forms.ModelForm):
    active_statuses = ACTIVE_STATUSES  # offered by no page, refused with a message from the command line
    name = forms.RegexField(
        regex=NAME_RULE,
        max_length=60,
        error_messages={"invalid": "A policy name is letters, digits, dots, dashes and underscores."},
    )
    statuses = forms.MultipleChoiceField(
        choices=[(value, label) for value, (label, _) in STATUSES.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one status."},
    )
    at_time = forms.TimeField(
        label="At", input_formats=["%H:%M"], widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"})
    )
    zone = forms.CharField(max_length=64, help_text="an IANA time zone, e.g. Europe/Berlin")

    class Meta:
        model = CleanupPolicy
        fields = [
            "name",
            "statuses",
            "name_contains",
            "queue_name",
            "user_name",
            "tags_include",
            "tags_exclude",
            "min_age_days",
            "max_jobs",
            "schedule",
            "weekday",
            "at_time",
            "zone",
            "mode",
            "enabled",
        ]
        labels = {
            "name_contains": "Name contains",
            "queue_name": "Queue",
            "user_name": "Owner (DLI user)",
            "tags_include": "Tags to include",
            "tags_exclude": "Tags to exclude",
            "min_age_days": "Minimum age (days)",
            "max_jobs": "Maximum jobs per run",
            "weekday": "Day (weekly)",
        }
        help_texts = {
            "tags_include": "key=value,key2=value2: a job must have all of them",
            "tags_exclude": "key=value,...: a job with any of them is kept",
            "max_jobs": "a run that would delete more stops and reports instead",
        }

    def __init__(self, *args: Any, project: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project  # for the name's uniqueness, which the form alone cannot see

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if self.project is not None:
            taken = CleanupPolicy.objects.filter(project=self.project, name=name).exclude(pk=self.instance.pk)
            if taken.exists():
                raise forms.ValidationError(f"This project has a policy named {name!r} already.")
        return name

    def full_clean(self) -> None:
        super().full_clean()
        # A field in error says so to a screen reader, and points at its message (form.html's ids).
        for name in self.errors:
            if name in self.fields:
                attrs = {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}-error"}
                self.fields[name].widget.attrs.update(attrs)

    def clean_statuses(self) -> list[str]:
        statuses: list[str] = self.cleaned_data["statuses"]
        active = [status_label(status) for status in statuses if status in ACTIVE_STATUSES]
        if active:
            raise forms.ValidationError(
                f"A cleanup policy never deletes active jobs: remove {', '.join(active)}."
            )
        return statuses

    def clean_zone(self) -> str:
        zone = self.cleaned_data["zone"].strip()
        if zone not in zone_names():
            raise forms.ValidationError(f"{zone!r} is not an IANA time zone (e.g. Europe/Berlin, UTC).")
        return zone

    def clean_max_jobs(self) -> int:
        value: int = self.cleaned_data["max_jobs"]
        if not 1 <= value <= settings.DLI_MAX_BATCH:
            raise forms.ValidationError(f"Between 1 and {settings.DLI_MAX_BATCH} jobs a run.")
        return value

    def clean_min_age_days(self) -> int:
        value: int = self.cleaned_data["min_age_days"]
        if value > 3650:
            raise forms.ValidationError("At most 3650 days.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        # The jobs page's rules for the filters DLI applies: a policy filter means what it means there.
        for field, filter_field in SHARED_FILTERS.items():
            if field in data:
                checked = JobFilterFields({filter_field: data[field]})
                if not checked.is_valid() and filter_field in checked.errors:
                    self.add_error(field, checked.errors[filter_field])
                else:
                    data[field] = checked.cleaned_data.get(filter_field, "")
        if data.get("schedule") == Schedule.WEEKLY and data.get("weekday") is None:
            self.add_error("weekday", "A weekly policy needs a day.")
        if data.get("schedule") == Schedule.DAILY:
            data["weekday"] = None
        return data
