/* mp4.h - the deterministic video file of a job, of any size, served whole or
 * as one byte range.
 *
 * Layout of a file of `total` bytes (total >= 32): a 24-byte "ftyp" box, an
 * "mdat" box header whose 32-bit size is total - 24, then for every offset
 * i >= 32 the byte pattern[i % 65536] with pattern[k] = (k * 131 + (k >> 8)) & 0xff.
 * The pattern bytes are added to the reply by reference to one static table,
 * so a multi-megabyte reply costs no copy and little memory. */
#ifndef MOCK_MP4_H
#define MOCK_MP4_H

#include <evhtp.h>

/* Replies the file of total bytes (clamped to >= 32) with Content-Type
 * video/mp4 and Accept-Ranges: bytes. A single "Range: bytes=a-b", "a-" or
 * "-n" gives 206 with Content-Range; a range past the end gives 416 whose
 * Content-Range is "bytes", an asterisk, "/" and total; anything else (several ranges, another
 * unit, a malformed header) is ignored: 200 with the whole file. */
void mock_mp4_reply(evhtp_request_t *req, long total);

#endif
