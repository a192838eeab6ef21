/* conninfo.h - the database URL (a libpq conninfo: postgresql://... or
 * key=value) checked at start-up, and its password kept out of every
 * message llmux prints.
 *
 * libpq's messages may quote the piece of a conninfo it could not parse
 * (the password, or the whole URL with it): nothing from libpq is printed
 * without going through lx_conninfo_scrub. Owns nothing; every function
 * reads its arguments and writes only the caller's buffer. */
#ifndef LX_DB_CONNINFO_H
#define LX_DB_CONNINFO_H

#include <stddef.h>

/* LX_OK if libpq parses conninfo (PQconninfoParse: no connection is made),
 * else LX_ERROR with "database_url: <libpq's reason, scrubbed>" in err. */
int lx_conninfo_check(const char *conninfo, char *err, size_t errlen);

/* msg (a libpq message about conninfo) into out[0..outlen) with every
 * appearance of the password that conninfo carries (as a URL's user
 * information, a password= parameter or a key=value pair; raw and
 * percent-decoded) replaced by "***". When conninfo does not parse and may
 * hold a password, the pieces libpq quotes ("...", longer than one
 * character) are replaced as well: what libpq choked on may be a piece of
 * a password it split differently.
 * msg may be NULL (read as ""). out is always terminated. Returns out. */
char *lx_conninfo_scrub(const char *conninfo, const char *msg, char *out, size_t outlen);

/* The connect deadline in ms: libpq's connect_timeout (seconds, at least
 * 2) when conninfo has one, else default_ms; -1 when it does not parse. */
int lx_conninfo_connect_timeout_ms(const char *conninfo, int default_ms);

#endif
