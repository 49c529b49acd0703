#include "mailbox.h"

#include <pthread.h>
#include <stdlib.h>

struct letter {
	void (*run)(void *arg);
	void *arg;
	struct letter *next;
};

static struct box {
	pthread_mutex_t lock;
	uv_async_t *wake;
	struct letter *first, *last;
} boxes[MAILBOX_WORKERS] = { [0 ... MAILBOX_WORKERS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER } };

void mailbox_open(int worker, uv_async_t *wake)
{
	struct box *b = &boxes[worker];
	pthread_mutex_lock(&b->lock);
	b->wake = wake;
	pthread_mutex_unlock(&b->lock);
}

int mailbox_is_open(int worker)
{
	struct box *b = &boxes[worker];
	pthread_mutex_lock(&b->lock);
	int open = b->wake != NULL;
	pthread_mutex_unlock(&b->lock);
	return open;
}

void mailbox_close(int worker)
{
	struct box *b = &boxes[worker];
	pthread_mutex_lock(&b->lock);
	b->wake = NULL;
	struct letter *l = b->first;
	b->first = b->last = NULL;
	pthread_mutex_unlock(&b->lock);
	while (l) {
		struct letter *next = l->next;
		free(l);
		l = next;
	}
}

int mailbox_post(int worker, void (*run)(void *arg), void *arg)
{
	if (worker < 0 || worker >= MAILBOX_WORKERS)
		return -1;
	struct box *b = &boxes[worker];
	struct letter *l = malloc(sizeof *l);
	if (!l)
		return -1;
	l->run = run;
	l->arg = arg;
	l->next = NULL;
	pthread_mutex_lock(&b->lock);
	if (!b->wake) {
		pthread_mutex_unlock(&b->lock);
		free(l);
		return -1;
	}
	if (b->last)
		b->last->next = l;
	else
		b->first = l;
	b->last = l;
	uv_async_send(b->wake); /* under the lock: the handle cannot close meanwhile */
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void mailbox_deliver(int worker)
{
	struct box *b = &boxes[worker];
	pthread_mutex_lock(&b->lock);
	struct letter *l = b->first;
	b->first = b->last = NULL;
	pthread_mutex_unlock(&b->lock);
	while (l) {
		struct letter *next = l->next;
		l->run(l->arg);
		free(l);
		l = next;
	}
}
