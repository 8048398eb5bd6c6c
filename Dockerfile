# syntax=docker/dockerfile:1
# Multi-stage: build a wheel-installed virtualenv, then copy it into a slim runtime.
FROM python:3.11-slim AS build
# g++ builds pdqhash; only in this stage, so the base image's Debian release pins it.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY classifiers ./classifiers
COPY labels ./labels
COPY modlabel ./modlabel
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 modlabel \
    && mkdir -p /data /tmp/modlabel-metrics && chown modlabel /data /tmp/modlabel-metrics
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    MODLABEL_HOST=0.0.0.0 \
    MODLABEL_PORT=8000 \
    MODLABEL_WORKERS=2 \
    MODLABEL_DATA_DIR=/data \
    PROMETHEUS_MULTIPROC_DIR=/tmp/modlabel-metrics \
    PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/modlabel
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["modlabel", "serve"]
