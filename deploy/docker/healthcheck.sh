#!/bin/bash
# The images' HEALTHCHECK: GET <path> on 127.0.0.1:<port> with bash's own /dev/tcp and `read`,
# so a probe every 10 s costs a fork of bash, not a second Node process (~40 MB, ~50 ms of CPU
# to start) and needs no curl/wget in the image. Healthy = HTTP status 200 within the timeout.
#   healthcheck.sh <port> <path>
exec 3<>"/dev/tcp/127.0.0.1/${1:?port}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "${2:-/readyz}" >&3
read -r -t 2 _ status _ <&3 || exit 1
[ "$status" = 200 ]
