/* config_usage.c - the --help text (commands and flags; every setting is
 * in README.md "Configuration"). */
#include "core/config.h"

#include <stdio.h>

void lx_config_usage(FILE *out)
{
    fprintf(out,
            "usage: llmux [COMMAND] [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  serve           run the gateway (default)\n"
            "  check-config    validate the configuration and exit\n"
            "  migrate         apply pending database migrations and exit\n"
            "  rotate-master-key  re-encrypt stored credentials and provider headers: from\n"
            "                  LLMUX_MASTER_KEY_OLD to LLMUX_MASTER_KEY (run it with both set)\n"
            "\n"
            "options:\n"
            "  --config FILE        JSON config file (environment overrides it, flags override "
            "both)\n"
            "  --listen HOST:PORT   address to serve on (LLMUX_LISTEN, default 127.0.0.1:8080)\n"
            "  --workers N          event-loop threads (LLMUX_WORKERS, default: online CPUs)\n"
            "  --database-url URL   Postgres connection string (LLMUX_DATABASE_URL)\n"
            "  --log-level LEVEL    debug, info, warn or error (LLMUX_LOG_LEVEL)\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "secrets come only from the environment or the config file: LLMUX_ADMIN_KEY,\n"
            "LLMUX_MASTER_KEY, OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY,\n"
            "OPENROUTER_API_KEY. See README.md for every setting.\n");
}
