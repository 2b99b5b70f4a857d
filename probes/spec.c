/* STUB: replaced by the real probe spec parser. */
#include "probes/spec.h"

#include <errno.h>

int probe_spec_parse(struct probe_config *cfg, const char *name, const char *spec,
		     struct wd_err *err)
{
	(void)cfg;
	(void)name;
	(void)spec;
	return wd_err_set(err, -ENOSYS, "not implemented");
}
