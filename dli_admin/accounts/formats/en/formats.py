"""One time format on every page, the admin's included: 2026-12-01 14:05:09 CET (FORMAT_MODULE_PATH).

The zone's abbreviation is in each time; every page also names the zone in full in its footer.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i:s"
