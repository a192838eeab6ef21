/* evhtp.h - build guard (include/guard/README.md): <evhtp/evhtp.h> belongs to
 * src/http only. This directory is on the include path of the other modules,
 * ahead of the system's, so including <evhtp/evhtp.h> there fails to compile. */
#error "<evhtp/evhtp.h> belongs to src/http: use that module's own headers"
