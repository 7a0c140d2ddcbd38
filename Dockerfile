# One image for web, workers and beat (the command decides). Untested here: this machine
# has no Docker engine.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# torch==2.13.0 from the package index is a CUDA build (GPU workers use it; it runs on CPU too).
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt gunicorn==23.0.0

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 inspectoscope
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production INSPECTOSCOPE_DATA_DIR=/data
WORKDIR /app
COPY --chown=inspectoscope . /app
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && mkdir -p /data && chown inspectoscope /data
USER inspectoscope
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
