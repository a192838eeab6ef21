/* validate.c - field checks for admin request bodies and query strings,
 * RFC 3339 timestamps. Every rejection names the field. */
#include "admin/internal.h"
#include "ai/ai.h"
#include "core/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#define MAX_TEXT 10000

bool adm_verr(adm_verr_t *e, const char *param, const char *fmt, ...)
{
    e->status = 400;
    e->err = LX_E_BAD_REQUEST;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    return false;
}

void adm_reply_verr(lx_req_t *req, const adm_verr_t *e)
{
    lx_req_reply_error_status(req, e->status ? e->status : 400, e->err ? e->err : LX_E_BAD_REQUEST,
                              e->msg, e->param[0] ? e->param : NULL);
}

/* ---- common checks ---- */

bool adm_chk_status(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    if (strcmp(s, "active") && strcmp(s, "disabled"))
        return adm_verr(e, f, "'%s' must be one of active, disabled", f);
    return true;
}

static bool int32_value(const char *f, const json_t *v, adm_verr_t *e, json_int_t *out)
{
    if (!json_is_integer(v))
        return adm_verr(e, f, "'%s' must be an integer", f);
    json_int_t n = json_integer_value(v);
    if (n < INT32_MIN || n > INT32_MAX)
        return adm_verr(e, f, "'%s' is out of range", f);
    *out = n;
    return true;
}

bool adm_chk_positive(const char *f, const json_t *v, adm_verr_t *e)
{
    json_int_t n = 0;
    if (!int32_value(f, v, e, &n))
        return false;
    return n > 0 || adm_verr(e, f, "'%s' must be a positive integer", f);
}

bool adm_chk_nonneg(const char *f, const json_t *v, adm_verr_t *e)
{
    json_int_t n = 0;
    if (!int32_value(f, v, e, &n))
        return false;
    return n >= 0 || adm_verr(e, f, "'%s' must be an integer >= 0", f);
}

bool adm_chk_int32(const char *f, const json_t *v, adm_verr_t *e)
{
    json_int_t n = 0;
    return int32_value(f, v, e, &n);
}

bool adm_chk_id(const char *f, const json_t *v, adm_verr_t *e)
{
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return adm_verr(e, f, "'%s' must be a positive integer id", f);
    return true;
}

static bool text_len(const char *f, const json_t *v, adm_verr_t *e, size_t min, size_t max)
{
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < min)
        return adm_verr(e, f, "'%s' must not be empty", f);
    if (n > max)
        return adm_verr(e, f, "'%s' is longer than %zu characters", f, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n')
            return adm_verr(e, f, "'%s' contains control characters", f);
    return true;
}

bool adm_chk_label(const char *f, const json_t *v, adm_verr_t *e)
{
    return text_len(f, v, e, 1, 200);
}

bool adm_chk_text(const char *f, const json_t *v, adm_verr_t *e)
{
    return text_len(f, v, e, 0, 2000);
}

bool adm_chk_model_name(const char *f, const json_t *v, adm_verr_t *e)
{
    lx_str_t s = {json_string_value(v), json_string_length(v)};
    if (!lx_ai_model_name_valid(s))
        return adm_verr(e, f, "'%s' must be 1..200 characters of A-Z a-z 0-9 . _ : / + = @ -", f);
    return true;
}

bool adm_chk_model_list(const char *f, const json_t *v, adm_verr_t *e)
{
    if (json_array_size(v) > 1000)
        return adm_verr(e, f, "'%s' has too many entries", f);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        lx_str_t s = {json_string_value(it), json_string_length(it)};
        /* "provider/" + "*" stands for every model of a provider */
        if (s.n >= 3 && s.p[s.n - 1] == '*' && s.p[s.n - 2] == '/')
            s.n -= 2;
        if (!lx_ai_model_name_valid(s))
            return adm_verr(e, f, "'%s[%zu]' is not a valid model name", f, i);
    }
    return true;
}

bool adm_chk_money(const char *f, const json_t *v, adm_verr_t *e)
{
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0)
        return adm_verr(e, f, "'%s' must be a number >= 0", f);
    if (d >= 1e8)
        return adm_verr(e, f, "'%s' is too large", f);
    return true;
}

bool adm_chk_rfc3339(const char *f, const json_t *v, adm_verr_t *e)
{
    int64_t ms;
    if (!adm_parse_rfc3339(json_string_value(v), &ms))
        return adm_verr(e, f, "'%s' must be an RFC 3339 timestamp, e.g. 2030-01-02T03:04:05Z", f);
    return true;
}

/* Filters arrive as strings. */
bool adm_chk_text_status(const char *f, const json_t *v, adm_verr_t *e)
{
    return adm_chk_status(f, v, e);
}

bool adm_chk_text_id(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n || strspn(s, "0") == n)
        return adm_verr(e, f, "'%s' must be a positive integer id", f);
    return true;
}

/* ---- RFC 3339 ---- */

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

bool adm_parse_rfc3339(const char *s, int64_t *ms)
{
    if (s == NULL || strlen(s) < 20)
        return false;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    const char *p = s + 19;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return false;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59 || p[3] != ':')
            return false;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    int64_t days = days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    *ms = secs * 1000 + frac_ms;
    return true;
}

void adm_format_rfc3339(int64_t ms, char out[48])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600),
             (int)(rem % 3600 / 60), (int)(rem % 60), msec);
}

static bool time_key(const char *k)
{
    size_t n = strlen(k);
    return (n > 3 && strcmp(k + n - 3, "_at") == 0) ||
           (n > 6 && strcmp(k + n - 6, "_until") == 0) || strcmp(k, "from") == 0 ||
           strcmp(k, "to") == 0 || strcmp(k, "bucket") == 0;
}

/* A timestamp as Postgres prints it ("2026-12-05 01:02:03.456+00" as
 * text, "2026-12-05T01:02:03.456789+00:00" in JSON) or as we do. */
static bool pg_time(const char *s, int64_t *ms)
{
    char buf[64];
    size_t n = strlen(s);
    if (n < 20 || n + 4 > sizeof buf)
        return false;
    memcpy(buf, s, n + 1);
    if (buf[10] == ' ')
        buf[10] = 'T';
    if ((buf[n - 3] == '+' || buf[n - 3] == '-') && buf[n - 2] >= '0' && buf[n - 1] >= '0')
        memcpy(buf + n, ":00", 4); /* "+00" -> "+00:00" */
    return adm_parse_rfc3339(buf, ms);
}

void adm_normalize_times(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            adm_normalize_times(json_array_get(v, i));
        return;
    }
    if (!json_is_object(v))
        return;
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        int64_t ms;
        char ts[48];
        if (json_is_string(x)) {
            if (time_key(k) && pg_time(json_string_value(x), &ms)) {
                adm_format_rfc3339(ms, ts);
                json_string_set(x, ts);
            }
        } else if (strcmp(k, "settings") != 0) { /* settings: the operator's own JSON */
            adm_normalize_times(x);
        }
    }
}

/* ---- bodies ---- */

json_t *adm_parse_body(lx_req_t *req)
{
    return lx_req_json_body(req);
}

static const adm_field_t *find_field(const adm_entity_t *ent, const char *name)
{
    for (size_t i = 0; i < ent->nfields; i++)
        if (strcmp(ent->fields[i].name, name) == 0)
            return &ent->fields[i];
    return NULL;
}

static bool type_ok(const adm_field_t *f, const json_t *v, adm_verr_t *e)
{
    const char *n = f->name;
    switch (f->type) {
    case FT_TEXT:
    case FT_TS:
        if (!json_is_string(v))
            return adm_verr(e, n, "'%s' must be a string", n);
        if (json_string_length(v) > MAX_TEXT ||
            strlen(json_string_value(v)) != json_string_length(v))
            return adm_verr(e, n, "'%s' is not a valid string", n);
        return true;
    case FT_INT:
        return adm_chk_int32(n, v, e);
    case FT_BIGINT:
        return adm_chk_id(n, v, e);
    case FT_NUM:
        return json_is_number(v) || adm_verr(e, n, "'%s' must be a number", n);
    case FT_TEXTARR: {
        if (!json_is_array(v))
            return adm_verr(e, n, "'%s' must be an array of strings", n);
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
        {
            if (!json_is_string(it) || strlen(json_string_value(it)) != json_string_length(it) ||
                json_string_length(it) > 1000)
                return adm_verr(e, n, "'%s[%zu]' must be a string", n, i);
        }
        return true;
    }
    case FT_JSONB:
        return json_is_object(v) || adm_verr(e, n, "'%s' must be a JSON object", n);
    case FT_VIRTUAL:
        return true;
    }
    return true;
}

json_t *adm_validate(const adm_entity_t *ent, json_t *body, bool create, adm_verr_t *e)
{
    memset(e, 0, sizeof *e);
    json_t *doc = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        const adm_field_t *f = find_field(ent, key);
        if (f == NULL) {
            char shown[48];
            snprintf(shown, sizeof shown, "%s", key);
            adm_verr(e, shown, "unknown field '%s' for a %s", shown, ent->singular);
            goto fail;
        }
        if (f->flags & F_READONLY) {
            adm_verr(e, f->name, "'%s' is read-only", f->name);
            goto fail;
        }
        if (json_is_null(v)) {
            if (!(f->flags & F_NULLABLE)) {
                adm_verr(e, f->name, "'%s' cannot be null", f->name);
                goto fail;
            }
        } else if (!type_ok(f, v, e) || (f->check && !f->check(f->name, v, e))) {
            goto fail;
        }
        int64_t ms;
        char ts[48];
        if (f->type == FT_TS && json_is_string(v) && adm_parse_rfc3339(json_string_value(v), &ms)) {
            adm_format_rfc3339(ms, ts); /* one canonical UTC form for Postgres */
            json_object_set_new(doc, f->name, json_string(ts));
        } else {
            json_object_set(doc, f->name, v);
        }
    }
    if (create) {
        for (size_t i = 0; i < ent->nfields; i++) {
            const adm_field_t *f = &ent->fields[i];
            if ((f->flags & F_REQUIRED) && json_object_get(doc, f->name) == NULL) {
                adm_verr(e, f->name, "'%s' is required", f->name);
                e->err = LX_E_MISSING_FIELD;
                goto fail;
            }
        }
    } else if (json_object_size(doc) == 0) {
        adm_verr(e, NULL, "nothing to update: send at least one field");
        goto fail;
    }
    if (ent->fixup && !ent->fixup(doc, create, e))
        goto fail;
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

json_t *adm_read_doc(lx_req_t *req, const adm_entity_t *ent, bool create)
{
    json_t *body = adm_parse_body(req);
    if (body == NULL)
        return NULL;
    adm_verr_t e;
    json_t *doc = adm_validate(ent, body, create, &e);
    json_decref(body);
    if (doc == NULL)
        adm_reply_verr(req, &e);
    return doc;
}
