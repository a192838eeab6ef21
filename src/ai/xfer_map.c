/* xfer_map.c - lx_up_outcome_t to routing's lx_xfer_t. */
#include "ai/xfer_map.h"

lx_xfer_t lx_xfer_from_up(lx_up_outcome_t o)
{
    switch (o) {
    case LX_UP_OK:
        return LX_XFER_OK;
    case LX_UP_CONNECT_FAILED:
        return LX_XFER_CONNECT_FAILED;
    case LX_UP_TIMEOUT_CONNECT:
        return LX_XFER_TIMEOUT_CONNECT;
    case LX_UP_TIMEOUT_FIRST_BYTE:
        return LX_XFER_TIMEOUT_FIRST_BYTE;
    case LX_UP_TIMEOUT_IDLE:
        return LX_XFER_TIMEOUT_IDLE;
    case LX_UP_TIMEOUT_TOTAL:
        return LX_XFER_TIMEOUT_TOTAL;
    case LX_UP_BROKEN:
        return LX_XFER_BROKEN;
    case LX_UP_ABORTED:
        return LX_XFER_ABORTED;
    case LX_UP_REFUSED:
        return LX_XFER_REFUSED;
    case LX_UP_TLS_VERIFY:
        return LX_XFER_TLS_VERIFY;
    case LX_UP__COUNT:
        break;
    }
    return LX_XFER_BROKEN;
}
