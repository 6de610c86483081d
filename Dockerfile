# syntax=docker/dockerfile:1
# One image for both binaries: the operator runs /usr/local/bin/tabula-operator, and the tables
# it creates run /usr/local/bin/tabula-dataplane from the same image.
#
#   docker build -t tabula:dev .

# --- build ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
# libclang: bindgen for RocksDB's C++ bindings (librocksdb-sys builds RocksDB from source).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds (RocksDB takes long to
# compile); the binaries are copied out in the same step because the cache is not in the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tabula-dataplane -p tabula-operator --bins \
 && mkdir -p /out \
 && cp target/release/tabula-dataplane target/release/tabula-operator /out/

# --- runtime -------------------------------------------------------------------------------
# distroless/cc: glibc, libgcc and libstdc++ (RocksDB is C++), no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/tabula-dataplane /out/tabula-operator /usr/local/bin/
USER 65532:65532
# 8000: DynamoDB API of the data plane; 8080: metrics and health of the operator.
EXPOSE 8000 8080
# `docker run -p 8000:8000 IMAGE` is a local DynamoDB endpoint. Kubernetes pods set `command`,
# which replaces both lines below.
ENTRYPOINT ["/usr/local/bin/tabula-dataplane"]
CMD ["--listen", "0.0.0.0:8000", "--data-dir", "/home/nonroot/tabula-data"]
