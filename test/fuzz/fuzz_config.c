/* fuzz_config.c - the config loader (src/core/config.c): a JSON config
 * document, applied over the defaults and validated, as `--config FILE`
 * does. An input that starts with "ENV\n" is instead a list of NAME=value
 * lines for the environment layer. */
#include "core/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply_env(const char *p, size_t n, lx_config_t *cfg, char *err, size_t errlen)
{
    char *text = malloc(n + 1);
    memcpy(text, p, n);
    text[n] = '\0';
    char *envp[65];
    int k = 0;
    for (char *line = text; line && k < 64;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (*line)
            envp[k++] = line;
        line = nl ? nl + 1 : NULL;
    }
    envp[k] = NULL;
    if (lx_config_apply_env(cfg, envp, err, errlen) == LX_OK)
        (void)lx_config_validate(cfg, err, errlen);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lx_log_min_level = LX_LOG_FATAL;
    lx_config_t cfg;
    char err[256];
    lx_config_defaults(&cfg);
    if (size >= 4 && memcmp(data, "ENV\n", 4) == 0) {
        apply_env((const char *)data + 4, size - 4, &cfg, err, sizeof err);
    } else if (lx_config_apply_json(&cfg, (const char *)data, size, err, sizeof err) == LX_OK) {
        (void)lx_config_validate(&cfg, err, sizeof err);
        for (int i = 0; i < cfg.nproviders; i++)
            (void)lx_config_provider(&cfg, lx_str(cfg.providers[i].name));
    }
    if (strnlen(err, sizeof err) == sizeof err)
        abort(); /* messages are always terminated */
    lx_config_free(&cfg);
    return 0;
}
