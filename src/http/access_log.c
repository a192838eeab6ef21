/* access_log.c - one JSON line per finished request. Never a secret: the key
 * is identified by its id, not its value. */
#include "http/internal.h"
#include "core/clock.h"
#include "core/log.h"

void lx_access_log(lx_req_t *req)
{
    const lx_http_server_t *srv = req->conn->srv;
    if (!srv->cfg->access_log || lx_log_min_level > LX_LOG_INFO)
        return;
    lx_buf_t *b = lx_log_line_begin(); /* the logger's own buffer: no copy */
    char ts[32];
    size_t tsn = lx_log_timestamp(ts);
    lx_str_t method = req->r ? lx_req_method(req) : LX_STR("-");
    lx_str_t path = req->r ? lx_req_path(req) : LX_STR("-");
    lx_buf_append_lit(b, "{\"ts\":\"");
    lx_buf_append(b, ts, tsn);
    lx_buf_append_lit(b, "\",\"level\":\"info\",\"msg\":\"access\",\"method\":");
    lx_buf_append_json_str(b, method.p, method.n);
    lx_buf_append_lit(b, ",\"path\":");
    lx_buf_append_json_str(b, path.p, LX_MIN(path.n, 512));
    lx_buf_append_lit(b, ",\"status\":");
    lx_buf_append_uint(b, (uint64_t)req->status);
    lx_buf_append_lit(b, ",\"bytes\":");
    lx_buf_append_uint(b, req->bytes_out);
    lx_buf_append_lit(b, ",\"duration_us\":");
    int64_t us = lx_now_us() - req->t_start_us;
    lx_buf_append_uint(b, (uint64_t)(us > 0 ? us : 0));
    lx_buf_append_lit(b, ",\"request_id\":\"");
    lx_buf_append_cstr(b, req->id);
    lx_buf_append_lit(b, "\",\"worker\":");
    lx_buf_append_uint(b, (uint64_t)srv->worker_id);
    if (req->key_id[0]) {
        lx_buf_append_lit(b, ",\"key_id\":");
        lx_buf_append_json_str(b, req->key_id, strlen(req->key_id));
    }
    lx_buf_append_char(b, '}');
    lx_log_line_end(LX_LOG_INFO);
}
