"""Reviewing the raters' labels: agreement (how far they agree) and arbitration (what is final)."""
