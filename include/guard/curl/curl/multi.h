/* multi.h - build guard (include/guard/README.md): <curl/multi.h> belongs to
 * src/upstream only. This directory is on the include path of the other modules,
 * ahead of the system's, so including <curl/multi.h> there fails to compile. */
#error "<curl/multi.h> belongs to src/upstream: use that module's own headers"
