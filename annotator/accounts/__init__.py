"""Accounts: API tokens that expire, and sign-in throttling (django-axes) told to the user."""
