/* main.c - llmux-mock: command line, worker start-up, the ready line, and a
 * clean exit on SIGTERM/SIGINT.
 *
 * With --tls-port the TLS front (tls.h) runs in a child process of its own:
 * each TLS request also holds a loopback connection to the plain listener,
 * two descriptors in one process, so 10,000 streams would need 20,000 open
 * files in one table; split, each process holds one per stream. The counters
 * are in shared memory (mock_stats_share), so /_mock/stats shows both. The
 * child dies with the parent (PR_SET_PDEATHSIG); the parent's SIGTERM stops
 * it, and the parent's exit status says whether it exited cleanly. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <arpa/inet.h>
#include <event2/thread.h>
#include <netinet/in.h>

#include "call.h"
#include "jobs.h"
#include "opts.h"
#include "record.h"
#include "server.h"
#include "stats.h"
#include "tls.h"

const char *mock_listen_addr = "127.0.0.1:9000";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmux-mock [--listen HOST:PORT] [--threads N] [--chunks N] [--gap-ms N]\n"
            "                  [--ttft-ms N] [--latency-ms N] [--dims N] [--duration-ms N]\n"
            "                  [--no-record] [--tls-port N --tls-cert F --tls-key F]\n"
            "                  [--alpn h2,http/1.1] [--h2-max-streams N]\n"
            "                  [--h2-max-requests N]\n"
            "  --listen       address to listen on (default $MOCK_LISTEN or 127.0.0.1:9000)\n"
            "  --threads      worker threads (default: online CPUs)\n"
            "  --chunks       completion pieces per reply (default 5)\n"
            "  --gap-ms       stream: delay between pieces (default 0)\n"
            "  --ttft-ms      stream: delay before the first piece (default 0)\n"
            "  --latency-ms   non-stream: delay before the reply (default 0)\n"
            "  --dims         embedding dimensions (default 8)\n"
            "  --duration-ms  video job length (default 2000)\n"
            "  --no-record    do not record requests (for benchmarks)\n"
            "  --tls-port     also serve HTTPS (HTTP/2 and HTTP/1.1) on this port, same host\n"
            "  --tls-cert     PEM certificate chain for --tls-port\n"
            "  --tls-key      PEM private key for --tls-port\n"
            "  --alpn         protocols offered: h2,http/1.1 (default) or http/1.1\n"
            "  --h2-max-streams  SETTINGS_MAX_CONCURRENT_STREAMS (default 100)\n"
            "  --h2-max-requests GOAWAY after N streams on a connection (0: never)\n"
            "Per request: x-mock-* headers or model suffixes like gpt-4o+chunks=20+fault=429.\n");
}

/* Splits "host:port" / "[v6]:port" / ":port" into an evhtp bind host and port. */
static int parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long p;
    size_t hl;

    if (colon == NULL)
        return -1;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        if (hl - 2 + 6 >= cap)
            return -1;
        snprintf(host, cap, "ipv6:%.*s", (int)(hl - 2), s + 1);
    } else if (hl == 0) {
        snprintf(host, cap, "0.0.0.0");
    } else {
        if (hl >= cap)
            return -1;
        snprintf(host, cap, "%.*s", (int)hl, s);
    }
    return 0;
}

/* The TLS listener's address (the plain host, port tls_port) and the plain
 * listener as a loopback target (an any-address becomes loopback). */
static int tls_addrs(const char *host, uint16_t port, long tls_port)
{
    mock_tls_conf_t *t = &mock_tls_conf;
    bool v6 = strncmp(host, "ipv6:", 5) == 0;

    memset(&t->addr, 0, sizeof(t->addr));
    memset(&t->inner, 0, sizeof(t->inner));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&t->addr;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host + 5, &a->sin6_addr) != 1)
            return -1;
        a->sin6_port = htons((uint16_t)tls_port);
        t->addr_len = sizeof(*a);
        struct sockaddr_in6 *i = (struct sockaddr_in6 *)&t->inner;
        *i = *a;
        i->sin6_port = htons(port);
        if (IN6_IS_ADDR_UNSPECIFIED(&i->sin6_addr))
            i->sin6_addr = in6addr_loopback;
        t->inner_len = sizeof(*i);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -1;
        a->sin_port = htons((uint16_t)tls_port);
        t->addr_len = sizeof(*a);
        struct sockaddr_in *i = (struct sockaddr_in *)&t->inner;
        *i = *a;
        i->sin_port = htons(port);
        if (i->sin_addr.s_addr == htonl(INADDR_ANY))
            i->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        t->inner_len = sizeof(*i);
    }
    return 0;
}

/* The TLS front process: its workers, a byte on ready_fd once bound, then
 * SIGTERM (or the parent's death). Returns the exit status. */
static int front_main(unsigned threads, sigset_t *set, int ready_fd, pid_t parent)
{
    mock_server_t *srv = NULL;
    int sig;

    prctl(PR_SET_PDEATHSIG, SIGTERM); /* blocked like in the parent: sigwait gets it */
    if (getppid() == parent)
        srv = mock_server_start(threads, NULL, 0);
    if (srv != NULL) {
        if (write(ready_fd, "1", 1) != 1)
            fprintf(stderr, "llmux-mock: cannot report the TLS front ready\n");
        close(ready_fd);
        while (sigwait(set, &sig) != 0)
            ;
        mock_server_stop(srv);
    } else {
        close(ready_fd);
    }
    mock_tls_cleanup();
    libevent_global_shutdown();
    return srv != NULL ? 0 : 1;
}

/* Stops the front (if any) and returns 0 if it exited cleanly. */
static int front_stop(pid_t front)
{
    int st = 0;

    if (front <= 0)
        return 0;
    kill(front, SIGTERM);
    while (waitpid(front, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    fprintf(stderr, "llmux-mock: the TLS front ended with status 0x%x\n", (unsigned)st);
    return 1;
}

static int opt_long(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || x < lo || x > hi) {
        fprintf(stderr, "llmux-mock: bad value for --%s: %s\n", name, v);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"chunks", required_argument, NULL, 'c'},
        {"gap-ms", required_argument, NULL, 'g'},
        {"ttft-ms", required_argument, NULL, 'f'},
        {"latency-ms", required_argument, NULL, 'a'},
        {"dims", required_argument, NULL, 'd'},
        {"duration-ms", required_argument, NULL, 'u'},
        {"no-record", no_argument, NULL, 'n'},
        {"tls-port", required_argument, NULL, 'T'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"alpn", required_argument, NULL, 'A'},
        {"h2-max-streams", required_argument, NULL, 'M'},
        {"h2-max-requests", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = getenv("MOCK_LISTEN");
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    mock_opts_t *d = &mock_opts_defaults;
    char host[128];
    uint16_t port;
    sigset_t set;
    mock_server_t *srv;
    int ch, sig = 0;
    long tls_port = 0, max_streams = 100, max_requests = 0;

    if (listen == NULL || *listen == '\0')
        listen = "127.0.0.1:9000";
    if (threads < 1)
        threads = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'l':
            listen = optarg;
            break;
        case 't':
            rc = opt_long("threads", optarg, 1, MOCK_MAX_WORKERS, &threads);
            break;
        case 'c':
            rc = opt_long("chunks", optarg, 0, 100000, &d->chunks);
            break;
        case 'g':
            rc = opt_long("gap-ms", optarg, 0, 3600000, &d->gap_ms);
            break;
        case 'f':
            rc = opt_long("ttft-ms", optarg, 0, 3600000, &d->ttft_ms);
            break;
        case 'a':
            rc = opt_long("latency-ms", optarg, 0, 3600000, &d->latency_ms);
            break;
        case 'd':
            rc = opt_long("dims", optarg, 1, 65536, &d->dims);
            break;
        case 'u':
            rc = opt_long("duration-ms", optarg, 0, 86400000, &d->duration_ms);
            break;
        case 'n':
            mock_record_enabled = false;
            break;
        case 'T':
            rc = opt_long("tls-port", optarg, 1, 65535, &tls_port);
            break;
        case 'C':
            mock_tls_conf.cert = optarg;
            break;
        case 'K':
            mock_tls_conf.key = optarg;
            break;
        case 'A':
            if (strcmp(optarg, "h2,http/1.1") == 0 || strcmp(optarg, "http/1.1,h2") == 0) {
                mock_tls_conf.offer_h2 = true;
            } else if (strcmp(optarg, "http/1.1") == 0) {
                mock_tls_conf.offer_h2 = false;
            } else {
                fprintf(stderr, "llmux-mock: --alpn takes h2,http/1.1 or http/1.1: %s\n", optarg);
                rc = -1;
            }
            break;
        case 'M':
            rc = opt_long("h2-max-streams", optarg, 1, 1000000, &max_streams);
            break;
        case 'R':
            rc = opt_long("h2-max-requests", optarg, 0, 1000000000, &max_requests);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (rc != 0)
            return 2;
    }
    if (optind < argc || threads > MOCK_MAX_WORKERS) {
        usage(stderr);
        return 2;
    }
    if (parse_listen(listen, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "llmux-mock: bad listen address: %s\n", listen);
        return 2;
    }
    mock_listen_addr = listen;
    if (tls_port > 0 || mock_tls_conf.cert != NULL || mock_tls_conf.key != NULL) {
        if (tls_port == 0 || mock_tls_conf.cert == NULL || mock_tls_conf.key == NULL) {
            fprintf(stderr, "llmux-mock: --tls-port, --tls-cert and --tls-key go together\n");
            return 2;
        }
        if (tls_addrs(host, port, tls_port) != 0) {
            fprintf(stderr, "llmux-mock: TLS needs a numeric listen address: %s\n", listen);
            return 2;
        }
        mock_tls_conf.max_streams = (unsigned)max_streams;
        mock_tls_conf.max_requests = (unsigned)max_requests;
        if (mock_tls_init() != 0)
            return 1;
    }

    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "llmux-mock: evthread_use_pthreads failed\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */

    pid_t front = 0;
    int ready[2] = {-1, -1};
    if (mock_tls_enabled()) {
        pid_t parent = getpid();
        if (mock_stats_share() != 0 || pipe(ready) != 0) {
            perror("llmux-mock: TLS front");
            return 1;
        }
        fflush(stdout);
        fflush(stderr);
        front = fork();
        if (front < 0) {
            perror("llmux-mock: fork");
            return 1;
        }
        if (front == 0) {
            close(ready[0]);
            return front_main((unsigned)threads, &set, ready[1], parent);
        }
        close(ready[1]);
    }

    srv = mock_server_start((unsigned)threads, host, port);
    if (srv != NULL && front > 0) {
        char b;
        ssize_t r;
        while ((r = read(ready[0], &b, 1)) < 0 && errno == EINTR)
            ;
        if (r != 1) {
            fprintf(stderr, "llmux-mock: the TLS front did not start\n");
            mock_server_stop(srv);
            srv = NULL;
        }
    }
    if (front > 0)
        close(ready[0]);
    if (srv == NULL) {
        front_stop(front);
        mock_tls_cleanup();
        libevent_global_shutdown();
        return 1;
    }
    if (mock_tls_enabled())
        printf("{\"mock\":\"ready\",\"listen\":\"%s\",\"tls_port\":%ld,\"alpn\":\"%s\"}\n", listen,
               tls_port, mock_tls_conf.offer_h2 ? "h2,http/1.1" : "http/1.1");
    else
        printf("{\"mock\":\"ready\",\"listen\":\"%s\"}\n", listen);
    fflush(stdout);

    while (sigwait(&set, &sig) != 0)
        ;
    if (front > 0)
        kill(front, SIGTERM); /* both stop at once */
    mock_server_stop(srv);
    int rc = front_stop(front);
    mock_tls_cleanup();
    mock_record_clear();
    mock_jobs_cleanup();
    libevent_global_shutdown();
    return rc;
}
