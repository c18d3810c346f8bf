"""Minimal Django settings for the django-hordak peer benchmark (bench venv only; its own database on the
bench's PostgreSQL server, given by HORDAK_DATABASE_URL). Not used by the exchange."""
import os

import dj_database_url

SECRET_KEY = "bench-hordak-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "mptt", "djmoney", "hordak"]
DATABASES = {"default": dj_database_url.parse(os.environ["HORDAK_DATABASE_URL"], conn_max_age=600)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DEFAULT_CURRENCY = "CNY"
HORDAK_CURRENCIES = ["CNY"]
CURRENCIES = ["CNY"]
