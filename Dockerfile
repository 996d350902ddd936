# syntax=docker/dockerfile:1

# Build: full dependencies, compile, then drop the dev dependencies.
# Node 24: the LTS line CI runs the tests on (.ci/node-version); supported upstream until April 2028.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npx nest build && npm prune --omit=dev

# Run: only what the server, the migrations, the ops CLI and the demo seed need.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# the public schema, for the demo seed (dist/demo/seed-schedule.js)
COPY --chown=node:node db/public ./db/public
USER node
EXPOSE 3000
# node handles SIGTERM itself (Nest shutdown hooks drain in-flight requests and exit 0).
# --max-semi-space-size=16: Node 20's young generation; Node 24's grows to 128 MB under the rush
# (README, Configuration). Workers of WEB_CONCURRENCY > 1 inherit it.
CMD ["node", "--max-semi-space-size=16", "dist/main.js"]
