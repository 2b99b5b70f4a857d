/*
 * flag_cmd.h - `warden flag get` and `warden flag set REGION [--reason TEXT]
 * [--epoch N] [--wait] [--verify]`: the orchestrator's half of the flag (DESIGN.md),
 * with the config and credentials chain of `serve`. The work is
 * fencing/flag_write.c; this is the command line around it: arguments, one
 * JSON object on stdout, progress lines on stderr, exit codes.
 *
 * Exit codes: 0 when a quorum agrees (get) or confirmed the new epoch (set);
 * 1 when it does not (set: the write may be partial, run it again); 2 for a
 * usage or config error, and for set without a quorum of valid reads and no
 * --epoch.
 */
#ifndef WARDEN_AGENT_FLAG_CMD_H
#define WARDEN_AGENT_FLAG_CMD_H

#include "agent/config.h"

#define FLAG_CMD_CONFIRM_TIMEOUTS 5 /* the read-back may take 5 x WARDEN_FLAG_TIMEOUT */
/* --verify: time for the window's last heartbeats to be delivered */
#define FLAG_CMD_VERIFY_SLACK_MS   2000
#define FLAG_CMD_VERIFY_TIMEOUT_MS 10000 /* --verify: the GetMetricData call's deadline */

/*
 * Run `warden flag ...`: argv[0] is "flag". cfg is the loaded config
 * (borrowed), envp the environment for the AWS settings. Returns the exit
 * code. Blocks: up to 2 x WARDEN_FLAG_TIMEOUT + the read-back, plus
 * worst_case with --wait; --verify then waits one heartbeat period more
 * and asks CloudWatch (bounded by FLAG_CMD_VERIFY_TIMEOUT_MS); its result
 * never changes the exit code.
 */
int flag_cmd_run(int argc, char **argv, const struct wd_config *cfg, char *const *envp);

#endif
