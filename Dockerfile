FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000 SHOP_VAR_DIR=/app/var \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
RUN useradd --create-home --uid 10001 shop
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && mkdir -p /app/var && chown shop /app/var
USER shop
EXPOSE 8000
# Migrations are applied on every start; they are idempotent.
CMD ["sh", "-c", "shop migrate && exec gunicorn --config python:shop.entrypoints.gunicorn_conf 'shop.entrypoints.app:create_app()'"]
