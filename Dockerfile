# The ledger's container image: one static binary on a distroless base,
# running as a non-root user. Build and run:
#
#   docker build -t lushan-ledger:dev --build-arg VERSION=$(git describe --always --dirty) .
#   docker compose up -d          # the ledger, PostgreSQL and KurrentDB (docker-compose.yml)
#
# See docs/deploy.md.

# --- build ------------------------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a change of code alone reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary that needs no libc in the image.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ledger ./cmd/ledger

# --- run --------------------------------------------------------------------
# distroless/static: CA certificates, time zones and a nonroot user; no
# shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ledger /ledger
# Inside a container the API listens on every interface (the default,
# 127.0.0.1, is unreachable from outside it); logs are JSON lines.
ENV LEDGER_ADDR=0.0.0.0:8080 \
    LEDGER_LOG_FORMAT=json
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/ledger", "health", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/ledger"]
CMD ["serve"]
