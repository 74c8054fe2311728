#!/usr/bin/python3
"""NBD protocol corners against sheep's --nbd export (tests/cluster/nbd.sh).

Run with Debian's /usr/bin/python3 (it has python3-libnbd).  Modes:
  nbd_client.py proto HOST PORT DOG DOGPORT
      libnbd (option mode, strict mode off, aio) and raw-socket checks on a
      VDI "p" it creates with dog, then writes racing `dog vdi snapshot` on
      a VDI "r"; prints PASS:/FAIL: lines.
  nbd_client.py write URI LOG SECONDS
      a client writing records in a loop with a FLUSH every 8 writes, each
      acknowledgement and each completed FLUSH logged in LOG; exits 2 on
      the first error (the connection dropped, EIO ...), 0 when time is up.
  nbd_client.py verify URI LOG flushed|acked [AFTER]
      every block reads back a record at least as new as the last write to
      it that was flushed (or acknowledged) and not newer than the last one
      sent: no garbage, no lost write.  AFTER (a time): a FLUSH completed
      after it (the writer kept going).
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time

import nbd

FAILED = 0


def report(ok, desc, why=""):
    global FAILED
    print(("PASS" if ok else "FAIL") + ": nbd_client.py: " + desc + ("" if ok or not why else " (" + why + ")"),
          flush=True)
    if not ok:
        FAILED += 1
    return ok


def errno_of(fn, *args, **kw):
    """None if fn succeeds, else the nbd.Error's errno name (or 'closed')."""
    try:
        fn(*args, **kw)
    except nbd.Error as e:
        return e.errno or "closed:" + e.string
    return None


# ---- raw socket ------------------------------------------------------------

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
CHUNK_MAGIC = 0x668E33EF
ERR_UNSUP, ERR_POLICY, ERR_INVALID, ERR_UNKNOWN, ERR_TOO_BIG = (
    0x80000001, 0x80000002, 0x80000003, 0x80000006, 0x80000009)
REP_ACK, REP_SERVER, REP_INFO, REP_META = 1, 2, 3, 4
MiB = 1 << 20


def recvn(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


def closed(s, secs=5):
    """The server closed the connection (EOF or reset) within secs."""
    s.settimeout(secs)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def greet(flags=3):
    s = socket.create_connection((HOST, PORT), timeout=10)
    g = recvn(s, 18)
    if flags is not None:
        s.sendall(struct.pack(">I", flags))
    return s, g


def opt(s, o, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, o, len(data)) + data)


def replies(s):
    """Option replies up to the final one: [(type, data)]."""
    out = []
    while True:
        magic, _o, t, n = struct.unpack(">QIII", recvn(s, 20))
        if magic != REPLY_MAGIC:
            raise ValueError("bad option reply magic %#x" % magic)
        out.append((t, recvn(s, n)))
        if t == REP_ACK or t & 0x80000000:
            return out


def final(s, o, data=b""):
    opt(s, o, data)
    return replies(s)[-1][0]


def info_data(name, infos=()):
    n = name.encode()
    return struct.pack(">I", len(n)) + n + struct.pack(">H", len(infos)) + b"".join(
        struct.pack(">H", i) for i in infos)


def req(s, typ, off=0, length=0, handle=1, flags=0, data=b""):
    s.sendall(struct.pack(">IHHQQI", REQ_MAGIC, flags, typ, handle, off, length) + data)


def simple_reply(s):
    magic, err, handle = struct.unpack(">IIQ", recvn(s, 16))
    if magic != SIMPLE_MAGIC:
        raise ValueError("not a simple reply: %#x" % magic)
    return err, handle


def chunk(s):
    magic, flags, typ, handle, n = struct.unpack(">IHHQI", recvn(s, 20))
    if magic != CHUNK_MAGIC:
        raise ValueError("not a chunk: %#x" % magic)
    return flags, typ, handle, recvn(s, n)


def go(name, structured=False, flags=3):
    """A raw connection in transmission on export name (via GO)."""
    s, _ = greet(flags)
    if structured:
        assert final(s, 8) == REP_ACK
    t = final(s, 7, info_data(name))
    if t != REP_ACK:
        raise ValueError("GO %s: %#x" % (name, t))
    return s


def pipeline(s, reqs):
    """Send reqs [(type, off, data or length, expected read data)] from a thread, take
    the replies here; return (problems, the order of the handles answered)."""
    import threading
    base = random.randrange(1 << 40)

    def send():
        for i, (t, o, d, _w) in enumerate(reqs):
            if t == 1:
                req(s, 1, o, len(d), handle=base + i, data=d)
            else:
                req(s, t, o, d, handle=base + i)
    th = threading.Thread(target=send)
    th.start()
    bad, order = [], []
    for _ in reqs:
        err, h = simple_reply(s)
        i = h - base
        if not 0 <= i < len(reqs) or i in order:
            bad.append("handle %#x unknown or answered twice" % h)
            break
        order.append(i)
        t, o, d, w = reqs[i]
        if err:
            bad.append("request %d (type %d at %d): error %d" % (i, t, o, err))
        elif t == 0 and recvn(s, d) != w:
            bad.append("read %d at %d: wrong data" % (i, o))
    th.join()
    return bad, order


def raw_checks():
    s, g = greet(None)
    report(struct.unpack(">QQH", g) == (NBDMAGIC, IHAVEOPT, 3),
           "greeting: NBDMAGIC, IHAVEOPT, FIXED_NEWSTYLE|NO_ZEROES")
    s.sendall(struct.pack(">I", 4))
    report(closed(s), "unknown client flag 0x4: the server drops the connection")
    s, _ = greet(None)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    report(closed(s), "an HTTP request instead of the client flags: dropped")
    s, _ = greet()
    s.sendall(os.urandom(64))
    report(closed(s), "garbage instead of an option header (bad magic): dropped")

    s, _ = greet()
    report(final(s, 99, b"hello") == ERR_UNSUP, "unknown option 99 (with data): ERR_UNSUP")
    opt(s, 3)
    r = replies(s)
    names = [d[4:4 + struct.unpack(">I", d[:4])[0]].decode() for t, d in r if t == REP_SERVER]
    report(r[-1][0] == REP_ACK and "p" in names,
           "... the connection stays up: LIST then lists p", repr(r[-3:]))
    report(final(s, 11) == ERR_UNSUP, "EXTENDED_HEADERS: ERR_UNSUP")
    report(final(s, 4) == ERR_UNSUP, "PEEK_EXPORT (withdrawn): ERR_UNSUP")
    report(final(s, 5) == ERR_POLICY, "STARTTLS: ERR_POLICY")
    report(final(s, 3, b"x") == ERR_INVALID, "LIST with data: ERR_INVALID")
    q = struct.pack(">I", 1) + b"p" + struct.pack(">II", 1, 15) + b"base:allocation"
    report(final(s, 10, q) == ERR_INVALID, "SET_META_CONTEXT before STRUCTURED_REPLY: ERR_INVALID")
    report(final(s, 6, struct.pack(">I", 100) + b"p" * 10) == ERR_INVALID,
           "INFO whose name length overruns the data: ERR_INVALID")
    report(final(s, 6, info_data("p", (3,)) + b"zz") == ERR_INVALID,
           "INFO whose info count does not match the data: ERR_INVALID")
    report(final(s, 6, info_data("nope")) == ERR_UNKNOWN, "INFO of a missing VDI: ERR_UNKNOWN")
    report(final(s, 6, info_data("p@")) == ERR_INVALID, "INFO of 'p@' (an empty tag): ERR_INVALID")
    report(final(s, 8, b"x") == ERR_INVALID, "STRUCTURED_REPLY with data: ERR_INVALID")
    t = final(s, 77, b"z" * 70000)
    report(t in (ERR_TOO_BIG, ERR_INVALID, ERR_UNSUP), "an option with 70000 bytes of data: refused",
           "%#x" % t)
    opt(s, 6, info_data("p", (1, 3)))
    r = replies(s)
    infos = {struct.unpack(">H", d[:2])[0]: d for t, d in r if t == REP_INFO}
    ok = r[-1][0] == REP_ACK and 0 in infos and 3 in infos
    report(ok and struct.unpack(">HQH", infos[0])[1] == 256 * MiB,
           "... still up after all that: INFO(p) gives the size", repr(r))
    report(ok and struct.unpack(">HIII", infos[3])[1:] == (1, 4096, 32 * MiB),
           "INFO_BLOCK_SIZE: minimum 1, preferred 4096, maximum 32 MiB")
    report(ok and infos.get(1) == b"\0\1p", "INFO_NAME when asked: the name")
    fl = struct.unpack(">HQH", infos[0])[2] if ok else 0
    report(fl == 0x0D6D, "writable VDI without structured replies: flags 0x0D6D (no DF)", "%#x" % fl)
    opt(s, 6, info_data("p@s1"))
    r = replies(s)
    infos = {struct.unpack(">H", d[:2])[0]: d for t, d in r if t == REP_INFO}
    fl = struct.unpack(">HQH", infos[0])[2] if 0 in infos else 0
    report(fl & 2 and not fl & (8 | 32 | 64 | 2048) and fl & 1,
           "a snapshot: READ_ONLY, no FUA/TRIM/WRITE_ZEROES/FAST_ZERO", "%#x" % fl)
    opt(s, 2)
    r = replies(s)
    report(r[-1][0] == REP_ACK and closed(s), "ABORT: ACK, then the server closes")

    s, _ = greet()
    s.sendall(struct.pack(">QII", IHAVEOPT, 6, 100) + b"p" * 10)
    s.close()
    s, _ = greet()
    s.sendall(struct.pack(">QI", IHAVEOPT, 6))
    s.close()
    s, _ = greet()
    report(final(s, 3) == REP_ACK, "clients gone mid-option (truncated data, half a header): "
           "the next client is served")
    s.close()

    s, _ = greet()
    opt(s, 1, b"nope")
    report(closed(s), "EXPORT_NAME of a missing VDI: closed (no error reply exists)")
    s, _ = greet(1)
    opt(s, 1, b"p")
    b = recvn(s, 134)
    report(struct.unpack(">QH", b[:10])[0] == 256 * MiB and b[10:] == b"\0" * 124,
           "EXPORT_NAME without NO_ZEROES: size, flags, 124 zeros")
    s.close()
    s, _ = greet(3)
    opt(s, 1, b"p")
    size, fl = struct.unpack(">QH", recvn(s, 10))
    # the next bytes must be the first reply, not padding
    req(s, 0, 0, 512, handle=0xfeed)
    err, h = simple_reply(s)
    report(size == 256 * MiB and fl & 1 and (err, h) == (0, 0xfeed),
           "EXPORT_NAME with NO_ZEROES: 10 bytes, then transmission")
    recvn(s, 512)
    req(s, 42, 0, 4096, handle=7)
    err, h = simple_reply(s)
    req(s, 0, 4096, 16, handle=8)
    err2, h2 = simple_reply(s)
    d = recvn(s, 16)
    report((err, h) == (22, 7) and (err2, h2) == (0, 8) and len(d) == 16,
           "unknown command 42 (length 4096, no payload): EINVAL, the next request works",
           repr((err, h, err2, h2)))
    req(s, 1, 8192, 512, handle=9, flags=0x80, data=b"Q" * 512)
    err, h = simple_reply(s)
    req(s, 0, 8192, 512, handle=10)
    err2, h2 = simple_reply(s)
    d = recvn(s, 512)
    report((err, h, err2, h2) == (22, 9, 0, 10) and d != b"Q" * 512,
           "WRITE with an unknown flag: EINVAL, payload skipped, nothing written", repr((err, err2)))
    req(s, 0, 0, 512, handle=11, flags=2)
    err, h = simple_reply(s)
    report((err, h) == (22, 11), "READ with NO_HOLE (not a read flag): EINVAL")
    req(s, 7, 0, 4096, handle=12)
    err, h = simple_reply(s)
    report((err, h) == (22, 12), "BLOCK_STATUS without a selected context: EINVAL")
    req(s, 0, 256 * MiB - 512, 1024, handle=13)
    err, h = simple_reply(s)
    report((err, h) == (22, 13), "simple replies: READ across the end: EINVAL, no data")
    req(s, 0, 0, 512, handle=14)
    err, h = simple_reply(s)
    recvn(s, 512)
    report((err, h) == (0, 14), "... and the connection goes on")
    s.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, 0, 1, 0, 512))
    report(closed(s), "a request with a bad magic: closed")

    s = go("p")
    req(s, 1, 0, 33 * MiB, handle=1)
    report(closed(s), "WRITE of 33 MiB (over the advertised maximum): closed")
    s = go("p")
    req(s, 1, 0, 65536, handle=1, data=b"x" * 1000)
    s.close()
    s = go("p")
    for i in range(64):
        req(s, 0, i * 65536, 65536, handle=i)
    s.close()
    s = go("p")
    req(s, 0, 0, 512, handle=5)
    ok = simple_reply(s) == (0, 5)
    s.close()
    report(ok, "clients gone mid-request (half a WRITE payload; 64 READs unread): the next is served")

    # 200 requests in flight at once (more than the 64 the server runs), sent by a
    # thread while this one takes the replies: each handle answered once, right
    s = go("p")
    rnd = random.Random(7)
    A = [(160 * MiB + i * 70001, bytes([rnd.randrange(1, 256)]) * 70001) for i in range(100)]
    B = [(200 * MiB - 3 + i * 65537, bytes([rnd.randrange(1, 256)]) * 65537) for i in range(100)]
    bad, order = pipeline(s, [(1, o, d, None) for o, d in A])
    report(not bad, "100 pipelined 70001-byte writes (raw): each answered once, no error", "; ".join(bad[:3]))
    mixed = []
    for i in range(100):
        mixed += [(1, B[i][0], B[i][1], None), (0, A[i][0], len(A[i][1]), A[i][1])]
    bad, order = pipeline(s, mixed)
    report(not bad, "100 writes and 100 reads of other data interleaved, all in flight: each answered "
           "once, the reads right", "; ".join(bad[:3]))
    print("info: nbd_client.py: the raw replies' order %s the sending order" %
          ("differs from" if order != sorted(order) else "is"), flush=True)
    bad, order = pipeline(s, [(0, o, len(d), d) for o, d in B])
    report(not bad, "then 100 pipelined reads of those writes: right", "; ".join(bad[:3]))
    for i in range(8):
        req(s, 1, 150 * MiB + i * 4096, 4096, handle=3000 + i, data=bytes([0x70 + i]) * 4096)
    req(s, 2, handle=3999)
    got = [simple_reply(s) for _ in range(8)]
    report(sorted(h for _, h in got) == list(range(3000, 3008)) and all(e == 0 for e, _ in got) and
           closed(s), "DISC with 8 writes in flight: all 8 answered, then closed")
    h = nbd.NBD()
    h.connect_uri(uri("p"))
    report(all(h.pread(4096, 150 * MiB + i * 4096) == bytes([0x70 + i]) * 4096 for i in range(8)),
           "... and all 8 writes are there")
    h.shutdown()

    # structured replies
    s = go("p", structured=True)
    req(s, 0, 256 * MiB - 512, 1024, handle=21)
    fl, typ, hd, d = chunk(s)
    report((fl & 1, typ, hd) == (1, 0x8001, 21) and struct.unpack(">I", d[:4])[0] == 22,
           "structured: READ across the end: an ERROR chunk, EINVAL, DONE")
    req(s, 0, 4096, 0, handle=22)
    fl, typ, hd, d = chunk(s)
    report((fl & 1, hd) == (1, 22) and typ in (0, 1) and len(d) <= 8,
           "structured: READ of length 0: one empty chunk with DONE", repr((fl, typ, d)))
    req(s, 0, 4096, 100, handle=23)
    fl, typ, hd, d = chunk(s)
    report((fl & 1, typ, hd) == (1, 1, 23) and struct.unpack(">Q", d[:8])[0] == 4096 and len(d) == 108,
           "structured: READ of 100 bytes: one OFFSET_DATA chunk with DONE at the offset")
    req(s, 42, handle=24)
    b = recvn(s, 4)
    if struct.unpack(">I", b)[0] == SIMPLE_MAGIC:
        err, hd = struct.unpack(">IQ", recvn(s, 12))
    else:
        _fl, _t, hd, n = struct.unpack(">HHQI", recvn(s, 16))
        err = struct.unpack(">I", recvn(s, n)[:4])[0]
    report((err, hd) == (22, 24), "structured: unknown command: EINVAL")
    req(s, 0, 0, 16, handle=25)
    fl, typ, hd, d = chunk(s)
    report(hd == 25 and typ == 1, "... and the connection goes on")
    s.close()


# ---- libnbd ----------------------------------------------------------------

def uri(name=""):
    return "nbd://%s:%d/%s" % (HOST, PORT, name)


def dog(*args):
    return subprocess.run([DOG, args[0], args[1], "-p", DOGPORT] + list(args[2:]),
                          capture_output=True, text=True, check=True).stdout


def optmode():
    h = nbd.NBD()
    h.set_opt_mode(True)
    h.connect_uri(uri())
    return h


def libnbd_checks():
    h = optmode()
    names = []
    h.opt_list(lambda n, d: names.append(n))
    report("p" in names and not any("@" in n or ":" in n for n in names) and len(names) == len(set(names)),
           "opt_list: p, no snapshots", repr(names))
    h.set_export_name("nope")
    report(errno_of(h.opt_info) == "ENOENT" and h.aio_is_negotiating(),
           "opt_info of a missing VDI: ENOENT, still negotiating")
    for bad in ("p:abc", "p:0", "p@", "x" * 300, "", "p:-1", "@s1"):
        h.set_export_name(bad)
        e = errno_of(h.opt_info)
        report(e == "EINVAL" and h.aio_is_negotiating(),
               "opt_info of the bad name %r: EINVAL, still negotiating" % bad[:20], repr(e))
    for missing in ("p:99999", "p@nosuchtag", "nope@s1"):
        h.set_export_name(missing)
        report(errno_of(h.opt_info) == "ENOENT" and h.aio_is_negotiating(),
               "opt_info of %s: ENOENT" % missing)
    h.set_export_name("p")
    h.set_request_block_size(True)
    h.set_full_info(True)
    report(errno_of(h.opt_info) is None and h.get_size() == 256 * MiB,
           "opt_info(p) after all that: the size")
    report([h.get_block_size(x) for x in (nbd.SIZE_MINIMUM, nbd.SIZE_PREFERRED, nbd.SIZE_MAXIMUM)] ==
           [1, 4096, 32 * MiB], "block sizes 1 / 4096 / 32 MiB")
    report(h.get_canonical_export_name() == "p", "the canonical name (INFO_NAME)")
    ctx = []
    h.opt_list_meta_context(lambda n: ctx.append(n))
    report(ctx == ["base:allocation"], "opt_list_meta_context: base:allocation", repr(ctx))
    h.set_export_name("nope")
    report(errno_of(h.opt_go) == "ENOENT" and h.aio_is_negotiating(), "opt_go of a missing VDI: ENOENT")
    h.set_export_name("p")
    report(errno_of(h.opt_go) is None and len(h.pread(512, 0)) == 512, "then opt_go(p) and a read")
    h.shutdown()

    h = nbd.NBD()
    h.set_tls(nbd.TLS_REQUIRE)
    t0 = time.time()
    e = errno_of(h.connect_uri, uri("p"))
    report(e is not None and time.time() - t0 < 5, "TLS required: the connection fails, at once", repr(e))
    h = nbd.NBD()
    h.set_tls(nbd.TLS_ALLOW)
    h.connect_uri(uri("p"))
    report(not h.get_tls_negotiated() and len(h.pread(512, 0)) == 512,
           "TLS allowed: STARTTLS refused, plain NBD goes on")
    h.shutdown()

    h = nbd.NBD()
    h.add_meta_context("base:allocation")
    h.connect_uri(uri("p"))
    caps = [h.can_flush(), h.can_fua(), h.can_trim(), h.can_zero(), h.can_fast_zero(),
            h.can_multi_conn(), h.can_cache(), h.can_df(), h.can_meta_context("base:allocation")]
    report(all(caps) and not h.is_read_only(), "p: flush, fua, trim, zero, fast zero, multi-conn, "
           "cache, df, base:allocation; writable", repr(caps))
    h.set_strict_mode(0)
    S = 256 * MiB
    report([errno_of(f, *a) for f, a in ((h.pread, (0, 4096)), (h.pwrite, (b"", 4096)),
                                         (h.trim, (0, 4096)), (h.zero, (0, 4096)))] == [None] * 4,
           "length 0 READ, WRITE, TRIM, WRITE_ZEROES: success")
    report(errno_of(h.block_status, 0, 0, lambda *a: 0) == "EINVAL", "BLOCK_STATUS of length 0: EINVAL")
    report(errno_of(h.pread, 4096, S) == "EINVAL", "READ at the end: EINVAL")
    report(errno_of(h.pread, 8192, S - 4096) == "EINVAL", "READ across the end: EINVAL")
    report(errno_of(h.pread, 1, S - 1) is None, "READ of the last byte: fine")
    report(errno_of(h.pread, 512, (1 << 64) - 256) == "EINVAL", "READ whose end wraps 2^64: EINVAL")
    report(errno_of(h.pwrite, b"w" * 8192, S - 4096) in ("ENOSPC", "EINVAL"),
           "WRITE across the end: ENOSPC (or EINVAL)")
    report(h.pread(4096, S - 4096) == bytes(4096), "... and nothing of it landed")
    report(errno_of(h.trim, 8 * MiB, S - 4 * MiB) == "EINVAL", "TRIM across the end: EINVAL")
    report(errno_of(h.zero, 8 * MiB, S - 4 * MiB) in ("ENOSPC", "EINVAL"),
           "WRITE_ZEROES across the end: ENOSPC (or EINVAL)")
    report(errno_of(h.cache, MiB, 0) is None, "CACHE: success")
    report(errno_of(h.cache, 8192, S - 4096) == "EINVAL", "CACHE across the end: EINVAL (the spec's SHOULD)")
    report(errno_of(h.cache, 4096, 0, nbd.CMD_FLAG_FAST_ZERO) == "EINVAL", "CACHE with FAST_ZERO: EINVAL")
    report(errno_of(h.block_status, 8192, S - 4096, lambda *a: 0) == "EINVAL",
           "BLOCK_STATUS across the end: EINVAL")
    report(errno_of(h.flush, nbd.CMD_FLAG_FUA) is None, "FLUSH with FUA: accepted")

    # FAST_ZERO, NO_HOLE, TRIM against base:allocation (objects 8.. of p)
    O = 4 * MiB
    h.pwrite(b"\xa5" * 8192, 8 * O + 1000)
    report(errno_of(h.zero, 4096, 8 * O + 2000, nbd.CMD_FLAG_FAST_ZERO) == "ENOTSUP" and
           h.pread(8192, 8 * O + 1000) == b"\xa5" * 8192,
           "FAST_ZERO inside a written object: ENOTSUP, data untouched")
    report(errno_of(h.zero, O, 9 * O, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE) == "ENOTSUP",
           "FAST_ZERO with NO_HOLE: ENOTSUP")
    report(errno_of(h.zero, O + 5, 14 * O - 5, nbd.CMD_FLAG_FAST_ZERO) is None,
           "FAST_ZERO of a whole hole and the edge of another: success")

    def extents(off, n, flags=0):
        out = []
        h.block_status(n, off, lambda m, o, e, err: out.extend(zip(e[0::2], e[1::2])) or 0, flags)
        return out

    report(extents(8 * O, 2 * O) == [(O, 0), (O, 3)], "block status: object 8 data, 9 a hole",
           repr(extents(8 * O, 2 * O)))
    report(errno_of(h.zero, O, 8 * O, nbd.CMD_FLAG_FAST_ZERO) is None and
           h.pread(8192, 8 * O + 1000) == bytes(8192) and extents(8 * O, O) == [(O, 3)],
           "FAST_ZERO of a whole written object: unmapped, reads zeros")
    h.zero(100, 10 * O + 50, nbd.CMD_FLAG_NO_HOLE)
    report(extents(10 * O, O) == [(O, 0)] and h.pread(100, 10 * O + 50) == bytes(100),
           "WRITE_ZEROES NO_HOLE of 100 bytes in a hole: allocated, reads zeros")
    h.pwrite(b"\x11" * (2 * O), 11 * O)
    h.trim(O + 4096, 11 * O)
    report(extents(11 * O, 2 * O) == [(O, 3), (O, 0)] and h.pread(4096, 12 * O) == b"\x11" * 4096,
           "TRIM of object 11 and a partial piece of 12: 11 unmapped, 12 left", repr(extents(11 * O, 2 * O)))
    e1 = extents(0, 16 * O, nbd.CMD_FLAG_REQ_ONE)
    e2 = extents(0, 16 * O)
    report(len(e1) == 1 and e1[0][0] <= 16 * O, "block status with REQ_ONE: one extent", repr(e1))
    report(sum(n for n, _ in e2) == 16 * O and all(f in (0, 3) for _, f in e2) and
           all(e2[i][1] != e2[i + 1][1] for i in range(len(e2) - 1)),
           "block status: runs merged, covering the range exactly", repr(e2))
    report(extents(3 * O + 7, 100) == [(100, 3)], "block status of 100 bytes mid-hole: clipped to 100")

    chunks = []
    h.pread_structured(3 * O, 7 * O + 5, lambda b, o, st, err: chunks.append((o, len(b), st)) or 0)
    cov = sorted(chunks)
    report(cov and cov[0][0] == 7 * O + 5 and all(cov[i][0] + cov[i][1] == cov[i + 1][0]
                                                   for i in range(len(cov) - 1)) and
           sum(c[1] for c in cov) == 3 * O, "a structured read's chunks cover the range exactly", repr(cov))
    chunks = []
    h.pread_structured(65536, 8 * O - 100, lambda b, o, st, err: chunks.append((o, len(b))) or 0,
                       nbd.CMD_FLAG_DF)
    report(chunks == [(8 * O - 100, 65536)], "DF: one chunk", repr(chunks))

    # many in flight: 100 writes at odd sizes and offsets across objects, then 100 reads
    rnd = random.Random(18)
    base, spans, off = 20 * O - 12345, [], 0
    for i in range(100):
        n = rnd.randrange(1, 300000)
        spans.append((base + off, bytes([rnd.randrange(256)]) * n))
        off += n + rnd.randrange(0, 5000)
    done = []
    bufs = [nbd.Buffer.from_bytearray(d) for _, d in spans]
    for i, (o, d) in enumerate(spans):
        h.aio_pwrite(bufs[i], o, completion=lambda err, i=i: done.append((i, err.value)) or 1)
    while h.aio_in_flight():
        h.poll(-1)
    report(len(done) == 100 and all(e == 0 for _, e in done), "100 aio writes (1..300000 bytes, odd "
           "offsets, across objects) at once: all acknowledged")
    print("info: nbd_client.py: write completions %s" % ("out of order" if [i for i, _ in done] != list(range(100))
                                                 else "in order"), flush=True)
    rbufs = [nbd.Buffer(len(d)) for _, d in spans]
    done = []
    for i, (o, d) in enumerate(spans):
        h.aio_pread(rbufs[i], o, completion=lambda err, i=i: done.append((i, err.value)) or 1)
    while h.aio_in_flight():
        h.poll(-1)
    report(all(e == 0 for _, e in done) and all(rbufs[i].to_bytearray() == spans[i][1] for i in range(100)),
           "100 aio reads at once: each its own data")
    # out of order: a 32 MiB write into 8 new objects, then 16 small reads of written data
    ooo = False
    for attempt in range(4):
        order = []
        big = nbd.Buffer.from_bytearray(bytes([attempt + 1]) * (32 * MiB))
        h.aio_pwrite(big, 32 * O + attempt * 32 * MiB if attempt < 2 else 48 * O,
                     completion=lambda err: order.append("w") or 1)
        for i in range(16):
            h.aio_pread(nbd.Buffer(4096), base + i * 4096, completion=lambda err: order.append("r") or 1)
        while h.aio_in_flight():
            h.poll(-1)
        if order.index("w") > 0:
            ooo = True
            break
    report(ooo, "answered out of order: reads sent after a 32 MiB write were answered before it",
           "".join(order))
    h.flush()

    # multi-conn: a write on one connection, FLUSH on another, a read on the other
    h2 = nbd.NBD()
    h2.connect_uri(uri("p"))
    h.pwrite(b"\x5a" * 5000, 60 * O - 2500)
    h2.flush()
    report(h2.pread(5000, 60 * O - 2500) == b"\x5a" * 5000, "multi-conn: write on one, FLUSH on the "
           "other: the other reads it")
    h2.pwrite(b"\x5b" * 3000, 60 * O - 1000, nbd.CMD_FLAG_FUA)
    report(h.pread(5000, 60 * O - 2500) == b"\x5a" * 1500 + b"\x5b" * 3000 + b"\x5a" * 500,
           "multi-conn: a FUA write on the other, the first reads it")
    h2.shutdown()

    # a connection opened before a snapshot: the snapshot stays frozen
    h.pwrite(b"A" * 4096, 61 * O)
    h.pwrite(b"C" * (2 * O), 56 * O)
    h.flush()
    dog("vdi", "snapshot", "-s", "s2", "p")
    e = errno_of(h.pwrite, b"B" * 4096, 61 * O)
    et, ez = errno_of(h.trim, O, 56 * O), errno_of(h.zero, O, 57 * O)
    hs = nbd.NBD()
    hs.connect_uri(uri("p@s2"))
    report(hs.pread(4096, 61 * O) == b"A" * 4096, "a write through a connection opened before a "
           "snapshot does not change the snapshot", "the write: %s" % e)
    report(hs.pread(4096, 56 * O) == b"C" * 4096 and hs.pread(4096, 57 * O) == b"C" * 4096,
           "nor do a TRIM and a WRITE_ZEROES of whole objects through it",
           "TRIM: %s, WRITE_ZEROES: %s, the snapshot reads %r, %r" %
           (et or "acknowledged", ez or "acknowledged", hs.pread(1, 56 * O), hs.pread(1, 57 * O)))
    hn = nbd.NBD()
    hn.connect_uri(uri("p"))
    now = hn.pread(4096, 61 * O)
    report(e is None and now == b"B" * 4096, "... it goes on into the new working VDI p (as tgt's and "
           "QEMU's sheepdog drivers do), not EPERM", "write %s, p reads %r" % (e, now[:4]))
    z = hn.pread(O, 57 * O)
    report(ez is not None or z == bytes(O), "... an acknowledged WRITE_ZEROES there reads zeros in p",
           "p reads %r" % z[:4])
    e2 = errno_of(h.pwrite, b"D" * 5000, 59 * O - 2500)
    report(e2 is None and hn.pread(5000, 59 * O - 2500) == b"D" * 5000 and
           hs.pread(5000, 59 * O - 2500) == bytes(5000),
           "... and a write into two never-written objects lands in p, not in the snapshot", repr(e2))
    hs.shutdown()
    hn.shutdown()
    h.shutdown()

    # snapshots: read-only, writes refused
    snapid = None
    for line in dog("vdi", "list", "-r").splitlines():
        f = line.split()	# s NAME ID SIZE USED SHARED CTIME VID COPIES TAG SHIFT
        if f[0] == "s" and f[1] == "p" and f[9] == "s1":
            snapid = f[2]
    for name in ("p@s1", "p:%s" % snapid):
        h = nbd.NBD()
        h.connect_uri(uri(name))
        before = h.pread(4096, 0)
        h.set_strict_mode(0)
        es = [errno_of(h.pwrite, b"z" * 4096, 0), errno_of(h.trim, O, 0), errno_of(h.zero, 4096, 0),
              errno_of(h.pwrite, b"z" * 4096, 0, nbd.CMD_FLAG_FUA)]
        report(h.is_read_only() and not h.can_trim() and es == ["EPERM"] * 4 and h.pread(4096, 0) == before
               and before == b"S" * 4096, "%s: read-only, WRITE/TRIM/WRITE_ZEROES/FUA WRITE: EPERM, "
               "unchanged" % name, repr(es))
        report(errno_of(h.flush) is None and errno_of(h.cache, 4096, 0) is None,
               "%s: FLUSH and CACHE fine" % name)
        h.shutdown()

    # simple replies only
    h = nbd.NBD()
    h.set_request_structured_replies(False)
    h.connect_uri(uri("p"))
    h.set_strict_mode(0)
    h.pwrite(b"\x33" * 777, 62 * O - 300)
    report(not h.get_structured_replies_negotiated() and not h.can_df() and
           h.pread(777, 62 * O - 300) == b"\x33" * 777 and errno_of(h.pread, 4096, S) == "EINVAL",
           "simple replies: no DF; write, read, an error")
    h.shutdown()


def snapshot_race():
    """Writes into new objects through the NBD gateway while dog takes
    snapshots through another sheep: every acknowledged write reads back from
    the working VDI, and no snapshot holds a write issued after its dog
    returned."""
    import threading
    O = 4 * MiB
    dog("vdi", "create", "r", "4G")
    h = nbd.NBD()
    h.connect_uri(uri("r"))
    acked, marks = [], []

    def snaps():
        for i in range(6):
            time.sleep(0.1)
            dog("vdi", "snapshot", "-s", "t%d" % i, "r")
            marks.append((i, len(acked)))
    t = threading.Thread(target=snaps)
    t.start()
    k = 0
    while t.is_alive() and k < 1024:
        h.pwrite(bytes([k % 250 + 1]) * 4096, k * O)	# each one creates an object
        acked.append(k)
        k += 1
    t.join()
    h.shutdown()
    g = nbd.NBD()
    g.connect_uri(uri("r"))
    lost = [k for k in acked if g.pread(4096, k * O) != bytes([k % 250 + 1]) * 4096]
    g.shutdown()
    report(len(marks) == 6 and not lost, "%d writes into new objects while 6 snapshots were taken through "
           "another sheep: every acknowledged one is in the working VDI" % len(acked),
           "%d lost, e.g. writes %s" % (len(lost), lost[:8]))
    late = []
    for i, n in marks:
        sh = nbd.NBD()
        sh.connect_uri(uri("r@t%d" % i))
        # acked[n] may have been in flight when dog returned: it may or may not be in the
        # snapshot; every later one was issued after the snapshot was taken
        late += ["t%d has write %d" % (i, k) for k in acked[n + 1:] if sh.pread(4096, k * O) != bytes(4096)]
        sh.shutdown()
    report(not late, "... and no snapshot holds a write issued after its dog returned", ", ".join(late[:6]))


def proto():
    global HOST, PORT, DOG, DOGPORT
    HOST, PORT, DOG, DOGPORT = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    dog("vdi", "create", "p", "256M")
    h = nbd.NBD()
    h.connect_uri(uri("p"))
    h.pwrite(b"S" * 4096, 0)
    h.shutdown()
    dog("vdi", "snapshot", "-s", "s1", "p")
    for part in (raw_checks, libnbd_checks, snapshot_race):
        try:
            part()
        except Exception as e:  # a check that could not even run
            import traceback
            traceback.print_exc()
            report(False, "%s ran to its end" % part.__name__, repr(e))
    h = nbd.NBD()
    h.connect_uri(uri("p"))
    report(h.pread(4096, 0) == b"S" * 4096, "the server still serves a new client at the end")
    sys.exit(1 if FAILED else 0)


# ---- a writer and its verifier ---------------------------------------------

BS, NB, BASE = 70000, 120, 4 * MiB - 30000		# blocks straddle object boundaries


def record(k):
    return struct.pack(">QQ", k, k % NB) * (BS // 16)


def write():
    u, log, secs = sys.argv[2], sys.argv[3], float(sys.argv[4])
    every = int(sys.argv[5]) if len(sys.argv) > 5 else 8	# a FLUSH every so many writes; 0: none
    end = time.time() + secs
    h = nbd.NBD()
    h.connect_uri(u)
    k = 0
    with open(log, "w", buffering=1) as f:
        try:
            while time.time() < end:
                f.write("S %d\n" % k)
                h.pwrite(record(k), BASE + (k % NB) * BS)
                f.write("A %d\n" % k)
                k += 1
                if every and k % every == 0:
                    h.flush()
                    f.write("F %d %.3f\n" % (k, time.time()))
        except nbd.Error as e:
            f.write("E %d %s\n" % (k, e.string))
            print("writer: error at write %d: %s" % (k, e.string))
            sys.exit(2)
    print("writer: %d writes, %d flushes" % (k, k // every if every else 0))


def verify():
    u, log, mode = sys.argv[2], sys.argv[3], sys.argv[4]
    after = float(sys.argv[5]) if len(sys.argv) > 5 else None
    sent, acked, flushed, last_flush = -1, -1, 0, 0.0
    for line in open(log):
        f = line.split()
        if f[0] == "S":
            sent = int(f[1])
        elif f[0] == "A":
            acked = int(f[1])
        elif f[0] == "F":
            flushed, last_flush = int(f[1]), float(f[2])
    durable = flushed - 1 if mode == "flushed" else acked	# the newest write that must be there
    h = nbd.NBD()
    h.connect_uri(u)
    bad = []
    for b in range(NB):
        data = h.pread(BS, BASE + b * BS)
        # the newest write to b that must be there, and the newest sent
        lo = durable - ((durable - b) % NB) if durable >= b else None
        hi = sent - ((sent - b) % NB) if sent >= b else None
        for i in range(0, BS, 16):
            k, bb = struct.unpack_from(">QQ", data, i)
            if (k, bb) == (0, 0) and lo is None:
                continue	# never durably written: a hole
            if bb != b or k % NB != b or hi is None or k > hi or (lo is not None and k < lo):
                bad.append("block %d byte %d: record (%d, %d), want %s..%s" % (b, i, k, bb, lo, hi))
                break
    print("verify (%s): %d sent, %d acked, %d flushed; %d of %d blocks wrong" %
          (mode, sent + 1, acked + 1, flushed, len(bad), NB))
    for x in bad[:5]:
        print("  " + x)
    ok = not bad and durable >= 16
    if after is not None and last_flush < after + 0.5:
        print("  the last FLUSH completed %.1f s after the kill: want >= 0.5" % (last_flush - after))
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    {"proto": proto, "write": write, "verify": verify}[sys.argv[1]]()
