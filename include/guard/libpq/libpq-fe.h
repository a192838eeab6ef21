/* libpq-fe.h - build guard (include/guard/README.md): <libpq-fe.h> belongs to
 * src/db only. This directory is on the include path of the other modules,
 * ahead of the system's, so including <libpq-fe.h> there fails to compile. */
#error "<libpq-fe.h> belongs to src/db: use that module's own headers"
