# The latteprov web app (gunicorn) for a group server; see docs/install.md, "Group server".
#   docker build -t latteprov .        or        docker compose up (with Neo4j)
# Settings come from the environment: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD,
# LATTEPROV_SECRET_KEY, LATTEPROV_WEB_* (docs/web.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md ./
COPY latteprov ./latteprov
# tests/test_docker.py runs the pip lines below in a fresh virtual environment.
RUN pip install . \
    && rm -rf /build \
    && useradd --system --create-home --uid 10001 --user-group --shell /usr/sbin/nologin latteprov

USER 10001:10001
WORKDIR /home/latteprov
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"]
CMD ["latteprov", "serve", "--host", "0.0.0.0", "--port", "5000", "--workers", "2", "--threads", "8"]
