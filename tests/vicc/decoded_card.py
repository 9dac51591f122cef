#!/usr/bin/env python3
"""An independent virtual ID card for vsmartcard's vpcd, written apart from
examgate's own simulator (no shared code): it lays out the GA 467 text block
from protocols.md by hand and answers like a decoded-card reader.

Usage: decoded_card.py PORT  (prints "ready" once connected; exits when vpcd
closes the connection or stdin closes).
"""
import functools
import operator
import socket
import struct
import sys
import threading


def ucs2(text, size):
    raw = text.encode("utf-16-le")
    assert len(raw) <= size, (text, size)
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


# A resident card, field by field, offsets from protocols.md §1.
TEXT = (
    ucs2("欧阳娜娜", 30)          # 0   name
    + ucs2("2", 2)               # 30  sex: female
    + ucs2("05", 4)              # 32  nation: Uyghur
    + ucs2("20000229", 16)       # 36  birth
    + ucs2("新疆维吾尔自治区喀什市人民东路12号", 70)  # 52 address
    + ucs2("653101200002290024", 36)  # 122 ID number
    + ucs2("喀什市公安局", 30)     # 158 issuer
    + ucs2("20180301", 16)       # 188 valid from
    + ucs2("20380301", 16)       # 204 valid to
    + ucs2("", 36)               # 220 reserved (card type at 248: space)
)
assert len(TEXT) == 256
PHOTO = bytes((i * 13 + 7) % 256 for i in range(1024))
RECORD = struct.pack(">HH", 256, 1024) + TEXT + PHOTO
SERIAL = bytes.fromhex("0102030405060708")
# Type-B contactless ATR whose bytes 13-14 are 90 00 (a decoded-card reader), then TCK.
_ATR_BODY = bytes.fromhex("3B8B8001" + "00" * 9 + "9000")
ATR = _ATR_BODY + bytes([functools.reduce(operator.xor, _ATR_BODY[1:], 0)])


def answer(apdu):
    if apdu == bytes.fromhex("FFCA000000"):
        return SERIAL[:4] + b"\x90\x00"
    if apdu == bytes.fromhex("0036000008"):
        return SERIAL + b"\x90\x00"
    if len(apdu) == 5 and apdu[:2] == b"\xFF\xB0" and apdu[3:] == b"\x00\x00":
        start = apdu[2] * 256
        if start >= len(RECORD):
            return b"\x6B\x00"
        return RECORD[start:start + 256] + b"\x90\x00"
    return b"\x6D\x00"


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    return buf


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("ready", flush=True)
    # Leave when the test closes our stdin.
    threading.Thread(target=lambda: (sys.stdin.read(), sock.shutdown(socket.SHUT_RDWR)), daemon=True).start()
    try:
        while True:
            (length,) = struct.unpack(">H", recv_exact(sock, 2))
            msg = recv_exact(sock, length)
            if len(msg) == 1:
                if msg[0] == 0x04:
                    reply = ATR
                else:
                    continue
            else:
                reply = answer(msg)
            sock.sendall(struct.pack(">H", len(reply)) + reply)
    except (EOFError, OSError):
        pass


if __name__ == "__main__":
    main()
