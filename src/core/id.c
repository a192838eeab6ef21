/* id.c - request id generation. */
#include "core/id.h"
#include "core/crypto.h"

#include <stdio.h>

static _Thread_local uint64_t tl_state[2];

static uint64_t next(void)
{
    /* xorshift128+: fast, per-thread; ids need uniqueness, not secrecy. */
    if (tl_state[0] == 0 && tl_state[1] == 0)
        lx_random_bytes(tl_state, sizeof tl_state);
    uint64_t s1 = tl_state[0];
    const uint64_t s0 = tl_state[1];
    tl_state[0] = s0;
    s1 ^= s1 << 23;
    tl_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return tl_state[1] + s0;
}

size_t lx_request_id_new(char *out)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t a = next(), b = next();
    memcpy(out, "req_", 4);
    for (int i = 0; i < 16; i++)
        out[4 + i] = digits[(a >> (60 - 4 * i)) & 15];
    for (int i = 0; i < 8; i++)
        out[20 + i] = digits[(b >> (60 - 4 * i)) & 15];
    out[28] = '\0';
    return 28;
}

bool lx_request_id_valid(const char *p, size_t n)
{
    if (n == 0 || n > LX_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}
