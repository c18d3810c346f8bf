# The exchange's Python image: one image for web (gunicorn), worker and beat (see docker-compose.yml).
# It carries the application only: tests, bench, CI and dev requirements stay out (.dockerignore).
# pinned by tag (the Python the project is tested with); pin by digest for reproducible deployments
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings

WORKDIR /app

# psycopg2-binary brings its own libpq; curl is for the health check
RUN apt-get update -q && apt-get install -y -q --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

# the runtime only, exactly as locked (versions and hashes): no test, lint or bench tools in the image
COPY requirements.lock .
RUN pip install --require-hashes -r requirements.lock

COPY . .

# the web console's browser assets (ECharts, htmx) at the package-lock.json versions, served by whitenoise
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm \
    && npm ci --no-audit --no-fund --loglevel=error \
    && mkdir -p console/static/console/vendor \
    && cp node_modules/echarts/dist/echarts.min.js node_modules/htmx.org/dist/htmx.min.js console/static/console/vendor/ \
    && rm -rf node_modules && apt-get purge -y -q nodejs npm && apt-get autoremove -y -q && rm -rf /var/lib/apt/lists/*

# settings refuse to load without keys when DEBUG is off: collectstatic needs none (DEBUG=1, a random throwaway)
RUN DEBUG=1 SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home /app exchange && chown -R exchange /app
USER exchange

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=6 CMD curl -fs http://127.0.0.1:8000/healthz || exit 1

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", \
     "--no-control-socket", "--access-logfile", "-"]
