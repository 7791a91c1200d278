# Tessera in a container: S3 on port 9000, four disks /data/disk1 … /data/disk4 and the
# metadata in /data/meta, each its own volume, all owned by the unprivileged user `node`.
#
#   docker build -t tessera .
#   docker run -d -p 9000:9000 \
#     -v tessera-disk1:/data/disk1 -v tessera-disk2:/data/disk2 \
#     -v tessera-disk3:/data/disk3 -v tessera-disk4:/data/disk4 -v tessera-meta:/data/meta \
#     -e TESSERA_ROOT_ACCESS_KEY_FILE=/run/secrets/access_key \
#     -e TESSERA_ROOT_SECRET_KEY_FILE=/run/secrets/secret_key tessera
#
# docs/operations.md covers Docker, Compose and Kubernetes. For protection against a failed
# drive, mount one directory per physical drive (owned by uid 1000) instead of named volumes.
# With HTTPS, mount the certificate and key and set TESSERA_TLS_CERT / TESSERA_TLS_KEY;
# `docker kill --signal=HUP <container>` reloads them.
#
# Node 24: an LTS line supported until April 2028 (22 ends in April 2027, 20 ended in April
# 2026). The tests pass on 22; on 24 too, but for the memory goals without the NODE_OPTIONS below. scripts/container-smoke.sh runs these stages' steps on the
# same Node major without a container engine; keep it in step when this file changes (the test
# test/deploy/manifests.test.ts checks what it can).

FROM node:24-bookworm-slim AS build
# The native CRC32C addon (sse4_crc32) and LevelDB (classic-level) build with node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compile, then drop the compilers, type definitions and test clients from node_modules: the
# final stage copies only what the server needs at run time.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# TESSERA_PRINT_SECRET=false: a configured root secret never reaches the container log (a pair
# generated on the first start is still shown once, as it cannot be learnt otherwise).
# --max-semi-space-size=16 (MiB): Node 24 lets V8's young generation grow to several times
# Node 22's 16 MiB, and keeps it; the server's RSS after a burst of listings then stays over
# 250 MiB instead of ~150 (tessera bench memory misses its goals). This keeps Node 22's size.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    TESSERA_ADDRESS=0.0.0.0:9000 \
    TESSERA_DISKS=/data/disk1,/data/disk2,/data/disk3,/data/disk4 \
    TESSERA_META_DIR=/data/meta \
    TESSERA_PRINT_SECRET=false
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
COPY bin ./bin
# Docker gives a new named volume the owner and mode of the image directory it is mounted on,
# so these make every volume writable by `node` (and private to it) from the first start.
RUN mkdir -p /data/disk1 /data/disk2 /data/disk3 /data/disk4 /data/meta \
 && chown -R node:node /data \
 && chmod 700 /data/disk1 /data/disk2 /data/disk3 /data/disk4 /data/meta
VOLUME ["/data/disk1", "/data/disk2", "/data/disk3", "/data/disk4", "/data/meta"]
EXPOSE 9000
USER node
# GET /health/live over loopback, HTTPS when TESSERA_TLS_CERT is set (slim images have no curl).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "dist/src/cli/healthcheck.js", "/health/live"]
# `docker stop` sends SIGTERM to node itself (no shell or npm in between): a graceful stop.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "server"]
