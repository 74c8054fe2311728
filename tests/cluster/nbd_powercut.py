#!/usr/bin/python3
# tests/cluster/nbd_powercut.py - the host side of the NBD power-cut test
# (tests/cluster/appliance_nbd.sh); Debian's python3-libnbd, so run it with
# /usr/bin/python3.
#
#   write URI LOG   writes in generations, every 4 KiB block of its own content
#                   (block number, generation), and records in LOG (JSON) what
#                   each block may hold after a power cut:
#                     gen 1: 8 MiB in 64 KiB writes split over two connections,
#                            then a FLUSH on the second one: durable
#                     gen 2: 4 KiB writes with FUA: durable each
#                     gen 3: plain 64 KiB writes (over gen 1 and 2, and into
#                            blocks never written): may be lost
#                   then prints READY and keeps its connections open (no
#                   disconnect, no flush) until it is killed
#   verify URI LOG  reads every block back: each must hold its last durable
#                   generation or a later unflushed one (never another, never
#                   garbage); prints PASS or FAIL, and how many unflushed blocks
#                   came back old (lost in the cut)
import json
import struct
import sys
import time

import nbd

BS = 4096
SPAN = 4096  # blocks looked at: 16 MiB


def content(block, gen):
    """4 KiB that name their block and generation (a tag every 16 bytes)."""
    if gen == 0:
        return bytes(BS)
    word = struct.pack("<QII", block, gen, (block * 2654435761 + gen * 40503) & 0xFFFFFFFF)
    return word * (BS // len(word))


def connect(uri):
    h = nbd.NBD()
    h.connect_uri(uri)
    return h


def wait_all(h, cookies):
    """Wait for every command; raise if one failed."""
    while h.aio_in_flight() > 0:
        h.poll(-1)
    for c in cookies:
        h.aio_command_completed(c)  # raises nbd.Error on an error reply


def write_run(h, first, count, gen, flags=0):
    """count blocks from first in one write (its own buffer); return the cookie."""
    buf = b"".join(content(b, gen) for b in range(first, first + count))
    return h.aio_pwrite(nbd.Buffer.from_bytearray(bytearray(buf)), first * BS, flags=flags)


def write(uri, log):
    a, b = connect(uri), connect(uri)
    for h in (a, b):
        if not h.can_flush() or not h.can_fua():
            print("FAIL: the export does not advertise FLUSH and FUA")
            sys.exit(1)
    history = {}  # block -> [(gen, durable)]

    def note(first, count, gen, durable):
        for blk in range(first, first + count):
            history.setdefault(blk, []).append((gen, durable))

    t0 = time.time()
    # gen 1: 8 MiB of 64 KiB writes, alternately on a and b, at most 16 in flight each
    ca, cb = [], []
    for k, first in enumerate(range(0, 2048, 16)):
        h, cl = (a, ca) if k % 2 == 0 else (b, cb)
        cl.append(write_run(h, first, 16, 1))
        if len(cl) >= 16:
            wait_all(h, cl)
            cl.clear()
    wait_all(a, ca)
    wait_all(b, cb)
    b.flush()  # covers a's writes too: every write acknowledged before it, any connection
    note(0, 2048, 1, True)
    t1 = time.time()
    # gen 2: FUA 4 KiB writes over gen 1 (blocks 100..163) and into object 2 (3000..3063)
    cookies = []
    for first in list(range(100, 164)) + list(range(3000, 3064)):
        cookies.append(write_run(a, first, 1, 2, nbd.CMD_FLAG_FUA))
        if len(cookies) >= 16:
            wait_all(a, cookies)
            cookies = []
    wait_all(a, cookies)
    note(100, 64, 2, True)
    note(3000, 64, 2, True)
    t2 = time.time()
    # gen 3: plain writes over gen 1 and 2 (0..511) and into object 3 (3072..3583)
    cookies = []
    for first in list(range(0, 512, 16)) + list(range(3072, 3584, 16)):
        cookies.append(write_run(a, first, 16, 3))
    wait_all(a, cookies)
    note(0, 512, 3, False)
    note(3072, 512, 3, False)
    t3 = time.time()
    with open(log, "w") as f:
        json.dump({str(k): v for k, v in history.items()}, f)
    print("info: gen 1 (8 MiB + FLUSH) %.1f s, gen 2 (128 FUA writes) %.1f s, gen 3 (4 MiB unflushed) %.1f s"
          % (t1 - t0, t2 - t1, t3 - t2))
    print("READY", flush=True)
    time.sleep(3600)  # keep both connections open: the power cut comes first


def verify(uri, log):
    with open(log) as f:
        history = {int(k): v for k, v in json.load(f).items()}
    h = connect(uri)
    bad, lost, unflushed = [], 0, 0
    for chunk in range(0, SPAN, 256):
        try:
            data = h.pread(256 * BS, chunk * BS)
        except nbd.Error as e:
            print("FAIL: reading blocks %d..%d: %s" % (chunk, chunk + 255, e))
            sys.exit(1)
        for i in range(256):
            blk = chunk + i
            got = data[i * BS:(i + 1) * BS]
            writes = history.get(blk, [])
            # the last durable write (or 0: never written), then every later one
            last = max([k for k, (g, d) in enumerate(writes) if d], default=-1)
            allowed = ([writes[last][0]] if last >= 0 else [0]) + [g for g, d in writes[last + 1:]]
            match = [g for g in set(allowed) if content(blk, g) == got]
            if not match:
                seen = [g for g in (0, 1, 2, 3) if content(blk, g) == got]
                bad.append("block %d: holds %s, allowed gens %s" %
                           (blk, "gen %d" % seen[0] if seen else "garbage", allowed))
            if writes and not writes[-1][1]:
                unflushed += 1
                if content(blk, writes[-1][0]) != got:
                    lost += 1
    print("info: %d of %d unflushed 4 KiB blocks read back old data (lost in the power cut)"
          % (lost, unflushed))
    for line in bad[:10]:
        print("info: " + line)
    print("FAIL: %d blocks wrong" % len(bad) if bad else "PASS")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    {"write": write, "verify": verify}[sys.argv[1]](sys.argv[2], sys.argv[3])
