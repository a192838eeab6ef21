/* netpolicy.h - which upstream addresses llmux may connect to: CIDR lists
 * (IPv4, IPv6, IPv4-mapped IPv6) and the rule that combines them.
 *
 * Pure: no allocation, no I/O, no global state. The upstream module asks
 * lx_netpolicy_check for every address curl is about to open a socket to
 * (so a name that resolves to another address later, DNS rebinding, is
 * checked again at connect time).
 *
 * The rule, first match wins:
 *   1. an address inside denied_networks is refused;
 *   2. an address inside allowed_networks is allowed;
 *   3. an address in the built-in deny list is refused: link-local
 *      169.254.0.0/16 (cloud metadata 169.254.169.254 is there), fe80::/10,
 *      AWS's IPv6 metadata fd00:ec2::254/128 and their NAT64 form
 *      64:ff9b::a9fe:0/112;
 *   4. anything else is allowed (loopback and private ranges too: self-hosted
 *      models live there).
 * IPv4 addresses are held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so an IPv4
 * CIDR also matches the mapped form of its addresses and the reverse. */
#ifndef LX_CORE_NETPOLICY_H
#define LX_CORE_NETPOLICY_H

#include "core/common.h"

#include <stdint.h>
#include <sys/socket.h>

#define LX_NET_MAX_CIDRS 64

typedef struct {
    uint8_t addr[16]; /* network bits only (the rest zeroed) */
    uint8_t bits;     /* prefix length on the 128-bit form */
} lx_cidr_t;

typedef struct {
    lx_cidr_t allowed[LX_NET_MAX_CIDRS];
    int nallowed;
    lx_cidr_t denied[LX_NET_MAX_CIDRS];
    int ndenied;
} lx_netpolicy_t;

typedef enum {
    LX_NET_ALLOW = 0,
    LX_NET_DENIED_LIST,    /* inside upstream.denied_networks */
    LX_NET_DENIED_BUILTIN, /* link-local / metadata, not in allowed_networks */
} lx_net_verdict_t;

/* Parses "10.0.0.0/8", "fd00::/8", "::ffff:10.0.0.0/104" or a bare address
 * (a /32 or /128) from s[0..n). Host bits past the prefix must be zero.
 * LX_OK or LX_ERROR. */
int lx_cidr_parse(const char *s, size_t n, lx_cidr_t *out);

/* Parses a comma-separated list (blanks around items allowed, an empty
 * string is an empty list) into out[0..max). On error writes the bad item
 * into err and returns LX_ERROR. */
int lx_cidr_list_parse(const char *list, lx_cidr_t *out, int max, int *n, char *err, size_t errlen);

/* ip: 16 bytes (IPv4 as ::ffff:a.b.c.d). */
bool lx_cidr_match(const lx_cidr_t *c, const uint8_t ip[16]);

/* Reads an AF_INET or AF_INET6 address into 16 bytes; false otherwise. */
bool lx_net_addr16(const struct sockaddr *sa, socklen_t len, uint8_t ip[16]);

/* The verdict for ip (16 bytes); p may be NULL (built-in rule only). */
lx_net_verdict_t lx_netpolicy_check(const lx_netpolicy_t *p, const uint8_t ip[16]);

/* The setting a verdict names: "upstream.denied_networks" or the built-in
 * deny ("built-in link-local/metadata deny; allow with
 * upstream.allowed_networks"); "" for LX_NET_ALLOW. */
const char *lx_net_verdict_why(lx_net_verdict_t v);

/* ip as text (dotted for IPv4 and IPv4-mapped): out has 46 bytes. */
void lx_net_addr_str(const uint8_t ip[16], char out[46]);

#endif
