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
    lx_buf_t b;
    lx_buf_init(&b, 384);
    char ts[32];
    lx_log_timestamp(ts);
    lx_str_t method = req->r ? lx_req_method(req) : LX_STR("-");
    lx_str_t path = req->r ? lx_req_path(req) : LX_STR("-");
    lx_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"access\",\"method\":", ts);
    lx_buf_append_json_str(&b, method.p, method.n);
    lx_buf_append_cstr(&b, ",\"path\":");
    lx_buf_append_json_str(&b, path.p, LX_MIN(path.n, 512));
    lx_buf_printf(&b,
                  ",\"status\":%d,\"bytes\":%zu,\"duration_us\":%lld,\"request_id\":\"%s\","
                  "\"worker\":%d",
                  req->status, req->bytes_out, (long long)(lx_now_us() - req->t_start_us), req->id,
                  srv->worker_id);
    if (req->key_id[0])
        lx_buf_printf(&b, ",\"key_id\":\"%s\"", req->key_id);
    lx_buf_append_char(&b, '}');
    lx_log_raw_line(b.p, b.n);
    lx_buf_free(&b);
}
