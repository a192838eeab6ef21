/* ui.h - GET /admin: the admin web UI, served from the files under
 * web/admin/ embedded at build time (scripts/embed_dir.py).
 *
 * The asset table is static data for the life of the process; the handler
 * keeps no state and may run on any worker. */
#ifndef LX_ADMIN_UI_H
#define LX_ADMIN_UI_H

#include "http/request.h"

#include <stddef.h>

typedef struct {
    const char *path;  /* relative to web/admin/: "index.html", "js/app.js" */
    const char *ctype; /* Content-Type */
    const unsigned char *bytes;
    size_t len;
    const char *etag; /* a quoted strong validator of the bytes */
} lx_asset_t;

extern const lx_asset_t lx_ui_assets[];
extern const size_t lx_ui_nassets;

/* The asset at path (relative, no leading slash); NULL if none. */
const lx_asset_t *lx_ui_asset(const char *path, size_t n);

/* Prefix route for /admin: "/admin" and every path under "/admin/" that is
 * not an asset answer index.html (the UI routes on the client); assets
 * answer themselves with their Content-Type, ETag (304 for a matching
 * If-None-Match) and Cache-Control. GET and HEAD only (405 otherwise);
 * every reply carries the security headers (CSP without inline scripts or
 * styles, X-Frame-Options DENY, nosniff, no referrer). Other paths that
 * merely start with "/admin" ("/administrator") are 404. */
int lx_admin_ui_handler(lx_req_t *req, void *arg);

#endif
