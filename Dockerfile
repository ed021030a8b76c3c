# Build stage: bundle the TypeScript (esbuild, a development dependency) into dist/.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime: production dependencies (the few packages the bundle loads from node_modules) and the bundle only. @duckdb/node-api ships prebuilt glibc binaries.
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin

# The lake and warehouse live on a volume; the config is mounted at /config.
RUN mkdir -p /data /config && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000

ENTRYPOINT ["node", "bin/coldpipe.mjs"]
CMD ["start", "--config", "/config/coldpipe.yaml"]
