# deepserve: build a release binary with the Swift stdlib linked in, run it on a slim Debian with only
# the C libraries it needs (OpenSSL, zlib, libjpeg-turbo) and the shipped models.
#   docker build -t deepserve . && docker run -p 8080:8080 deepserve

# 6.2 or later: swift-prometheus needs tools version 6.2.
FROM swift:6.2-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev=3.* zlib1g-dev=1:1.2.* libjpeg62-turbo-dev=1:2.1.* \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Manifest first, so dependency resolution is cached across source edits.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
COPY proto ./proto
RUN swift build -c release --static-swift-stdlib --product deepserve \
 && install -D .build/release/deepserve /out/deepserve

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3=3.* zlib1g=1:1.2.* libjpeg62-turbo=1:2.1.* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin deepserve
COPY --from=build /out/deepserve /usr/local/bin/deepserve
COPY models /srv/deepserve/models
COPY openapi.yaml /srv/deepserve/openapi.yaml
WORKDIR /srv/deepserve
USER 10001
# Every `serve` flag also reads DEEPSERVE_<FLAG>; these make the container listen on all interfaces.
ENV DEEPSERVE_HOST=0.0.0.0 \
    DEEPSERVE_PORT=8080 \
    DEEPSERVE_MODEL_REPOSITORY=/srv/deepserve/models \
    DEEPSERVE_LOG_FORMAT=json
EXPOSE 8080 8081
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["deepserve", "healthcheck"]
ENTRYPOINT ["deepserve"]
CMD ["serve"]
