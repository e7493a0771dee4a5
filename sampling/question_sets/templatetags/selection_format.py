"""Template filters for the figures of question sets; the formatting itself
is in :mod:`sampling.question_sets.reports`, shared with the CSV downloads."""

from django import template

from .. import reports

register = template.Library()

register.filter("hours", reports.hours_text)
register.filter("readable_hours", reports.readable_hours)
register.filter("percent", reports.percent_text)
register.filter("pvalue", reports.p_value_text)
register.filter("statistic", reports.statistic_text)
