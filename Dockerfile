# Parley: API + PWA. Build: docker build -t parley .   Run: docker run -p 8000:8000 -v parley-data:/data parley
# Stage 1 builds wheels for the app and its dependencies; stage 2 installs them into a slim runtime as non-root.
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PARLEY_DATA_DIR=/data PARLEY_ENV=production
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin parley \
    && mkdir -p /data && chown parley:parley /data
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# migrations/ and frontend/ are read from the working directory next to the installed package's root
COPY --chown=parley:parley migrations ./migrations
COPY --chown=parley:parley frontend ./frontend
COPY --chown=parley:parley alembic.ini ./
USER parley
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# `parley serve` applies pending migrations, then serves; production needs PARLEY_DATABASE_URL, PARLEY_JWT_SECRET,
# PARLEY_VAPID_PRIVATE_KEY and PARLEY_AUDIT_SIGNING_KEY.
CMD ["parley", "serve", "--host", "0.0.0.0", "--port", "8000"]
