# prbot serve in a container. The same install as CI's: a wheel built from the checkout
# and installed (not editable) with its dependencies; CI runs `prbot demo` from such an
# install on every change. There is no Docker engine in CI to build this file itself.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 prbot
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/prbot-*.whl && rm -rf /dist /root/.cache
COPY automations /app/automations

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
# /readyz answers 200 once the store is open and the workers run (503 while not)
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/readyz\", timeout=4)"]
# set WEBHOOK_SECRET (and/or GITLAB_WEBHOOK_SECRET) and the SCM credentials at run time;
# PRBOT_WEB_PROCESSES to the container's cores for webhook intake beyond one core
CMD ["prbot", "serve"]
