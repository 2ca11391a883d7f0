# One image, one binary: `auditstream <role>`.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p auditstream

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/auditstream /usr/local/bin/auditstream
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/auditstream"]
CMD ["run"]
