/* migrate.h - applies pending migrations. Start-up only: it blocks. Owns
 * nothing past the call: its connection is opened and closed inside. */
#ifndef LX_DB_MIGRATE_H
#define LX_DB_MIGRATE_H

#include <stddef.h>

/* Connects to url, applies every migration not yet recorded in
 * schema_migrations (each in its own transaction, in name order, under an
 * advisory lock so instances starting together do not race). Returns the
 * number applied, or -1 with a message (never containing the URL) in err. */
int lx_db_migrate(const char *url, char *err, size_t errlen);

#endif
