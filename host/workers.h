/* Workers: several threads serving requests at once (workers.c). */
#ifndef MOONFS_WORKERS_H
#define MOONFS_WORKERS_H

#include <fuse_lowlevel.h>

#include "bridge.h"

/* How many workers to run: -o workers=N (`asked`, 0 when not given), else
 * the script's `workers` key (bridge_script_workers), else one. A script
 * that says nothing gets one, with a warning when more were asked for. */
int workers_count_for(int asked, int script_says, const char *script_name);

/* Starts workers 1 to count-1, each loading the script in a state of its
 * own and serving `se`; the calling thread is worker 0. Returns once each
 * has loaded the script (or failed to). */
int workers_start(int count, struct fuse_session *se, unsigned spin_us,
		  const struct bridge_settings *settings, const char *script_path,
		  const char *start_dir);

/* After serving ended: waits for the workers to finish. */
void workers_join(void);

int workers_count(void);

#endif
