# Coopdesk image: gunicorn serving cooperative.wsgi, static files collected at build time and served
# by whitenoise. The same image runs the Celery worker and beat with another command:
#   docker run ... coopdesk celery -A cooperative worker -l info
#   docker run ... coopdesk celery -A cooperative beat -l info
# Configuration comes from environment variables only (.env.example, docs/operations.md).
# Python 3.12 (the code supports 3.11+, see pyproject.toml; CI and the demo run 3.11).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# PDF statements (reportlab) embed DejaVu Sans when it is installed (Helvetica otherwise, without
# Yoruba/Igbo diacritics); every Python dependency ships as a binary wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-dejavu-core shared-mime-info \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system coopdesk \
    && useradd --system --gid coopdesk --home-dir /app --no-create-home --shell /usr/sbin/nologin coopdesk

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .

# A throwaway key: collectstatic needs settings to load, and DEBUG=false picks whitenoise's
# compressed manifest storage. The real DJANGO_SECRET_KEY is given at run time.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=build-only-collectstatic-key-never-used-at-run-time-0123456789 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/media \
    && chown -R coopdesk:coopdesk /app/media

USER coopdesk
ENV DJANGO_DEBUG=false \
    PORT=8000 \
    WEB_CONCURRENCY=3
EXPOSE 8000

# No curl in the slim image: probe with Python. The Host header must be an allowed host, so the
# first DJANGO_ALLOWED_HOSTS entry is sent ("/health/" is exempt from the HTTPS redirect).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "import os, sys, urllib.request as u; host = os.environ.get('DJANGO_ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.*') or 'localhost'; r = u.urlopen(u.Request('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8000'), headers={'Host': host}), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# Migrations are a separate one-off step before a release: docker run ... coopdesk python manage.py migrate
CMD ["sh", "-c", "exec gunicorn cooperative.wsgi:application --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY} --timeout 60 --no-control-socket --access-logfile - --error-logfile -"]
