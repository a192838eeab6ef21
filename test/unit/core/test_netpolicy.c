/* test_netpolicy.c - unit tests for src/core/netpolicy.c (CIDR parsing and
 * matching, the upstream address rule) and src/core/baseurl.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/baseurl.h"
#include "core/netpolicy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* text -> 16 bytes (IPv4 as mapped) */
static void ip16(const char *s, uint8_t out[16])
{
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, s, &a4.sin_addr) == 1)
        assert_true(lx_net_addr16((struct sockaddr *)&a4, sizeof a4, out));
    else if (inet_pton(AF_INET6, s, &a6.sin6_addr) == 1)
        assert_true(lx_net_addr16((struct sockaddr *)&a6, sizeof a6, out));
    else
        fail_msg("bad test address %s", s);
}

static bool match(const char *cidr, const char *ip)
{
    lx_cidr_t c;
    assert_int_equal(lx_cidr_parse(cidr, strlen(cidr), &c), LX_OK);
    uint8_t a[16];
    ip16(ip, a);
    return lx_cidr_match(&c, a);
}

static void test_cidr_parse(void **state)
{
    (void)state;
    static const char *const good[] = {
        "10.0.0.0/8",          "0.0.0.0/0",     "1.2.3.4",     "1.2.3.4/32",
        "169.254.0.0/16",      "fe80::/10",     "::/0",        "::1",
        "fd00:ec2::254/128",   "::ffff:0:0/96", "10.1.2.0/23", "2001:db8::/32",
        "::ffff:10.0.0.0/104",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(good); i++) {
        lx_cidr_t c;
        if (lx_cidr_parse(good[i], strlen(good[i]), &c) != LX_OK)
            fail_msg("refused %s", good[i]);
    }
    static const char *const bad[] = {
        "",          "10.0.0.0/33",  "10.0.0.1/8", "fe80::1/10",   "::/129",
        "10.0.0.0/", "10.0.0.0/a",   "10.0.0/8",   "host.example", "1.2.3.4/-1",
        "/8",        "10.0.0.0/8/8", "1.2.3.4 ",   "fe80::/0010",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_cidr_t c;
        if (lx_cidr_parse(bad[i], strlen(bad[i]), &c) != LX_ERROR)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* IPv4 is held on the 128-bit (mapped) form */
    lx_cidr_t c;
    assert_int_equal(lx_cidr_parse("10.0.0.0/8", 10, &c), LX_OK);
    assert_int_equal(c.bits, 104);
    /* only n bytes are read */
    assert_int_equal(lx_cidr_parse("10.0.0.0/8,junk", 10, &c), LX_OK);
}

static void test_cidr_match(void **state)
{
    (void)state;
    assert_true(match("10.0.0.0/8", "10.255.1.2"));
    assert_false(match("10.0.0.0/8", "11.0.0.0"));
    assert_true(match("10.1.2.0/23", "10.1.3.255"));
    assert_false(match("10.1.2.0/23", "10.1.4.0"));
    assert_true(match("0.0.0.0/0", "8.8.8.8"));
    assert_false(match("0.0.0.0/0", "2001:db8::1")); /* IPv4 /0 is only IPv4 */
    assert_true(match("::/0", "8.8.8.8"));           /* ::/0 is everything */
    assert_true(match("1.2.3.4", "1.2.3.4"));
    assert_false(match("1.2.3.4", "1.2.3.5"));
    assert_true(match("fe80::/10", "febf::1"));
    assert_false(match("fe80::/10", "fec0::1"));
    assert_true(match("2001:db8::/32", "2001:db8:ffff::1"));
    /* IPv4-mapped IPv6 addresses match IPv4 networks, and the reverse */
    assert_true(match("169.254.0.0/16", "::ffff:169.254.169.254"));
    assert_true(match("::ffff:10.0.0.0/104", "10.9.9.9"));
    assert_false(match("169.254.0.0/16", "::169.254.169.254")); /* IPv4-compatible is not */
}

static void test_list_parse(void **state)
{
    (void)state;
    lx_cidr_t l[4];
    int n = -1;
    char err[200];
    assert_int_equal(lx_cidr_list_parse("", l, 4, &n, err, sizeof err), LX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lx_cidr_list_parse(" 10.0.0.0/8 ,fd00::/8,, ", l, 4, &n, err, sizeof err),
                     LX_OK);
    assert_int_equal(n, 2);
    assert_int_equal(lx_cidr_list_parse("10.0.0.0/8,nope", l, 4, &n, err, sizeof err), LX_ERROR);
    assert_non_null(strstr(err, "'nope'"));
    assert_int_equal(
        lx_cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5", l, 4, &n, err, sizeof err),
        LX_ERROR);
    assert_non_null(strstr(err, "at most 4"));
}

static lx_net_verdict_t check(const lx_netpolicy_t *p, const char *ip)
{
    uint8_t a[16];
    ip16(ip, a);
    return lx_netpolicy_check(p, a);
}

static void set_list(lx_cidr_t *l, int *n, const char *s)
{
    char err[200];
    assert_int_equal(lx_cidr_list_parse(s, l, LX_NET_MAX_CIDRS, n, err, sizeof err), LX_OK);
}

static void test_rule(void **state)
{
    (void)state;
    /* built-in: link-local and metadata refused, the rest allowed */
    static const char *const refused[] = {"169.254.169.254", "169.254.0.1",   "::ffff:169.254.1.1",
                                          "fe80::1",         "fd00:ec2::254", "64:ff9b::a9fe:a9fe"};
    for (size_t i = 0; i < LX_ARRAY_LEN(refused); i++)
        if (check(NULL, refused[i]) != LX_NET_DENIED_BUILTIN)
            fail_msg("%s not refused by default", refused[i]);
    static const char *const allowed[] = {
        "127.0.0.1", "::1",         "10.0.0.5",        "192.168.1.1", "172.16.0.1",   "fd00::1",
        "8.8.8.8",   "2001:db8::1", "169.253.255.255", "169.255.0.0", "fd00:ec2::253"};
    for (size_t i = 0; i < LX_ARRAY_LEN(allowed); i++)
        if (check(NULL, allowed[i]) != LX_NET_ALLOW)
            fail_msg("%s not allowed by default", allowed[i]);

    lx_netpolicy_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(check(&p, "169.254.169.254"), LX_NET_DENIED_BUILTIN);
    /* denied_networks refuse, whatever else */
    set_list(p.denied, &p.ndenied, "127.0.0.0/8,10.0.0.0/8");
    assert_int_equal(check(&p, "127.0.0.1"), LX_NET_DENIED_LIST);
    assert_int_equal(check(&p, "::ffff:127.0.0.1"), LX_NET_DENIED_LIST);
    assert_int_equal(check(&p, "10.1.1.1"), LX_NET_DENIED_LIST);
    assert_int_equal(check(&p, "::1"), LX_NET_ALLOW);
    /* allowed_networks lift the built-in deny ... */
    set_list(p.allowed, &p.nallowed, "169.254.10.0/24,127.0.0.1");
    assert_int_equal(check(&p, "169.254.10.7"), LX_NET_ALLOW);
    assert_int_equal(check(&p, "169.254.169.254"), LX_NET_DENIED_BUILTIN);
    /* ... but never an explicit deny */
    assert_int_equal(check(&p, "127.0.0.1"), LX_NET_DENIED_LIST);
    /* and they are no allowlist: other addresses stay allowed */
    assert_int_equal(check(&p, "8.8.8.8"), LX_NET_ALLOW);

    assert_string_equal(lx_net_verdict_why(LX_NET_DENIED_LIST), "upstream.denied_networks");
    assert_non_null(strstr(lx_net_verdict_why(LX_NET_DENIED_BUILTIN), "upstream.allowed_networks"));
    assert_string_equal(lx_net_verdict_why(LX_NET_ALLOW), "");
}

static void test_addr_str(void **state)
{
    (void)state;
    char s[46];
    uint8_t a[16];
    ip16("169.254.169.254", a);
    lx_net_addr_str(a, s);
    assert_string_equal(s, "169.254.169.254");
    ip16("::ffff:10.0.0.1", a);
    lx_net_addr_str(a, s);
    assert_string_equal(s, "10.0.0.1");
    ip16("fd00:ec2::254", a);
    lx_net_addr_str(a, s);
    assert_string_equal(s, "fd00:ec2::254");
    /* other families are not addresses here */
    struct sockaddr sa = {.sa_family = AF_UNIX};
    assert_false(lx_net_addr16(&sa, sizeof sa, a));
    struct sockaddr_in short4 = {.sin_family = AF_INET};
    assert_false(lx_net_addr16((struct sockaddr *)&short4, 4, a));
}

static void test_base_url(void **state)
{
    (void)state;
    static const char *const good[] = {"http://127.0.0.1:8000", "https://api.example.com/v1",
                                       "https://[::1]:9000/v1", "http://h/a@b/c"};
    for (size_t i = 0; i < LX_ARRAY_LEN(good); i++)
        if (lx_base_url_problem(good[i]) != NULL)
            fail_msg("refused %s: %s", good[i], lx_base_url_problem(good[i]));
    static const struct {
        const char *url, *part;
    } bad[] = {
        {"ftp://x", "http://"},
        {"api.example.com", "http://"},
        {"https://", "host"},
        {"https:///v1", "host"},
        {"https://user:pw@api.example.com/v1", "user:password@"},
        {"https://token@api.example.com", "user:password@"},
        {"http://a\\@b/", "user:password@"},
        {"https://api.example.com/v1?key=x", "query"},
        {"https://api.example.com?x", "query"},
        {"https://api.example.com/v1#f", "fragment"},
        {"https://api.example.com/v 1", "spaces"},
        {"https://api.example.com/\r\nX: y", "control"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        const char *why = lx_base_url_problem(bad[i].url);
        if (why == NULL || strstr(why, bad[i].part) == NULL)
            fail_msg("%s: %s", bad[i].url, why ? why : "accepted");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse), cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_list_parse), cmocka_unit_test(test_rule),
        cmocka_unit_test(test_addr_str),   cmocka_unit_test(test_base_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
