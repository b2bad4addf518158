#!/usr/bin/env python3
# relay-proxy.py - a TCP proxy that counts bytes, for tests/t/relay-log-s3.sh:
# the bytes a smugglr verb moves, counted outside smugglr.
#   relay-proxy.py PORTFILE COUNTFILE TARGET-PORT
# Listens on a free loopback port (written to PORTFILE), forwards every
# connection to 127.0.0.1:TARGET-PORT, and keeps COUNTFILE at
# "SENT RECEIVED": bytes from the clients to the store and back, since it
# started (replaced whole after every chunk).
import os, socket, sys, threading

portfile, countfile, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
totals = [0, 0]

def note(i, n):
    with lock:
        totals[i] += n
        tmp = countfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (totals[0], totals[1]))
        os.replace(tmp, countfile)

def pump(src, dst, i):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            note(i, len(data))
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(client):
    try:
        store = socket.create_connection(("127.0.0.1", target))
    except OSError:
        client.close()
        return
    threading.Thread(target=pump, args=(client, store, 0), daemon=True).start()
    pump(store, client, 1)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
note(0, 0)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
os.replace(portfile + ".tmp", portfile)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
