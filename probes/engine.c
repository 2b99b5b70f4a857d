/* STUB: the engine comes next. */
#include "probes/engine.h"

#include <errno.h>
#include <stdlib.h>

struct probe_engine {
	int unused;
};

struct probe_engine *probe_engine_new(const struct wd_config *cfg, struct wd_state *state,
				      struct wd_err *err)
{
	(void)cfg;
	(void)state;
	(void)err;
	return calloc(1, sizeof(struct probe_engine));
}

int probe_engine_start(struct probe_engine *engine)
{
	(void)engine;
	return 0;
}

void probe_engine_stop(struct probe_engine *engine)
{
	(void)engine;
}

void probe_engine_free(struct probe_engine *engine)
{
	free(engine);
}
