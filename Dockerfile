# tad-tui in a container: `docker run -it --rm IMAGE --demo` opens the app on the built-in demo;
# without arguments it runs `tad-tui watch` (download what the followed groups post).
# See "Run in a container" in README.md; `.ci/container` builds and tries it with podman.
#
# BASE is any Debian-like image with Python >= 3.11 and its venv module (python3 -m venv);
# `.ci/container` builds one from a minimal Debian root file system, since no registry is reachable.
ARG BASE=python:3.12-slim

# --- build: a venv with tad-tui and its dependencies (binary wheels: cryptg, numpy, soundfile…) ---
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/tad-tui
COPY pyproject.toml README.md /src/
COPY tad_tui /src/tad_tui
# A host that trusts extra certificates (a TLS-inspecting proxy) mounts its CA bundle here for pip:
# `podman build -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro …`. Without it, the
# base image's own bundle is used.
RUN if [ -s /run/host-ca.crt ]; then export PIP_CERT=/run/host-ca.crt; fi \
    && /opt/tad-tui/bin/pip install --only-binary=cryptg,numpy,soundfile,psutil /src \
    && /opt/tad-tui/bin/pip uninstall --yes pip \
    && /opt/tad-tui/bin/python -m compileall -q /opt/tad-tui/lib \
    && /opt/tad-tui/bin/tad-tui --version

# --- runtime: the base image and the venv, nothing else (no compiler, no pip) ---
FROM ${BASE}
RUN useradd --uid 1000 --user-group --create-home --home-dir /home/tad --shell /usr/sbin/nologin tad \
    && mkdir -p /data /music \
    && chown tad:tad /data /music \
    && chmod 0700 /data
COPY --from=build /opt/tad-tui /opt/tad-tui
# Settings come from the environment (see config.toml.example for every variable: API_ID, API_HASH,
# SESSION_NAME, MAX_CONCURRENT_DOWNLOADS, LOG_LEVEL, TAD_PROXY…) or from a config file:
# /data/config/tad-tui/config.toml in the data volume (the app saves its theme and limit there),
# or any file mounted and named by TAD_CONFIG.
ENV PATH=/opt/tad-tui/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    TERM=xterm-256color \
    COLORTERM=truecolor \
    XDG_CONFIG_HOME=/data/config \
    TAD_DATA_DIR=/data \
    DEFAULT_DOWNLOAD_DIR=/music \
    TAD_DEMO_OUTPUT_DIR=/music/demo
VOLUME ["/data", "/music"]
# `tad-tui serve --host 0.0.0.0` (a token required: TAD_SERVE_TOKEN) for the app in a browser.
EXPOSE 8765
USER tad
WORKDIR /music
# Healthy while a tad-tui (watch, the app or a download) runs on the data dir, the demo's included.
HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 \
    CMD tad-tui performance --check || tad-tui --demo performance --check
ENTRYPOINT ["tad-tui"]
CMD ["watch"]
