"""A TCP port on 127.0.0.1 for a test's server, reserved until the test ends.

Asking the kernel for a free port (bind to port 0, close, hand the number to a server) leaves a
gap in which the port is free again; worse, that port comes from the kernel's ephemeral range,
which is where every outgoing connection on the machine takes its source port. With tests running
in parallel (ctest -j2) a client connection or another test took such a port before the server
bound it ("cannot listen on 127.0.0.1:53719 (Address already in use)").

So ports here come from below the ephemeral range (net.ipv4.ip_local_port_range), which outgoing
connections never use, and each is reserved by a file /tmp/modelcar-ports/<port> holding the
owner's PID, made under a machine-wide lock so two tests never get the same port; a reservation
whose owner has exited is taken over. A port is handed out only if it can be bound right now.

Usage as a program: free_port.py OWNER_PID  (prints the port). As a module: reserve(owner_pid).
"""
import fcntl
import os
import random
import socket
import sys

RESERVATIONS = "/tmp/modelcar-ports"


def _candidate_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 1 >= 12000:
        return 10000, low - 1
    return high + 1, 65535


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _claim(path, owner):
    """True if this call now owns the reservation file at path (called under the lock)."""
    try:
        with open(path) as f:
            holder = int(f.read().strip() or "0")
        if holder > 0 and _alive(holder):
            return False
    except (OSError, ValueError):
        pass  # none, or torn because its writer died while holding the lock
    with open(path, "w") as f:
        f.write(f"{owner}\n")
    return True


def reserve(owner):
    os.makedirs(RESERVATIONS, exist_ok=True)
    low, high = _candidate_range()
    rng = random.SystemRandom()
    with open(os.path.join(RESERVATIONS, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one reservation at a time, machine-wide
        return _reserve_locked(owner, low, high, rng)


def _reserve_locked(owner, low, high, rng):
    for _ in range(2000):
        port = rng.randint(low, high)
        path = os.path.join(RESERVATIONS, str(port))
        if not _claim(path, owner):
            continue
        if _bindable(port):
            return port
        os.unlink(path)  # in use by something that is not a test: try another
    raise RuntimeError(f"no free port in {low}-{high}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: free_port.py OWNER_PID")
    print(reserve(int(sys.argv[1])))
