# Twin Studio server: the aiohttp studio (websocket + REST), the asset library (stages/)
# and the browser page (client_web/). Build from the repository root:
#
#   docker build -f docker/server.Dockerfile -t twinstudio-server .
#
# The base is pinned by tag. To pin it by digest as well (reproducible, immune to the tag
# being re-pushed), look the digest up and append it; the tag then only documents it:
#
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # prints "Digest: sha256:..."
#   FROM python:3.11-slim-bookworm@sha256:<that digest>
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TWINSTUDIO_LIBRARY=/app/stages

# An unprivileged user that owns the data volume; the code and library stay root-owned.
RUN groupadd --system --gid 10001 twinstudio \
 && useradd --system --uid 10001 --gid twinstudio --create-home \
        --home-dir /home/twinstudio --shell /usr/sbin/nologin twinstudio

# Install the package (a regular, non-editable install into site-packages). Every
# dependency ships a manylinux wheel except PyOpenGL 3.1.0, a pure-Python sdist, so no
# compiler is needed. The source is removed after the install.
COPY pyproject.toml README.md /tmp/src/
COPY server/ /tmp/src/server/
RUN pip install --no-cache-dir /tmp/src && rm -rf /tmp/src

# The asset library (found through TWINSTUDIO_LIBRARY) and the browser page.
COPY stages/ /app/stages/
COPY client_web/ /app/client_web/

# Tell the installed server where the library and the page are; fail the build if
# either would not be found.
ENV TWINSTUDIO_STATIC=/app/client_web
RUN python -c 'from twinstudio.transport.server import STATIC_ROOT as s; assert (s / "index.html").is_file(), s' \
 && python -c 'from twinstudio.cli import default_library as d; assert (d() / "default_shot.usda").is_file(), d()'

# Rooms, journals, checkpoints and secret.key. Created before VOLUME so that a new named
# volume starts out owned by the service user.
RUN mkdir /data && chown twinstudio:twinstudio /data
VOLUME ["/data"]

USER twinstudio
WORKDIR /home/twinstudio
EXPOSE 8420

# slim images have no curl: probe /healthz with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8420/healthz', timeout=4)"]

CMD ["twinstudio", "serve", "--host", "0.0.0.0", "--port", "8420", "--data", "/data"]
