/* limits.c - rate-limit windows, cooling, Retry-After, retry budget. */
#include "ai/routing/limits.h"
#include "core/windows.h"

#include <time.h>

#define MINUTE_MS LX_MINUTE_MS
#define DAY_MS    LX_DAY_MS

void lx_limits_fix_window_clock(int64_t ms)
{
    lx_windows_fix_clock(ms);
}

static inline uint32_t win_index(int64_t now_ms, int64_t len)
{
    return lx_window_index(now_ms, len);
}

int64_t lx_limits_minute_index(int64_t now_ms)
{
    return win_index(now_ms, MINUTE_MS);
}

int64_t lx_limits_day_index(int64_t now_ms)
{
    return win_index(now_ms, DAY_MS);
}

/* --- rate-limit windows -------------------------------------------------- */

/* The window a word belongs to, seen from a caller at window idx. Workers
 * read the clock at slightly different moments, so near a boundary a caller
 * may still be one window behind the stored one: it then counts in the
 * newer window (no flip-flopping back, which would grant twice). A stored
 * window further ahead means the clock stepped back: the caller's window
 * wins and the count restarts. Returns the window and its count. */
static inline uint32_t win_at(uint64_t word, uint32_t idx, uint32_t *cnt)
{
    uint32_t stored = (uint32_t)(word >> 32);
    if (stored == idx || stored == idx + 1) {
        *cnt = (uint32_t)word;
        return stored;
    }
    *cnt = 0;
    return idx;
}

static bool win_take(_Atomic uint64_t *w, uint32_t idx, uint32_t limit)
{
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    for (;;) {
        uint32_t cnt, win = win_at(old, idx, &cnt);
        if (cnt >= limit)
            return false;
        uint64_t nv = (uint64_t)win << 32 | (cnt + 1);
        if (atomic_compare_exchange_weak_explicit(w, &old, nv, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
}

static void win_give_back(_Atomic uint64_t *w, uint32_t idx)
{
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    uint32_t cnt;
    while (win_at(old, idx, &cnt) == (uint32_t)(old >> 32) && cnt > 0) {
        if (atomic_compare_exchange_weak_explicit(w, &old, old - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

static void win_add(_Atomic uint64_t *w, uint32_t idx, uint32_t n)
{
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed), nv;
    do {
        uint32_t cnt, win = win_at(old, idx, &cnt);
        uint64_t c2 = (uint64_t)cnt + n;
        if (c2 > UINT32_MAX)
            c2 = UINT32_MAX;
        nv = (uint64_t)win << 32 | c2;
    } while (!atomic_compare_exchange_weak_explicit(w, &old, nv, memory_order_relaxed,
                                                    memory_order_relaxed));
}

static uint32_t win_used(const _Atomic uint64_t *w, uint32_t idx)
{
    uint32_t cnt;
    win_at(atomic_load_explicit(w, memory_order_relaxed), idx, &cnt);
    return cnt;
}

lx_limit_rc_t lx_limits_take(lx_route_state_t *st, int64_t now_ms, int rpm, int rpd)
{
    if (!st)
        return LX_LIMIT_OK;
    uint32_t mi = win_index(now_ms, MINUTE_MS), di = win_index(now_ms, DAY_MS);
    if (rpm > 0 && !win_take(&st->rpm_win, mi, (uint32_t)rpm))
        return LX_LIMIT_MINUTE;
    if (rpd > 0 && !win_take(&st->rpd_win, di, (uint32_t)rpd)) {
        if (rpm > 0)
            win_give_back(&st->rpm_win, mi);
        return LX_LIMIT_DAY;
    }
    return LX_LIMIT_OK;
}

lx_limit_rc_t lx_limits_check(const lx_route_state_t *st, int64_t now_ms, int rpm, int rpd)
{
    if (!st)
        return LX_LIMIT_OK;
    if (rpm > 0 && win_used(&st->rpm_win, win_index(now_ms, MINUTE_MS)) >= (uint32_t)rpm)
        return LX_LIMIT_MINUTE;
    if (rpd > 0 && win_used(&st->rpd_win, win_index(now_ms, DAY_MS)) >= (uint32_t)rpd)
        return LX_LIMIT_DAY;
    return LX_LIMIT_OK;
}

void lx_limits_give_back(lx_route_state_t *st, int64_t now_ms, int rpm, int rpd)
{
    if (!st)
        return;
    if (rpm > 0)
        win_give_back(&st->rpm_win, win_index(now_ms, MINUTE_MS));
    if (rpd > 0)
        win_give_back(&st->rpd_win, win_index(now_ms, DAY_MS));
}

void lx_limits_absorb(lx_route_state_t *st, int64_t now_ms, uint32_t minute_n, uint32_t day_n)
{
    if (!st)
        return;
    if (minute_n)
        win_add(&st->rpm_win, win_index(now_ms, MINUTE_MS), minute_n);
    if (day_n)
        win_add(&st->rpd_win, win_index(now_ms, DAY_MS), day_n);
}

void lx_limits_used(const lx_route_state_t *st, int64_t now_ms, uint32_t *minute_n, uint32_t *day_n)
{
    *minute_n = st ? win_used(&st->rpm_win, win_index(now_ms, MINUTE_MS)) : 0;
    *day_n = st ? win_used(&st->rpd_win, win_index(now_ms, DAY_MS)) : 0;
}

/* --- Retry-After --------------------------------------------------------- */

typedef struct {
    const char *p, *end;
} cur_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Matches literal lit exactly. */
static bool lit(cur_t *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Matches one of names (ASCII, case-insensitive); its index, or -1. */
static int word(cur_t *c, const char *const *names, int nnames)
{
    const char *s = c->p;
    while (s < c->end && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        s++;
    size_t n = (size_t)(s - c->p);
    for (int i = 0; i < nnames; i++) {
        if (strlen(names[i]) != n)
            continue;
        size_t k = 0;
        while (k < n && lower(c->p[k]) == lower(names[i][k]))
            k++;
        if (k == n) {
            c->p = s;
            return i;
        }
    }
    return -1;
}

/* Exactly n digits. */
static bool digits(cur_t *c, int n, int *out)
{
    if (c->end - c->p < n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return false;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

static const char *const wkday_short[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const wkday_long[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool hms(cur_t *c, struct tm *tm)
{
    return digits(c, 2, &tm->tm_hour) && lit(c, ":") && digits(c, 2, &tm->tm_min) && lit(c, ":") &&
           digits(c, 2, &tm->tm_sec);
}

static bool parse_date(cur_t c, struct tm *tm)
{
    cur_t save = c;
    int y;
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (word(&c, wkday_short, 7) >= 0 && lit(&c, ", ") && digits(&c, 2, &tm->tm_mday) &&
        lit(&c, " ") && (tm->tm_mon = word(&c, months, 12)) >= 0 && lit(&c, " ") &&
        digits(&c, 4, &y) && lit(&c, " ") && hms(&c, tm) && lit(&c, " GMT") && c.p == c.end) {
        tm->tm_year = y - 1900;
        return true;
    }
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: 70..99 are
     * 19xx, 00..69 are 20xx) */
    c = save;
    if (word(&c, wkday_long, 7) >= 0 && lit(&c, ", ") && digits(&c, 2, &tm->tm_mday) &&
        lit(&c, "-") && (tm->tm_mon = word(&c, months, 12)) >= 0 && lit(&c, "-") &&
        digits(&c, 2, &y) && lit(&c, " ") && hms(&c, tm) && lit(&c, " GMT") && c.p == c.end) {
        tm->tm_year = y < 70 ? y + 100 : y;
        return true;
    }
    /* asctime: Sun Nov  6 08:49:37 1994 */
    c = save;
    if (word(&c, wkday_short, 7) >= 0 && lit(&c, " ") && (tm->tm_mon = word(&c, months, 12)) >= 0 &&
        lit(&c, " ")) {
        bool day_ok = lit(&c, " ") ? digits(&c, 1, &tm->tm_mday) : digits(&c, 2, &tm->tm_mday);
        if (day_ok && lit(&c, " ") && hms(&c, tm) && lit(&c, " ") && digits(&c, 4, &y) &&
            c.p == c.end) {
            tm->tm_year = y - 1900;
            return true;
        }
    }
    return false;
}

static bool tm_valid(const struct tm *tm)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 &&
           tm->tm_mday <= mdays[tm->tm_mon] && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
           tm->tm_sec <= 60;
}

int lx_retry_after_parse(lx_str_t value, int64_t now_ms, int64_t *delay_ms)
{
    if (!value.p)
        return LX_ERROR;
    cur_t c = {value.p, value.p + value.n};
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
        c.p++;
    while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
        c.end--;
    if (c.p == c.end)
        return LX_ERROR;

    if (is_digit(*c.p)) {
        int64_t secs = 0;
        for (const char *s = c.p; s < c.end; s++) {
            if (!is_digit(*s))
                goto date;
            if (secs < INT64_C(1000000000)) /* saturate: the cap applies anyway */
                secs = secs * 10 + (*s - '0');
        }
        *delay_ms = secs * 1000;
        return LX_OK;
    }
date:;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!parse_date(c, &tm) || !tm_valid(&tm))
        return LX_ERROR;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return LX_ERROR;
    int64_t d = (int64_t)t * 1000 - now_ms;
    *delay_ms = d > 0 ? d : 0;
    return LX_OK;
}

/* --- cooling ------------------------------------------------------------- */

int64_t lx_cooling_set(lx_route_state_t *st, int64_t now_ms, const char *retry_after,
                       int64_t default_ms, int64_t cap_ms)
{
    if (cap_ms < 0) /* cooling switched off */
        return now_ms;
    if (cap_ms == 0)
        cap_ms = LX_COOLING_CAP_MS;
    int64_t delay = default_ms > 0 ? default_ms : 0;
    if (retry_after)
        lx_retry_after_parse(lx_str(retry_after), now_ms, &delay);
    if (delay > cap_ms)
        delay = cap_ms;
    if (!st)
        return now_ms + delay;
    int64_t until = now_ms + delay;
    int64_t old = atomic_load_explicit(&st->cooling_until, memory_order_relaxed);
    while (old < until &&
           !atomic_compare_exchange_weak_explicit(&st->cooling_until, &old, until,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    return old > until ? old : until;
}

bool lx_cooling_active(const lx_route_state_t *st, int64_t now_ms)
{
    return st && now_ms < atomic_load_explicit(&st->cooling_until, memory_order_relaxed);
}

int64_t lx_cooling_left_ms(const lx_route_state_t *st, int64_t now_ms)
{
    if (!st)
        return 0;
    int64_t d = atomic_load_explicit(&st->cooling_until, memory_order_relaxed) - now_ms;
    return d > 0 ? d : 0;
}

void lx_cooling_clear(lx_route_state_t *st)
{
    if (st)
        atomic_store_explicit(&st->cooling_until, 0, memory_order_relaxed);
}

/* --- retry budget -------------------------------------------------------- */

static int64_t to_milli(double v)
{
    if (!(v > 0))
        return 0;
    if (v > 1e12)
        v = 1e12;
    return (int64_t)(v * 1000.0 + 0.5);
}

void lx_retry_budget_init(lx_retry_budget_t *b, double ratio, double cap, double initial)
{
    b->ratio_milli = to_milli(ratio);
    b->cap_milli = to_milli(cap);
    int64_t init = to_milli(initial);
    atomic_init(&b->milli, init < b->cap_milli ? init : b->cap_milli);
}

void lx_retry_budget_deposit(lx_retry_budget_t *b)
{
    int64_t old = atomic_load_explicit(&b->milli, memory_order_relaxed);
    while (old < b->cap_milli) {
        int64_t nv = old + b->ratio_milli;
        if (nv > b->cap_milli)
            nv = b->cap_milli;
        if (atomic_compare_exchange_weak_explicit(&b->milli, &old, nv, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

bool lx_retry_allowed(lx_retry_budget_t *b)
{
    int64_t old = atomic_load_explicit(&b->milli, memory_order_relaxed);
    while (old >= 1000) {
        if (atomic_compare_exchange_weak_explicit(&b->milli, &old, old - 1000, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

double lx_retry_budget_tokens(const lx_retry_budget_t *b)
{
    return (double)atomic_load_explicit(&b->milli, memory_order_relaxed) / 1000.0;
}
