# prbot serve in a container. The same install step as ./dev (pip install of the
# project), which CI runs on every change; there is no Docker engine in CI to build this.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 prbot
WORKDIR /app
COPY pyproject.toml README.md ./
COPY prbot ./prbot
COPY automations ./automations
RUN pip install --no-cache-dir . && rm -rf /root/.cache

RUN mkdir /data && chown prbot /data
USER prbot
# the SQLite database, its WAL, writer lock and webhook bodies (back up together)
ENV PRBOT_DATA_DIR=/data \
    PRBOT_AUTOMATIONS_DIR=/app/automations \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 3000
# set WEBHOOK_SECRET (and/or GITLAB_WEBHOOK_SECRET) and the SCM credentials at run time;
# PRBOT_WEB_PROCESSES to the container's cores for webhook intake beyond one core
CMD ["prbot", "serve"]
