# syntax=docker/dockerfile:1
# The bridge for production: `docker build -t chaoschain/zerog-compute-bridge .` then
# `docker run -p 50051:50051 -e ZEROG_WALLET_KEY=0x… chaoschain/zerog-compute-bridge` (0G testnet).
# See apps/bridge/README.md, "Docker".

# --- build: install the workspace, build the bridge and what it uses, assemble it ---------------
FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source (no prebuilt binary is fetched).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN npm install --global --no-fund --no-audit pnpm@10.34.8
WORKDIR /src
COPY . .
ENV CI=true TURBO_TELEMETRY_DISABLED=1 npm_config_nodedir=/usr/local
RUN pnpm install --frozen-lockfile --filter "@chaoschain/zerog-bridge..." \
 && pnpm exec turbo run build --filter "@chaoschain/zerog-bridge..." --output-logs=errors-only \
 && node scripts/assemble-bridge.mjs /out

# --- runtime: node, the assembled bridge, a non-root user --------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    ZEROG_NETWORK=testnet \
    ZEROG_BRIDGE_HOST=0.0.0.0 \
    ZEROG_BRIDGE_PORT=50051 \
    ZEROG_DB_PATH=/data/jobs.db \
    ZEROG_NO_DEMO=1 \
    ZEROG_LOG_FORMAT=json
WORKDIR /app
COPY --from=build /out /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 50051
# grpc.health.v1 over the bridge's own port: SERVING only while the store is writable and the chain
# RPC answers. --insecure: over loopback, the certificate (with TLS) names another host.
HEALTHCHECK --interval=15s --timeout=6s --start-period=60s --retries=3 \
  CMD ["node", "/app/bin/zerog-bridge.js", "health", "--insecure", "--timeout", "5"]
# --max-semi-space-size: a young generation of 2 × 4 MB instead of V8's 2 × 16 MB, a third of the
# bridge's idle RSS; --no-memory-reducer: the heap is not shrunk whenever the bridge goes idle, to be
# regrown at the next burst of jobs (0.7 ms of CPU a job); no cap on the heap (apps/bridge/README.md,
# "Memory"). npm start uses the same.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--no-memory-reducer", "/app/bin/zerog-bridge.js"]
CMD ["start"]
