# coldpipe runs its TypeScript through tsx (a runtime dependency), so there is no build step.
FROM node:20-slim

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. @duckdb/node-api ships prebuilt glibc binaries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Sources (see .dockerignore for what stays out).
COPY . .

# The lake and warehouse live on a volume; the config is mounted at /config.
RUN mkdir -p /data /config && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000

ENTRYPOINT ["node", "bin/coldpipe.mjs"]
CMD ["start", "--config", "/config/coldpipe.yaml"]
