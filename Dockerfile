# syntax=docker/dockerfile:1
# One image for every porgate service: `porgate run SERVICE`, `porgate migrate`, `porgate topics`.
# Build: docker build -t porgate:latest .

# Both stages must use the same interpreter: the venv's bin/python links to it.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject alone, so a source change does not reinstall them.
# The base dependencies only: the embedded servers behind `porgate dev` and the test tools
# are extras (`dev`, `test`), never in this image.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# The project itself as a wheel (hatchling needs README.md: pyproject's `readme`).
COPY README.md ./
COPY contracts ./contracts
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /tmp/wheels . \
 && pip install --no-deps /tmp/wheels/*.whl

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
# A CJK font, so that the console's Japanese text renders as text, not boxes, wherever the
# image itself draws a page (a headless browser's screenshot or PDF taken in the container).
# Debian's Noto CJK, as .ci/run installs it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid: Kubernetes can only verify runAsNonRoot against a numeric USER.
RUN groupadd --system --gid 10001 porgate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin porgate
COPY --from=builder /opt/venv /opt/venv
# The hosts: Settings default to 127.0.0.1, unreachable from outside a container.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORGATE_HEALTH_HOST=0.0.0.0 \
    PORGATE_API_HOST=0.0.0.0
# Writable for the non-root user (Kubernetes mounts an emptyDir here under a read-only root).
WORKDIR /tmp
USER 10001:10001
# 8080: `porgate run api`; 9100: /livez, /readyz, /healthz, /metrics of `porgate run SERVICE`.
EXPOSE 8080 9100
# Liveness only (/livez): a broker or database outage must not mark every container unhealthy.
# slim has no curl; python is there. `run SERVICE` serves /livez on the health port, `run api`
# on the API port, so either answering will do; ports come from the env in case they moved.
# The health server starts once the database pool is up, hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u\nfor port in (os.environ.get('PORGATE_HEALTH_PORT', '9100'), os.environ.get('PORGATE_API_PORT', '8080')):\n    try:\n        u.urlopen(f'http://127.0.0.1:{port}/livez', timeout=2)\n        sys.exit(0)\n    except OSError:\n        pass\nsys.exit(1)"]
ENTRYPOINT ["porgate"]
CMD ["run", "all"]
