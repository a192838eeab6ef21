/* migrations.h - the SQL migrations embedded at build time from sql/:
 * static data, read-only for the life of the process (owns nothing). */
#ifndef LX_DB_MIGRATIONS_H
#define LX_DB_MIGRATIONS_H

typedef struct {
    const char *name; /* "001_core" */
    const char *sql;
} lx_migration_t;

extern const lx_migration_t lx_migrations[];
extern const int lx_migrations_count;

#endif
