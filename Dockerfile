# syntax=docker/dockerfile:1
# The Node major the test suite runs on (package.json "engines"). Pinned by version tag.
# A digest pin (node:20.20.2-bookworm-slim@sha256:…) would be stronger, but none could be
# verified where this was written: no Docker engine and no registry access there. Where
# there is, add it from `docker buildx imagetools inspect node:20.20.2-bookworm-slim`.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# Build stage: compiles TypeScript and the better-sqlite3 addon (Debian bookworm, glibc).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# npm ci runs the `prepare` script (scripts/run.mjs --build-only): with no sources yet, it
# builds nothing; `npm run build` below does, once they are copied.
COPY scripts/run.mjs ./scripts/run.mjs
RUN npm ci --no-audit --no-fund
# Everything `npm run build` reads: tsconfig.build.json compiles src, routes, db and
# scripts; the build then copies db/*/migrations into dist.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY db ./db
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

# Runtime stage: the same Debian bookworm (same glibc as the addon was built against), non-root.
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="timgate" org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 TIM_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY LICENSE ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# On SIGTERM the gateway stops taking requests and finishes those in flight for up to 10 s
# (src/server.ts). docker stop also waits 10 s before SIGKILL: give it more, with
# `docker stop -t 30`, `docker run --stop-timeout 30` or compose's stop_grace_period
# (compose.yaml sets 30s). See docs/operations.md.
STOPSIGNAL SIGTERM
# start-period: failures while it starts (migrations, a database still coming up) do not count.
HEALTHCHECK --start-period=30s --interval=30s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/server.js"]
