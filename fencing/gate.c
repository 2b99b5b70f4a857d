/* STUB: replaced by the real gate supervisor. */
#include "fencing/gate.h"

#include <errno.h>
#include <stdio.h>

int gate_parse_args(int argc, char **argv, struct gate_options *out, struct wd_err *err)
{
	(void)argc;
	(void)argv;
	(void)out;
	return wd_err_set(err, -ENOSYS, "gate is not implemented yet");
}

int gate_run(const struct gate_options *opts)
{
	(void)opts;
	fprintf(stderr, "warden gate: not implemented yet\n");
	return 1;
}
