# Tessera in a container: four disk directories under /data (mount one volume per disk, or one
# volume for all), metadata in /data/meta, S3 on port 9000.
#
#   docker build -t tessera .
#   docker run -p 9000:9000 -v tessera-data:/data tessera
#
# Anything beyond one machine should use HTTPS: mount the certificate and key (readable by the
# container's user, uid 1000) and name them; `docker kill --signal=HUP <container>` reloads them.
#
#   docker run -p 9000:9000 -v tessera-data:/data -v /etc/tessera/tls:/tls:ro \
#     -e TESSERA_TLS_CERT=/tls/server.pem -e TESSERA_TLS_KEY=/tls/server.key tessera

FROM node:20-bookworm-slim AS build
# The native CRC32C addon (sse4_crc32) and LevelDB (classic-level) build with node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    TESSERA_ADDRESS=0.0.0.0:9000 \
    TESSERA_DISKS=/data/disk1,/data/disk2,/data/disk3,/data/disk4 \
    TESSERA_META_DIR=/data/meta
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
EXPOSE 9000
USER node
CMD ["node", "dist/src/cli/main.js", "server"]
