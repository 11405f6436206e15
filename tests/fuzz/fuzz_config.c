/* Fuzz target: the configuration reader. Any text either loads into values
 * within their bounds or is refused with a message naming a line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct eng_config c;
	char err[512] = "";
	int rc = eng_config_load_string(&c, text, "fuzz.ini", err, sizeof err);
	if (rc == 0) {
		if (c.smpp.port < 1 || c.smpp.port > 65535 || c.smpp.sessions < 1 ||
		    c.smpp.window < 1 || c.service.daily_allowance < 0 ||
		    strlen(c.smpp.password) > 8 || strlen(c.smpp.system_id) > 15 ||
		    strlen(c.service.short_code) == 0)
			abort();
	} else if (strncmp(err, "fuzz.ini", 8) != 0) {
		abort(); /* every refusal names the file */
	}
	free(text);
	return 0;
}
