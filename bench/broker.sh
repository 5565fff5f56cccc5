# broker.sh — sourced by the MQTT benchmarks: start_broker DIR starts a
# mosquitto on a free loopback port, configured as docs/serve.md tells
# operators (TCP_NODELAY, no queue or in-flight limits), with its
# configuration and log in DIR, waits until it accepts connections, and
# sets broker_pid and url.  The caller stops it by that PID.
start_broker() {
    local dir=$1 port
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat > "$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_queued_messages 0
max_inflight_messages 0
persistence false
CONF
    mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
    broker_pid=$!
    url=tcp://127.0.0.1:$port
    for _ in $(seq 50); do
        /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "mosquitto did not start on port $port" >&2
    return 1
}
