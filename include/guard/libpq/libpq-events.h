/* libpq-events.h - build guard (include/guard/README.md): <libpq-events.h> belongs to
 * src/db only. This directory is on the include path of the other modules,
 * ahead of the system's, so including <libpq-events.h> there fails to compile. */
#error "<libpq-events.h> belongs to src/db: use that module's own headers"
