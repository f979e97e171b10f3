FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000 SHOP_VAR_DIR=/app/var \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
RUN groupadd --gid 10001 shop && useradd --create-home --uid 10001 --gid 10001 shop
COPY pyproject.toml README.md ./
COPY src ./src
COPY tools/vendor_docs.py ./tools/
# The API docs' scripts (ReDoc, Swagger UI), pinned in vendor.json: the image serves them itself.
RUN python tools/vendor_docs.py && pip install --no-cache-dir . && mkdir -p /app/var && chown shop:shop /app/var
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8000
# Healthy once the service answers and its database, migrations and Redis are ready. Compose and
# Kubernetes set their own checks; this one serves a plain `docker run`.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('PORT', '8000'), timeout=2)"]
# Only the web server: migrations are a separate one-shot step (`shop migrate`, the compose
# `migrate` service, the Kubernetes Job), never run by each replica. gunicorn is PID 1 and drains
# its workers on SIGTERM within GRACEFUL_TIMEOUT.
CMD ["gunicorn", "--config", "python:shop.entrypoints.gunicorn_conf", "shop.entrypoints.app:create_app()"]
