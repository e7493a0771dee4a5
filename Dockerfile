FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TAXONOMIST_DATA_DIR=/data STATIC_ROOT=/app/staticfiles
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libxml2 libxslt1.1 \
    && rm -rf /var/lib/apt/lists/*
# Dependencies first (cached while only the code changes), then the code itself.
# The runtime's exact versions (requirements.lock, made from pyproject.toml by `make lock`).
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN TAXONOMIST_PRODUCTION=1 SECRET_KEY=build-only-collectstatic-key-never-used-when-the-app-runs \
    TAXONOMIST_DATA_DIR=/tmp/build python manage.py collectstatic --noinput
RUN useradd --create-home taxonomist && mkdir -p /data && chown taxonomist /data
USER taxonomist
EXPOSE 8000
CMD ["gunicorn", "annotator.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
