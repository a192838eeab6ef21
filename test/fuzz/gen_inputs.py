#!/usr/bin/env python3
"""Writes the fuzz regression inputs that are too large to commit.

Usage: gen_inputs.py OUTDIR  (one subfolder per fuzz target)
"""
import os
import sys

out = sys.argv[1]

# fuzz_http: a 7 MB application/x-www-form-urlencoded body. evhtp parses
# such a body as a query string into stack arrays as large as the body, so
# this overflowed the stack of whichever thread served it.
body = b"a=" + b"b" * (7 * 1024 * 1024)
head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
os.makedirs(os.path.join(out, "http"), exist_ok=True)
with open(os.path.join(out, "http", "form-urlencoded-7mb"), "wb") as f:
    f.write(head + body)
