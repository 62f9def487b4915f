# syntax=docker/dockerfile:1
# The opp gateway image: `opp serve` as a non-root user, installed from uv.lock.
#
#   docker build -t opp:0.1.0 .
#
# The build stage runs scripts/image-install.sh, the same script CI runs into a scratch prefix
# (tests/image/test_image_install.py), so what goes into /opt/opp is tested without a container
# daemon. Both stages use the same base, so the venv's interpreter link stays valid.
# Pin the base by digest too in your registry mirror (python:3.11.14-slim-bookworm@sha256:…).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements/uv.txt requirements/uv.txt
COPY pyproject.toml uv.lock README.md ./
COPY opp opp
COPY scripts/image-install.sh scripts/image-install.sh
RUN bash scripts/image-install.sh /opt/opp

FROM ${PYTHON_IMAGE}
ARG OPP_UID=10001
RUN groupadd --system --gid "${OPP_UID}" opp \
 && useradd --system --uid "${OPP_UID}" --gid opp --home-dir /var/lib/opp --no-create-home opp \
 && mkdir -p /etc/opp /var/lib/opp \
 && chown opp:opp /var/lib/opp
COPY --from=build /opt/opp /opt/opp
ENV PATH=/opt/opp/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/opp
USER 10001:10001
EXPOSE 8080
# The Helm chart mounts gateway.yaml at /etc/opp (read-only) and passes the same arguments.
ENTRYPOINT ["opp", "serve"]
CMD ["/etc/opp/gateway.yaml", "--host", "0.0.0.0", "--port", "8080"]
