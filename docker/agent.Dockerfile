# The default task image (`runtime.image: amp-orchestrator-agent:latest`): the agent CLIs plus the
# tools agents commonly call. Build it where Docker Hub and npm are reachable:
#
#   docker build -t amp-orchestrator-agent:latest -f docker/agent.Dockerfile docker/
#
# Requirements the orchestrator places on any task image: /bin/sh and `sleep` (the container idles
# in a shell loop between agent turns), the agent's CLI on PATH, and a writable /tmp. It runs as
# uid 1000 (or the orchestrator's own uid when that is not root), with HOME=/home/agent mounted
# from the host, the workspace at /workspace, no capabilities and no-new-privileges.
FROM node:22-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates ripgrep build-essential python3 \
 && rm -rf /var/lib/apt/lists/*

# Pin the CLIs: a task must behave the same tomorrow. (@ampcode/cli: the newest tag may lack its
# platform package; check `amp --version` after an upgrade.)
RUN npm install -g \
      @ampcode/cli@0.0.1790142911-g7618fb \
      @anthropic-ai/claude-code@2.1.330 \
      @openai/codex@0.169.0 \
 && amp --version && claude --version && codex --version

# Amp updates itself by default; in a pinned image it must not.
ENV AMP_SETTINGS_FILE=/etc/amp/settings.json
RUN mkdir -p /etc/amp && printf '{"amp.updates.mode":"disabled","amp.notifications.enabled":false}\n' > /etc/amp/settings.json

WORKDIR /workspace
