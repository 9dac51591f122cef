#!/usr/bin/env python3
"""Writes the saved SAM replies in this directory, from protocols.md §1 alone
(independently of the Rust codec and of the SDK's text-block encoder):

- reply_30_01_resident.bin: a 30 01 reply (1295 bytes) for a fictitious
  resident card, photo = simulators/cards/sample-photo.wlt (not a real WLT);
- reply_30_10_hk.bin: a 30 10 reply with 512 bytes of fingerprint records
  (1809 bytes) for a fictitious HK/Macao/Taiwan permit.
Run from this directory: python3 make_replies.py
"""

PREAMBLE = bytes([0xAA, 0xAA, 0xAA, 0x96, 0x69])


def ucs2(s, size):
    b = s.encode("utf-16-le")
    assert len(b) <= size, s
    return b + " ".encode("utf-16-le") * ((size - len(b)) // 2)


def frame(sw3, data):
    body = bytes([0x00, 0x00, sw3]) + data
    length = (len(body) + 1).to_bytes(2, "big")
    chk = 0
    for b in length + body:
        chk ^= b
    return PREAMBLE + length + body + bytes([chk])


photo = open("../../../../simulators/cards/sample-photo.wlt", "rb").read()
assert len(photo) == 1024

resident = (
    ucs2("王小明", 30) + ucs2("1", 2) + ucs2("03", 4) + ucs2("19761231", 16)
    + ucs2("宁夏回族自治区银川市兴庆区解放西街1号", 70) + ucs2("640104197612310010", 36)
    + ucs2("银川市公安局兴庆区分局", 30) + ucs2("20161020", 16) + ucs2("长期", 16) + ucs2("", 36)
)
assert len(resident) == 256
data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + resident + photo
open("reply_30_01_resident.bin", "wb").write(frame(0x90, data))

hk = (
    ucs2("李嘉欣", 30) + ucs2("2", 2) + ucs2("", 4) + ucs2("19920808", 16)
    + ucs2("广东省广州市天河区天河路1号", 70) + ucs2("810000199208080022", 36)
    + ucs2("广州市公安局天河区分局", 30) + ucs2("20200101", 16) + ucs2("20250101", 16)
    + ucs2("H12345678", 18) + ucs2("01", 4) + ucs2("", 6) + ucs2("J", 2) + ucs2("", 6)
)
assert len(hk) == 256
fingerprint = bytes((i * 7) & 0xFF for i in range(512))
data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + (512).to_bytes(2, "big") + hk + photo + fingerprint
open("reply_30_10_hk.bin", "wb").write(frame(0x90, data))
