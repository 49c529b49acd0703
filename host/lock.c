#include "lock.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int held;
static __thread int worker;
static atomic_int several; /* a worker other than 0 exists */

int lock_worker(void)
{
	return worker;
}

void lock_set_worker(int index)
{
	worker = index;
	if (index > 0)
		atomic_store(&several, 1);
}

int lock_shared(void)
{
	return atomic_load(&several);
}

int lock_enter(void)
{
	if (held)
		return 0;
	pthread_mutex_lock(&host_lock);
	held = 1;
	return 1;
}

void lock_leave(int took)
{
	if (took) {
		held = 0;
		pthread_mutex_unlock(&host_lock);
	}
}

int lock_pause(void)
{
	int was = held;
	if (was) {
		held = 0;
		pthread_mutex_unlock(&host_lock);
	}
	return was;
}

void lock_resume(int was_held)
{
	if (was_held && !held) {
		pthread_mutex_lock(&host_lock);
		held = 1;
	}
}

int lock_held(void)
{
	return held;
}
