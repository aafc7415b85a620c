"""berthd killed with SIGKILL 50 times at random points while a client creates, starts, stops and
deletes containers. After every restart: berthd serves within 5 s, the database and liblxc agree,
no operation is left half-done, every acknowledged operation is there, and no running container
lost its init process."""
import random
import signal
import threading
import time

from conftest import wait_for

NAMES = ["cl0", "cl1", "cl2"]
ROUNDS = 50
# What the client knows of each name from acknowledged operations only: "absent", "stopped",
# "running" — or None when an operation on it was not acknowledged (the kill may have hit it).
UNKNOWN = None


class Client(threading.Thread):
    """Runs operations in a loop while `go` is set; parks between operations while it is clear."""

    def __init__(self, daemon, seed):
        super().__init__(daemon=True)
        self.d = daemon
        self.rng = random.Random(seed)
        self.go = threading.Event()
        self.parked = threading.Event()
        self.done = False
        self.lock = threading.Lock()
        self.model = {name: "absent" for name in NAMES}
        self.acks = 0

    def next_op(self, name):
        known = self.model[name]
        if known == "absent":
            return self.rng.choice([("launch", "running"), ("create", "stopped")])
        if known == "stopped":
            return self.rng.choice([("start", "running"), ("delete", "absent")])
        if known == "running":
            return self.rng.choice([("stop", "stopped"), ("delete-force", "absent")])
        # Unknown: an operation whose outcome tells, whatever the state was.
        return ("delete-force", "absent")

    def run(self):
        while not self.done:
            if not self.go.is_set():
                self.parked.set()
                self.go.wait(timeout=0.5)
                continue
            self.parked.clear()
            name = self.rng.choice(NAMES)
            op, after = self.next_op(name)
            if op in ("launch", "create"):
                args = (op, name, "--template", "busybox")
            elif op == "stop":
                args = ("stop", "--force", name)
            elif op == "delete-force":
                args = ("delete", "--force", name)
            else:
                args = (op, name)
            r = self.d.cli(*args, timeout=60)
            with self.lock:
                if r.rc == 0:
                    self.model[name] = after
                    self.acks += 1
                elif op == "delete-force" and r.rc == 3:  # NOT_FOUND: known to be absent.
                    self.model[name] = "absent"
                else:
                    self.model[name] = UNKNOWN

    def pause(self):
        self.go.clear()
        assert self.parked.wait(timeout=90), "the client did not finish its operation"


def lxc_state_of(d, name):
    return d.lxc_state(name)[0]


def check_agreement(d, model):
    rows = d.db_rows()
    assert set(rows.values()) <= {0}, f"operations left half-done: {rows}"
    assert set(rows) == d.lxc_names(), (rows, d.lxc_names())
    listed = {c["name"]: c for c in d.ok("list", "--format", "json").json()}
    assert set(listed) == set(rows)
    for name, c in listed.items():
        assert lxc_state_of(d, name) == c["status"]["state"], name
    for name, known in model.items():
        if known is UNKNOWN:
            continue
        if known == "absent":
            assert name not in listed, f"{name} was deleted (acknowledged) but is back"
        else:
            assert name in listed, f"{name} was acknowledged as {known} but is gone"
            assert listed[name]["status"]["state"] == known.upper(), (name, listed[name])


def test_kill_9_fifty_times_during_a_client_loop(berthd):
    client = Client(berthd, seed=20261201)
    client.start()
    rng = random.Random(7)
    worst_serving = 0.0
    try:
        for round_ in range(ROUNDS):
            # At least one operation acknowledged per round, then the kill lands at a random
            # point of the ones that follow.
            acks = client.acks
            client.go.set()
            wait_for(lambda: client.acks > acks, timeout=60, what="an acknowledged operation")
            time.sleep(rng.uniform(0.0, 0.6))
            berthd.stop(signal.SIGKILL)
            client.pause()
            # Containers belong to liblxc, not to berthd: what runs now must run on.
            running_at_kill = {name: pid for name in NAMES
                               for state, pid in [berthd.lxc_state(name)] if state == "RUNNING"}

            t0 = time.monotonic()
            berthd.start()
            serving = time.monotonic() - t0
            worst_serving = max(worst_serving, serving)
            assert serving < 5.0, f"round {round_}: SERVING after {serving:.2f} s"

            # No container lost its init to the daemon's death or the reconciliation after it,
            # except the one the interrupted operation was on.
            for name, pid in running_at_kill.items():
                state, now_pid = berthd.lxc_state(name)
                if client.model[name] is not UNKNOWN:
                    assert (state, now_pid) == ("RUNNING", pid), (round_, name, state)
            check_agreement(berthd, dict(client.model))
    finally:
        client.done = True
        client.go.set()
        client.join(timeout=90)
    assert client.acks >= ROUNDS, f"only {client.acks} operations acknowledged"
    print(f"worst time to SERVING after a kill: {worst_serving:.2f} s; "
          f"{client.acks} operations acknowledged")
