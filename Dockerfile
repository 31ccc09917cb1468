# Linli API + pages. Expects DATABASE_URL (PostgreSQL >= 15); migrations run at start-up.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LINLI_HOME=/app LINLI_HOST=0.0.0.0 PORT=8000

RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 linli

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY api ./api
COPY domain ./domain
COPY linli ./linli
COPY bench ./bench
COPY migrations ./migrations
COPY frontend ./frontend
# Exactly the versions CI tested: the lock pins every dependency (README, "Dependencies").
RUN pip install -c requirements.lock .

USER linli
EXPOSE 8000
# Liveness (/healthz reads no database): a PostgreSQL outage must not mark every app container
# unhealthy and get them restarted. Load balancers route on readiness, /readyz (database + migrations).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["linli", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
