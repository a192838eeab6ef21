/* ui.c - GET /admin: the embedded admin web UI. */
#include "admin/ui.h"

#include <string.h>

#define UI_PREFIX "/admin"

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const lx_asset_t *lx_ui_asset(const char *path, size_t n)
{
    for (size_t i = 0; i < lx_ui_nassets; i++)
        if (strlen(lx_ui_assets[i].path) == n && memcmp(lx_ui_assets[i].path, path, n) == 0)
            return &lx_ui_assets[i];
    return NULL;
}

static void security_headers(lx_req_t *req)
{
    lx_req_set_header(req, "Content-Security-Policy", csp);
    lx_req_set_header(req, "X-Frame-Options", "DENY");
    lx_req_set_header(req, "X-Content-Type-Options", "nosniff");
    lx_req_set_header(req, "Referrer-Policy", "no-referrer");
}

/* Whether an If-None-Match list names etag (or is "*"). */
static bool etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL)
        return false;
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (p[0] == 'W' && p[1] == '/') /* a weak comparison is fine for GET */
            p += 2;
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if ((len == 1 && p[0] == '*') || (len == n && memcmp(p, etag, n) == 0))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static void serve(lx_req_t *req, const lx_asset_t *a, bool shell)
{
    lx_req_set_header(req, "ETag", a->etag);
    /* the shell is revalidated each time (it names the assets); assets are
     * revalidated too but may be reused for a minute without asking */
    lx_req_set_header(req, "Cache-Control", shell ? "no-cache" : "public, max-age=60");
    if (etag_matches(lx_req_header(req, "If-None-Match"), a->etag)) {
        lx_req_reply(req, 304, a->ctype, NULL, 0);
        return;
    }
    lx_req_reply(req, 200, a->ctype, (const char *)a->bytes, a->len);
}

int lx_admin_ui_handler(lx_req_t *req, void *arg)
{
    (void)arg;
    lx_str_t path = lx_req_path(req);
    const size_t pre = sizeof UI_PREFIX - 1;
    if (path.n > pre && path.p[pre] != '/') { /* "/administrator" */
        lx_req_reply_error(req, LX_E_NOT_FOUND, NULL, NULL);
        return LX_OK;
    }
    security_headers(req);
    lx_str_t m = lx_req_method(req);
    if (!lx_str_eq_cstr(m, "GET") && !lx_str_eq_cstr(m, "HEAD")) {
        lx_req_set_header(req, "Allow", "GET, HEAD");
        lx_req_reply_error(req, LX_E_METHOD_NOT_ALLOWED, NULL, NULL);
        return LX_OK;
    }
    const lx_asset_t *a = NULL;
    if (path.n > pre + 1)
        a = lx_ui_asset(path.p + pre + 1, path.n - pre - 1);
    if (a != NULL) {
        serve(req, a, strcmp(a->path, "index.html") == 0);
        return LX_OK;
    }
    const lx_asset_t *shell = lx_ui_asset("index.html", 10);
    if (shell == NULL) {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "the admin UI is not built in", NULL);
        return LX_OK;
    }
    serve(req, shell, true);
    return LX_OK;
}
