/* jpath.h - JSON field paths of the generic job adapter: "data.id",
 * "output.0.url" (dot-separated object keys; an all-digit segment also
 * indexes an array).
 *
 * Pure and owns nothing: a found value is borrowed from the document it
 * was found in and lives as long as that document. */
#ifndef LX_MEDIA_JPATH_H
#define LX_MEDIA_JPATH_H

#include <jansson.h>

#define LX_JPATH_MAX_LEN      256
#define LX_JPATH_MAX_SEGMENTS 16

/* NULL when path is a usable path, else why not (static text that reads
 * after the setting's name: "must not be empty", ...). A segment is 1..64
 * bytes of A-Z a-z 0-9 _ - $ @ (no dots, blanks or quotes). */
const char *lx_jpath_problem(const char *path);

/* The value at path in doc (borrowed), or NULL when any step is missing or
 * path is not valid. */
json_t *lx_jpath_get(const json_t *doc, const char *path);

#endif
