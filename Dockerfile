# The sealpost workers (audit, dead-letter) as a container image, for users with Docker.
#   docker build -t sealpost-workers .
#   docker run --env-file worker.env -v "$PWD/keys:/keys:ro" -v sealpost-data:/data sealpost-workers node dist/workers/audit/main.js
# docker-compose.yml runs both workers this way (profile "workers"). Not built on the project's own
# machines, which have no Docker engine.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its addon when no prebuilt binary can be fetched.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workers workers
COPY schemas schemas
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    SEALPOST_HTTP_PORT=9400 \
    SEALPOST_HTTP_HOST=0.0.0.0 \
    SEALPOST_AUDIT_DB=/data/audit.db \
    SEALPOST_QUARANTINE_DB=/data/quarantine.db
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/schemas schemas
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9400
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.SEALPOST_HTTP_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/workers/audit/main.js"]
