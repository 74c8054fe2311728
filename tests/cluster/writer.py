#!/usr/bin/env python3
"""Verifiable writer for crash tests.

  writer.py write PORT[,PORT...] VDI ACKLOG [SECONDS]   write self-describing
      blocks until SECONDS pass.  Before each write it appends
      "P offset generation" to ACKLOG, after the acknowledgement
      "A offset generation" (flushed), so the log tells exactly which writes
      were acknowledged and which were in flight.  With one port it exits 0
      when that sheep dies; with several, a failed write moves it to the next
      port (a new generation each time), and it gives up only when no port
      has taken a write for 60 s.
      With WRITER_TIMES=1 in the environment an "A" line also carries the
      time of the acknowledgement (seconds since the epoch) as a 4th field.
  writer.py verify PORT VDI ACKLOG             every byte must hold the last
      acknowledged write covering it, or a write that was in flight after it
      (an unacknowledged write may or may not have been applied); print a
      PASS/FAIL line.

A PORT may be HOST:PORT (a sheep on another address than 127.0.0.1).

A block is 64 KiB: an 16-byte header (offset, generation) repeated across it,
so a torn or stale block is detected wherever it is read."""
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sdclient import Client, SheepError, Vdi  # noqa: E402

BLOCK = 64 << 10


def connect(port, timeout=30):
    """port: a port on 127.0.0.1, or (host, port)"""
    if isinstance(port, tuple):
        return Client(port[1], host=port[0], timeout=timeout)
    return Client(port, timeout=timeout)


def block(offset, gen):
    return struct.pack("<QQ", offset, gen) * (BLOCK // 16)


def last_gen(acklog):
    gen = 0
    if os.path.exists(acklog):
        with open(acklog) as log:
            for line in log:
                gen = max(gen, int(line.split()[2]))
    return gen


def do_write(ports, name, acklog, seconds):
    which = 0
    v = Vdi(connect(ports[which]), name)
    nblocks = v.size // BLOCK
    rnd = random.Random(os.getpid())
    gen = last_gen(acklog)     # generations stay unique across runs
    deadline = time.time() + seconds
    last_ok = time.time()
    stamp = os.environ.get("WRITER_TIMES") == "1"
    with open(acklog, "a") as log:
        while time.time() < deadline:
            gen += 1
            # unaligned to objects on purpose: blocks straddle object boundaries
            off = rnd.randrange(nblocks) * BLOCK + (BLOCK // 2 if gen % 3 == 0 else 0)
            if off + BLOCK > v.size:
                off -= BLOCK // 2
            log.write("P %d %d\n" % (off, gen))
            log.flush()
            try:
                v.write(off, block(off, gen))
            except (OSError, ConnectionError, SheepError):
                if len(ports) == 1 or time.time() - last_ok > 60:
                    return 0
                # fail over: the next sheep (a dead one is skipped next round)
                time.sleep(0.1)
                which = (which + 1) % len(ports)
                try:
                    v.c.close()
                    v.c = connect(ports[which])
                except OSError:
                    pass
                continue
            last_ok = time.time()
            log.write("A %d %d%s\n" % (off, gen, (" %.3f" % time.time()) if stamp else ""))
            log.flush()
    return 0


HALF = BLOCK // 2    # every write covers two whole halves: offsets are 32 KiB aligned


def do_verify(port, name, acklog):
    # acceptable (offset, generation) values per 32 KiB half
    ok = {}
    acked = 0
    with open(acklog) as log:
        for line in log:
            kind, off, gen = line.split()[:3]
            off, gen = int(off), int(gen)
            for half in (off // HALF, off // HALF + 1):
                if kind == "A":
                    ok[half] = {(off, gen)}
                else:
                    ok.setdefault(half, {(0, 0)}).add((off, gen))
            acked += kind == "A"
    v = Vdi(connect(port), name)
    bad = checked = 0
    for half in sorted(ok):
        data = v.read(half * HALF, HALF)
        want = ok[half]
        checked += 1
        # fast path: the whole half is one acceptable write (or zeros)
        if any(data == struct.pack("<QQ", *w) * (HALF // 16) for w in want):
            continue
        # an in-flight write may be torn: every 16-byte slot must still be acceptable
        for i in range(0, HALF, 16):
            got = struct.unpack_from("<QQ", data, i)
            if got not in want:
                bad += 1
                if bad <= 5:
                    print("  byte %d: got %s, want one of %s" % (half * HALF + i, got,
                                                                sorted(want)))
                break
    good = bad == 0 and acked > 0
    print("%s: writer: %d acknowledged writes, %d halves checked, %d wrong" %
          ("PASS" if good else "FAIL", acked, checked, bad))
    return 0 if good else 1


if __name__ == "__main__":
    mode, ports, name, acklog = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    ports = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) if ":" in p else int(p)
             for p in ports.split(",")]
    if mode == "write":
        sys.exit(do_write(ports, name, acklog, float(sys.argv[5]) if len(sys.argv) > 5 else 3600))
    sys.exit(do_verify(ports[0], name, acklog))
