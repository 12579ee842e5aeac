# Twin Studio render node: joins a room as a replica and renders it offscreen on an
# NVIDIA GPU through EGL (pyrender + PyOpenGL). Build from the repository root:
#
#   docker build -f docker/render-node.Dockerfile -t twinstudio-render-node .
#
# Base: NVIDIA's CUDA image, the maintained line of NVIDIA's container bases (nvidia/cudagl
# is end-of-life, nvidia/opengl is updated rarely). We take its "base" flavour: the same
# Ubuntu 22.04 image and NVIDIA labels as "runtime", without the CUDA math libraries
# (cuBLAS, cuFFT, ...), which OpenGL rendering does not use. The driver itself, including
# libEGL_nvidia, is not in the image: the NVIDIA Container Toolkit mounts it from the host
# when the container asks for the "graphics" driver capability.
#
# To pin by digest too: docker buildx imagetools inspect nvidia/cuda:12.4.1-base-ubuntu22.04
# and write FROM nvidia/cuda:12.4.1-base-ubuntu22.04@sha256:<digest>.
FROM nvidia/cuda:12.4.1-base-ubuntu22.04

# graphics: the OpenGL/EGL driver libraries (libEGL_nvidia, libGLX_nvidia, ...);
# compute: CUDA; utility: nvidia-smi. The base image only asks for compute,utility.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=graphics,compute,utility \
    NVIDIA_DISABLE_REQUIRE=1 \
    PYOPENGL_PLATFORM=egl \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/twinstudio/bin:$PATH
# NVIDIA_DISABLE_REQUIRE: the image's NVIDIA_REQUIRE_CUDA (cuda>=12.4) would refuse hosts
# with older drivers, but the render node uses OpenGL, not the CUDA runtime.

# Python 3.11 (Ubuntu 22.04's python3 is 3.10) and the glvnd dispatch libraries that
# PyOpenGL loads: libEGL, libGL, libGLESv2, libOpenGL.
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates \
        python3.11 \
        python3.11-venv \
        libglvnd0 \
        libegl1 \
        libgl1 \
        libgles2 \
        libopengl0 \
 && rm -rf /var/lib/apt/lists/*

# Register the NVIDIA EGL vendor with glvnd. Recent toolkits mount this file themselves
# (the mount then shadows this copy); older ones do not, and without it EGL finds no device.
RUN mkdir -p /usr/share/glvnd/egl_vendor.d \
 && printf '%s\n' '{' '    "file_format_version" : "1.0.0",' \
        '    "ICD" : { "library_path" : "libEGL_nvidia.so.0" }' '}' \
        > /usr/share/glvnd/egl_vendor.d/10_nvidia.json

RUN groupadd --system --gid 10001 twinstudio \
 && useradd --system --uid 10001 --gid twinstudio --create-home \
        --home-dir /home/twinstudio --shell /usr/sbin/nologin twinstudio

# The package, in its own venv. The node fetches the asset library from the server
# (GET /api/rooms/{room}/files) into $TWINSTUDIO_CACHE, so stages/ is not copied in.
COPY pyproject.toml README.md /tmp/src/
COPY server/ /tmp/src/server/
RUN python3.11 -m venv /opt/twinstudio \
 && pip install --no-cache-dir --upgrade pip \
 && pip install --no-cache-dir /tmp/src \
 && rm -rf /tmp/src \
 && python -c 'import OpenGL, pyrender, pxr, twinstudio'

ENV TWINSTUDIO_CACHE=/home/twinstudio/.cache/twinstudio
USER twinstudio
WORKDIR /home/twinstudio

# The token comes from a file (a compose/swarm secret), never from the command line.
CMD ["twinstudio", "render-node", "--server", "http://server:8420", "--room", "default", "--token-file", "/run/secrets/render_token"]
