#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A stand-in lease server speaking include/holdfs/proto.h, for testing
libholdfs without the real daemon's lease server.

It uses the leased file itself as "the region": extents map file offset X
to region offset X of the file descriptor the client sent (which the fake
sends back as the region fd), so POSIX I/O on the file and DAX access meet
in the same pages, as they do in holdfs.  Read leases report holes where
SEEK_HOLE finds them.  The test drives revocations and remaps by hand.

Run as a thread (FakeDaemon(path).start()) or as a process
(python3 fakedaemon.py SOCKET [CTL_DIR DEVFILE]) that a test can SIGKILL.
"""

import os
import socket
import mmap
import struct
import sys
import threading
import time

MAGIC = 0x48464450
VERSION = 3  # include/holdfs/proto.h HFS_PROTO_VERSION
HDR = struct.Struct('<IHHIIQ')          # 24
HELLO_OK = struct.Struct('<QII16sIIQII')  # after hdr: 56 bytes
LEASE_REQ = struct.Struct('<QQII')
LEASE_OK = struct.Struct('<QQQQIIII')
EXTENT = struct.Struct('<QQQII')
LEASE_REF = struct.Struct('<Q')
REVOKE = struct.Struct('<II')              # reason, nranges
REVOKE_RANGE = struct.Struct('<QQQ')       # lease, offset, length
COH_NONE = 0xffffffff
REMAP = struct.Struct('<QII')
RANGE = struct.Struct('<QQQ')
ERROR = struct.Struct('<iI96s')

(HELLO, HELLO_OK_T, LEASE_REQ_T, LEASE_OK_T, ERROR_T, RELEASE, RELEASE_OK,
 REVOKE_T, REVOKE_ACK, REMAP_T, REMAP_ACK, PERSISTED, POISON,
 PERSISTED_OK) = range(1, 15)
HOLE = 1
PROT_WRITE = 2


def msg(type_, id_, body=b''):
    return HDR.pack(MAGIC, VERSION, type_, HDR.size + len(body), 0, id_) + body


class Lease:
    def __init__(self, conn, lid, off, length, prot, fd):
        self.conn, self.id, self.off, self.length, self.prot, self.fd = conn, lid, off, length, prot, fd


class FakeDaemon:
    def __init__(self, path, alloc_unit=4096, revoke_ms=1000, holes=True,
                 persist_reply=True, coherence=False, revoke_first=False):
        self.path = path
        # revoke_first: every lease is revoked whole before its LEASE_OK
        # is sent, which goes out once the REVOKE is acked (the real
        # daemon holds a LEASE_OK back during a REMAP round, and a
        # truncate can revoke the lease meanwhile)
        self.revoke_first = revoke_first
        self.held_ok = {}       # REVOKE id -> (conn, LEASE_OK, fd or None)
        # coherence: hand out a coherence table (one page; every lease
        # gets word 0, set with set_coh); else clients always ask
        self.coh_fd, self.coh_map = -1, None
        if coherence:
            self.coh_fd = os.memfd_create('fake-coherence')
            os.ftruncate(self.coh_fd, 4096)
            self.coh_map = mmap.mmap(self.coh_fd, 4096)
            self.set_coh(1)
        self.persist_reply = persist_reply  # False: never answer PERSISTED
        self.alloc_unit = alloc_unit
        self.revoke_ms = revoke_ms
        self.holes = holes
        self.lock = threading.Condition()
        self.leases = {}
        self.next_id = 100
        self.acks = set()
        self.persisted = []
        self.released = []
        self.conns = []
        self.log = []
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.srv.bind(path)
        self.srv.listen(16)

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        sent_region = set()
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(c, 65536, 4)
            except OSError:
                return
            if not data:
                return
            magic, ver, type_, ln, _, id_ = HDR.unpack_from(data)
            assert magic == MAGIC and ver == VERSION and ln == len(data), 'bad header'
            body = data[HDR.size:]
            self.log.append(type_)
            if type_ == HELLO:
                m = msg(HELLO_OK_T, id_, HELLO_OK.pack(1 << 40, self.alloc_unit,
                                                       self.revoke_ms, b'U' * 16,
                                                       1024 if self.coh_map else 0,
                                                       1, 0, 0, 0))
                if self.coh_map:
                    socket.send_fds(c, [m], [self.coh_fd])
                else:
                    c.send(m)
            elif type_ == LEASE_REQ_T:
                self._lease(c, id_, body, fds, sent_region)
                continue
            elif type_ == RELEASE:
                (lid,) = LEASE_REF.unpack_from(body)
                with self.lock:
                    l = self.leases.pop(lid, None)
                    self.released.append(lid)
                    self.lock.notify_all()
                if l:
                    os.close(l.fd)
                c.send(msg(RELEASE_OK, id_, LEASE_REF.pack(lid)))
            elif type_ in (REVOKE_ACK, REMAP_ACK):
                with self.lock:
                    self.acks.add(id_)
                    held = self.held_ok.pop(id_, None)
                    self.lock.notify_all()
                if held:
                    hc, hm, hfd = held
                    if hfd is None:
                        hc.send(hm)
                    else:
                        socket.send_fds(hc, [hm], [hfd])
            elif type_ == PERSISTED:
                rng = RANGE.unpack_from(body)
                with self.lock:
                    self.persisted.append(rng)
                    self.lock.notify_all()
                if self.persist_reply:
                    # the file is "the region": no other cache to drop
                    c.send(msg(PERSISTED_OK, id_, LEASE_REF.pack(rng[0])))
            for fd in fds:
                os.close(fd)

    def _extents(self, fd, off, length, prot):
        end = off + length
        if prot & PROT_WRITE or not self.holes:
            return [(off, off, length, 0)]
        ext = []
        pos = off
        while pos < end:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                data = end
            data = min(data, end)
            if data > pos:
                ext.append((pos, 0, data - pos, HOLE))
                pos = data
                continue
            hole = min(os.lseek(fd, pos, os.SEEK_HOLE), end)
            hole = (hole + 4095) // 4096 * 4096
            ext.append((pos, pos, min(hole, end) - pos, 0))
            pos = min(hole, end)
        return ext

    def _lease(self, c, id_, body, fds, sent_region):
        off, length, prot, _ = LEASE_REQ.unpack_from(body)
        if not fds:
            c.send(msg(ERROR_T, id_, ERROR.pack(22, 0, b'no fd')))
            return
        fd = fds[0]
        for extra in fds[1:]:
            os.close(extra)
        if prot & PROT_WRITE and os.fstat(fd).st_size < off + length:
            os.ftruncate(fd, off + length)       # "allocate"
        ext = self._extents(fd, off, length, prot)
        with self.lock:
            lid = self.next_id
            self.next_id += 1
            self.leases[lid] = Lease(c, lid, off, length, prot, fd)
            self.lock.notify_all()
        body = LEASE_OK.pack(lid, os.fstat(fd).st_ino, off, length, prot, len(ext),
                             0 if self.coh_map else COH_NONE, 0xffffffff)
        body += b''.join(EXTENT.pack(a, b, n, f, 0) for a, b, n, f in ext)
        key = prot & PROT_WRITE
        send_fd = None
        if key not in sent_region:
            sent_region.add(key)
            send_fd = fd
        if self.revoke_first:
            with self.lock:
                rid = self.next_id
                self.next_id += 1
                self.held_ok[rid] = (c, msg(LEASE_OK_T, id_, body), send_fd)
            c.send(msg(REVOKE_T, rid, REVOKE.pack(1, 1) +
                       REVOKE_RANGE.pack(lid, off, length)))
        elif send_fd is not None:
            socket.send_fds(c, [msg(LEASE_OK_T, id_, body)], [fd])
        else:
            c.send(msg(LEASE_OK_T, id_, body))

    # -- driving the client ------------------------------------------------

    def wait_lease(self, n=1, timeout=10):
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.leases) >= n, timeout):
                raise AssertionError('no lease taken within %ss' % timeout)
            return sorted(self.leases)[-1]

    def _send_wait(self, lease, data, rid, timeout):
        t0 = time.monotonic()
        lease.conn.send(data)
        with self.lock:
            if not self.lock.wait_for(lambda: rid in self.acks, timeout):
                raise AssertionError('no ack for %d within %ss' % (rid, timeout))
        return time.monotonic() - t0

    def revoke(self, lid, off, length, reason=1, timeout=5):
        """Send REVOKE; return the seconds until the ACK."""
        return self.revoke_many([(lid, off, length)], reason, timeout)

    def revoke_many(self, ranges, reason=1, timeout=5):
        """One REVOKE with ranges [(lease, off, len)] (leases of one
        connection); return the seconds until its one ACK."""
        with self.lock:
            l = self.leases[ranges[0][0]]
            rid = self.next_id
            self.next_id += 1
        body = REVOKE.pack(reason, len(ranges))
        body += b''.join(REVOKE_RANGE.pack(*r) for r in ranges)
        return self._send_wait(l, msg(REVOKE_T, rid, body), rid, timeout)

    def set_coh(self, value):
        """Set coherence word 0 (0 CLEAN, 1 CACHED)."""
        self.coh_map[0:4] = struct.pack('<I', value)

    def remap(self, lid, extents, timeout=5):
        """extents: [(file_off, region_off, len)]; returns seconds to ACK."""
        with self.lock:
            l = self.leases[lid]
            rid = self.next_id
            self.next_id += 1
        body = REMAP.pack(lid, len(extents), 0)
        body += b''.join(EXTENT.pack(a, b, n, 0, 0) for a, b, n in extents)
        return self._send_wait(l, msg(REMAP_T, rid, body), rid, timeout)

    def wait_persisted(self, n=1, timeout=10):
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.persisted) >= n, timeout):
                raise AssertionError('no PERSISTED within %ss' % timeout)
            return list(self.persisted)

    def wait_released(self, lid, timeout=10):
        with self.lock:
            return self.lock.wait_for(lambda: lid in self.released, timeout)

    def close(self):
        self.srv.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


if __name__ == '__main__':
    d = FakeDaemon(sys.argv[1]).start()
    if len(sys.argv) > 3:           # CTL_DIR FILE: publish dev/<maj>:<min>
        st = os.stat(sys.argv[3])
        os.makedirs(os.path.join(sys.argv[2], 'dev'), exist_ok=True)
        link = os.path.join(sys.argv[2], 'dev', '%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev)))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(sys.argv[1], link)
    print('ready', flush=True)
    while True:
        time.sleep(3600)
