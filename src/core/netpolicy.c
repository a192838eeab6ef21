/* netpolicy.c - CIDR parsing and matching, and the upstream address rule
 * (see netpolicy.h). */
#include "core/netpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* 169.254.0.0/16, fe80::/10, fd00:ec2::254/128, 64:ff9b::a9fe:0/112 */
static const lx_cidr_t builtin_deny[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 0, 0}, 112},
    {{0xfe, 0x80}, 10},
    {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128},
    {{0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 169, 254, 0, 0}, 112},
};

int lx_cidr_parse(const char *s, size_t n, lx_cidr_t *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return LX_ERROR;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *slash = strchr(tmp, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        const char *b = slash + 1;
        if (*b == '\0' || strlen(b) > 3)
            return LX_ERROR;
        bits = 0;
        for (; *b; b++) {
            if (*b < '0' || *b > '9')
                return LX_ERROR;
            bits = bits * 10 + (*b - '0');
        }
    }
    uint8_t a[16];
    struct in_addr v4;
    if (inet_pton(AF_INET, tmp, &v4) == 1) {
        if (bits > 32)
            return LX_ERROR;
        memcpy(a, v4_prefix, 12);
        memcpy(a + 12, &v4, 4);
        bits = bits < 0 ? 128 : bits + 96;
    } else if (inet_pton(AF_INET6, tmp, a) == 1) {
        if (bits > 128)
            return LX_ERROR;
        if (bits < 0)
            bits = 128;
    } else {
        return LX_ERROR;
    }
    /* host bits must be zero: "10.0.0.1/8" is most likely a mistake */
    for (int i = 0; i < 16; i++) {
        int keep = (int)bits - i * 8;
        uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        if (a[i] & (uint8_t)~mask)
            return LX_ERROR;
    }
    memcpy(out->addr, a, 16);
    out->bits = (uint8_t)bits;
    return LX_OK;
}

int lx_cidr_list_parse(const char *list, lx_cidr_t *out, int max, int *n, char *err, size_t errlen)
{
    *n = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        if (e == NULL)
            e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a < b) {
            if (*n == max) {
                snprintf(err, errlen, "at most %d networks", max);
                return LX_ERROR;
            }
            if (lx_cidr_parse(a, (size_t)(b - a), &out[*n]) != LX_OK) {
                snprintf(err, errlen,
                         "'%.*s' is not an IPv4 or IPv6 network (like 10.0.0.0/8 or fd00::/8, "
                         "host bits zero)",
                         (int)LX_MIN(b - a, 64), a);
                return LX_ERROR;
            }
            (*n)++;
        }
        p = *e ? e + 1 : e;
    }
    return LX_OK;
}

bool lx_cidr_match(const lx_cidr_t *c, const uint8_t ip[16])
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, ip, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (ip[full] & mask) == c->addr[full];
}

bool lx_net_addr16(const struct sockaddr *sa, socklen_t len, uint8_t ip[16])
{
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(ip, v4_prefix, 12);
        memcpy(ip + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

static bool in_list(const lx_cidr_t *l, int n, const uint8_t ip[16])
{
    for (int i = 0; i < n; i++)
        if (lx_cidr_match(&l[i], ip))
            return true;
    return false;
}

lx_net_verdict_t lx_netpolicy_check(const lx_netpolicy_t *p, const uint8_t ip[16])
{
    if (p && in_list(p->denied, p->ndenied, ip))
        return LX_NET_DENIED_LIST;
    if (p && in_list(p->allowed, p->nallowed, ip))
        return LX_NET_ALLOW;
    if (in_list(builtin_deny, (int)LX_ARRAY_LEN(builtin_deny), ip))
        return LX_NET_DENIED_BUILTIN;
    return LX_NET_ALLOW;
}

const char *lx_net_verdict_why(lx_net_verdict_t v)
{
    switch (v) {
    case LX_NET_DENIED_LIST:
        return "upstream.denied_networks";
    case LX_NET_DENIED_BUILTIN:
        return "built-in link-local/metadata deny; allow with upstream.allowed_networks";
    default:
        return "";
    }
}

void lx_net_addr_str(const uint8_t ip[16], char out[46])
{
    if (memcmp(ip, v4_prefix, 12) == 0)
        inet_ntop(AF_INET, ip + 12, out, 46);
    else
        inet_ntop(AF_INET6, ip, out, 46);
}
