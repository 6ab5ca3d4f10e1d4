# xp service image: gunicorn serving the Flask app; SQLite in /data unless XP_STORE_URL is set.
# gunicorn reads service/xp/gunicorn_conf.py (through `xp serve`), then GUNICORN_CMD_ARGS.
# Do not publish port 8000 to clients: put a buffering proxy in front (docker-compose.yml runs
# nginx with deploy/nginx/), since a slow client holds a gunicorn thread for as long as it likes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XP_DATA_DIR=/data \
    XP_EXPERIMENTS_DIR=/app/experiments

WORKDIR /app
COPY pyproject.toml README.md ./
COPY client ./client
COPY service ./service
RUN pip install --no-cache-dir ./client . && useradd --system --home /app xp && mkdir /data && chown xp /data
COPY experiments ./experiments

USER xp
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["xp", "serve", "--host", "0.0.0.0", "--port", "8000"]
