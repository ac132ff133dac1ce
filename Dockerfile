# Sluice as a container image: the single binary (Bun inside) on an empty base holding only what it needs.
#   docker build -t sluice .
#   docker run -v $PWD/sluice.config.json:/etc/sluice/sluice.config.json:ro -p 8080:8080 sluice
# The binary is built for glibc on x86-64; the library paths below are those of linux/amd64.

FROM node:22-bookworm-slim AS build
# The CA bundle lets the gateway verify https upstreams; the runtime stage has no package manager to add it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && ./dist/sluice --version

# The runtime stage: nothing but the files listed in deploy/container/rootfs.json, one COPY each, in its order
# (the binary, the shared libraries `ldd dist/sluice` names, the CA bundle, the user, the default config).
# A COPY of one file follows symlinks (the loader under /lib64 is one in Debian): the image gets the file itself.
FROM scratch
COPY --from=build /src/dist/sluice /usr/local/bin/sluice
COPY --from=build /lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
COPY --from=build /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6
COPY --from=build /lib/x86_64-linux-gnu/libpthread.so.0 /lib/x86_64-linux-gnu/libpthread.so.0
COPY --from=build /lib/x86_64-linux-gnu/libdl.so.2 /lib/x86_64-linux-gnu/libdl.so.2
COPY --from=build /lib/x86_64-linux-gnu/libm.so.6 /lib/x86_64-linux-gnu/libm.so.6
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY deploy/container/passwd /etc/passwd
COPY deploy/container/group /etc/group
COPY deploy/container/nsswitch.conf /etc/nsswitch.conf
COPY deploy/container/sluice.config.json /etc/sluice/sluice.config.json
USER 65532:65532
# HTTP traffic on 8080. The admin listener (9901) stays on 127.0.0.1 in the default config: publishing it
# needs "admin": { "listen": "0.0.0.0:9901", "token": "..." } in the mounted config.
EXPOSE 8080 9901
# The probe runs inside the container, where the admin listener's 127.0.0.1 is reachable.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/sluice", "health", "--url", "http://127.0.0.1:9901/healthz"]
# The gateway is PID 1: it handles SIGTERM itself (stop accepting, finish in-flight requests, exit 0).
# Give `docker stop -t` at least the config's shutdownTimeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["--config", "/etc/sluice/sluice.config.json"]
