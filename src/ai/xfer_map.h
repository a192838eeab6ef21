/* xfer_map.h - the upstream module's transport outcome (lx_up_outcome_t) as
 * routing's own lx_xfer_t, so that routing (pure policy) includes no
 * transport header. Owns nothing: a pure mapping, safe from any thread. */
#ifndef LX_AI_XFER_MAP_H
#define LX_AI_XFER_MAP_H

#include "ai/routing/failure.h"
#include "upstream/upstream.h"

/* The routing fact for o; LX_XFER_BROKEN for a value out of range. */
lx_xfer_t lx_xfer_from_up(lx_up_outcome_t o);

#endif
