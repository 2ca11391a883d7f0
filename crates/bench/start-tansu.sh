# Sourced by the bench scripts: installs tansu (.ci/install-tansu), starts it in memory on a free
# loopback port with its log in "$1", waits until it listens, and stops it when the script
# exits. Sets PORT and TANSU_PID.
TANSU=$(bash .ci/install-tansu)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
  --storage-engine memory://tansu/ >"$1" 2>&1 &
TANSU_PID=$!
trap 'kill "$TANSU_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
