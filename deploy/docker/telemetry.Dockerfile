# batchgate telemetry: the event recorder: fleet metrics, status page and /healthz /readyz on 9090.
# Build from the repository root:  docker build -f deploy/docker/telemetry.Dockerfile -t batchgate/telemetry .
# What goes in (dependencies, compiled folders, data) is deploy/docker/images.json; scripts/image-check.mjs
# runs these same steps on a machine without Docker and starts the result (test/images.e2e.ts).
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# .npmrc: ignore-scripts (onnxruntime-node's install script stays skipped; its CPU binaries ship in the package).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY apps apps
COPY libs libs
COPY scripts scripts
COPY tools tools
COPY bench bench
RUN npx tsc -p tsconfig.build.json
COPY deploy/docker deploy/docker
RUN node deploy/docker/prune.mjs telemetry /src /out && cp deploy/docker/healthcheck.sh /out/healthcheck.sh

FROM node:24.22.3-bookworm-slim
WORKDIR /app
# Owned by root and not writable by the service's user: the tree runs unchanged under readOnlyRootFilesystem.
COPY --from=build /out /app
ENV NODE_ENV=production BATCHGATE_METRICS_PORT=9090
# The image's "node" user by number, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9090
STOPSIGNAL SIGTERM
# bash's /dev/tcp instead of `node -e fetch(...)`: no second Node process per probe (see healthcheck.sh).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/bin/bash", "/app/healthcheck.sh", "9090", "/readyz"]
CMD ["node","dist/apps/telemetry/src/main.js"]
